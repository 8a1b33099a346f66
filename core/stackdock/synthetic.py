"""A made-up but realistic org of any size, for benchmarks and size-bound tests.

The same `n_resources` and `seed` give the same rows (times are relative to `now`). Resources
are spread over the resource tables in proportions like a real StackDock org's, with a few
percent of them in trouble, and some provider payloads carrying fake credentials so that
redaction is exercised at scale too. Every org carries at least eight problems (see
`_plant_trouble`), however small.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

# table -> (share of resources, providers that sync it, statuses with weights)
_MIX: dict[str, tuple[float, tuple[str, ...], dict[str, int]]] = {
    "servers": (
        0.22,
        ("digitalocean", "vultr", "linode", "hetzner", "gridpane", "coolify"),
        {"running": 90, "off": 8, "provisioning": 2},
    ),
    "webServices": (
        0.18,
        ("vercel", "netlify", "cloudflare", "coolify", "gridpane"),
        {"ready": 92, "error": 5, "building": 3},
    ),
    "domains": (0.12, ("cloudflare", "gridpane"), {"active": 100}),
    "databases": (
        0.1,
        ("neon", "turso", "planetscale", "convex", "coolify"),
        {"active": 90, "suspended": 10},
    ),
    "blockVolumes": (0.08, ("digitalocean", "vultr"), {"attached": 80, "available": 20}),
    "buckets": (0.05, ("linode",), {"active": 100}),
    "monitors": (0.1, ("betterstack",), {"up": 95, "down": 2, "paused": 3}),
    "issues": (0.08, ("sentry",), {"unresolved": 80, "resolved": 20}),
    "repositories": (0.05, ("github",), {"active": 95, "archived": 5}),
    "deployments": (0.02, ("convex",), {"active": 100}),
}
_SEVERITIES = {"low": 50, "medium": 35, "high": 10, "critical": 5}
_REGIONS = ("nyc3", "fra1", "ams", "lon1", "sfo3", "sgp1", "us-east", "eu-central")
_FAKE_TOKEN = "sdk_live_FAKE_BENCH_SECRET_0a1b2c3d4e5f"
_DAY_MS = 86_400_000


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _own_fields(table: str, i: int, rng: random.Random, now_ms: int) -> dict[str, Any]:
    name = f"{table.lower()[:6]}-{i:05d}"
    region = rng.choice(_REGIONS)
    if table == "servers":
        ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        return {"name": name, "primaryIpAddress": ip, "region": region}
    if table == "webServices":
        return {
            "name": name,
            "productionUrl": f"https://{name}.example.com",
            "environment": rng.choice(("production", "preview")),
        }
    if table == "domains":
        return {
            "domainName": f"{name}.example",
            "expiresAt": now_ms + rng.randint(-5, 700) * _DAY_MS,
        }
    if table == "databases":
        return {"name": name, "engine": rng.choice(("postgres", "mysql", "libsql"))}
    if table == "blockVolumes":
        return {"name": name, "sizeGb": rng.choice((10, 50, 100, 500)), "region": region}
    if table == "buckets":
        return {"name": name, "region": region, "objectCount": rng.randint(0, 10**6)}
    if table == "monitors":
        return {"name": name, "url": f"https://{name}.example.com/health", "checkFrequency": 60}
    if table == "issues":
        return {
            "title": f"Error {i} in handler",
            "severity": _pick(rng, _SEVERITIES),
            "project": f"project-{i % 20}",
            "count": rng.randint(1, 5000),
        }
    if table == "repositories":
        return {"name": name, "fullName": f"bench/{name}", "private": rng.random() < 0.8}
    return {"name": name, "deploymentType": rng.choice(("prod", "dev", "preview"))}


def _plant_trouble(tables: dict[str, list[dict[str, Any]]], now_ms: int) -> None:
    """At least eight problems whatever the size, so a 50-resource org exercises every
    problem path (and a summary's problem list) just as a 10,000-resource one does."""
    tables["docks"][0].update(lastSyncStatus="error", lastSyncError="API rate limit exceeded")
    for monitor in tables.get("monitors", [])[:2]:
        monitor["status"] = "down"
    for issue in tables.get("issues", [])[:2]:
        issue.update(severity="critical", status="unresolved")
    for domain, days in zip(tables.get("domains", []), (-2, 5, 20), strict=False):
        domain["expiresAt"] = now_ms + days * _DAY_MS


def synthetic_org(
    n_resources: int, org_id: str = "org_bench", seed: int = 0, *, now: datetime | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Tables for one org holding `n_resources` resource rows, plus its docks, projects and
    one admin user (`usr_<org_id>_admin`)."""
    rng = random.Random(seed)
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    admin = f"usr_{org_id}_admin"
    role = f"role_{org_id}_admin"
    tables: dict[str, list[dict[str, Any]]] = {
        "organizations": [{"_id": org_id, "name": f"Bench {org_id}", "ownerId": admin}],
        "users": [
            {
                "_id": admin,
                "name": "Bench Admin",
                "email": f"admin@{org_id}.example",
                "clerkId": f"user_{org_id}",
                "defaultOrgId": org_id,
            }
        ],
        "roles": [
            {
                "_id": role,
                "orgId": org_id,
                "name": "Admin",
                "permissions": dict.fromkeys(
                    ("projects", "resources", "docks", "operations", "settings", "ai"), "full"
                ),
            }
        ],
        "memberships": [
            {"_id": f"mem_{org_id}", "orgId": org_id, "userId": admin, "orgRole": role}
        ],
        "docks": [],
    }
    providers = sorted({p for _, provs, _ in _MIX.values() for p in provs})
    for provider in providers:
        tables["docks"].append(
            {
                "_id": f"dock_{org_id}_{provider}",
                "orgId": org_id,
                "name": provider.title(),
                "provider": provider,
                "encryptedApiKey": _FAKE_TOKEN,
                "lastSyncStatus": "error" if rng.random() < 0.1 else "success",
                "lastSyncAt": now_ms - rng.randint(1, 60) * 60_000,
            }
        )
    tables_list = list(_MIX)
    shares = [share for share, _, _ in _MIX.values()]
    for i in range(n_resources):
        table = tables_list[i] if i < len(tables_list) else rng.choices(tables_list, shares)[0]
        _, provs, statuses = _MIX[table]
        provider = rng.choice(provs)
        api: dict[str, Any] = {"id": i, "memory": rng.choice((1024, 2048, 4096, 8192))}
        if i % 97 == 0:
            api["apiToken"] = _FAKE_TOKEN
        tables.setdefault(table, []).append(
            {
                "_id": f"{table[:3]}_{org_id}_{i}",
                "_creationTime": float(now_ms - i * 1000),
                "orgId": org_id,
                "dockId": f"dock_{org_id}_{provider}",
                "provider": provider,
                "providerResourceId": f"{provider}-{i}",
                "status": _pick(rng, statuses),
                **_own_fields(table, i, rng, now_ms),
                "fullApiData": api,
                "updatedAt": now_ms - rng.randint(1, 10_000) * 60_000,
            }
        )
    _plant_trouble(tables, now_ms)
    tables["projects"] = [
        {
            "_id": f"prj_{org_id}_{p}",
            "orgId": org_id,
            "teamId": f"team_{org_id}",
            "name": f"Project {p}",
            "slug": f"project-{p}",
        }
        for p in range(max(1, n_resources // 100))
    ]
    return tables
