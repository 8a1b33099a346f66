"""A made-up but realistic org of any size, for benchmarks and size-bound tests.

The same `n_resources` and `seed` give the same rows (times are relative to `now`). Resources
are spread over the resource tables in proportions like a real StackDock org's, with a few
percent of them in trouble, and some provider payloads carrying fake credentials so that
redaction is exercised at scale too. Rows have the shapes StackDock's adapters write: its
normalised statuses, `better-stack` monitors, Sentry alerts with their level in `fullApiData`,
Cloudflare domains without expiry and GridPane ones with StackDock's guess, repositories without
a status, and backup schedules for GridPane sites. Every org carries at least eight problems
(see `_plant_trouble`), however small.
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
        {"running": 90, "stopped": 8, "pending": 2},
    ),
    "webServices": (
        0.18,
        ("vercel", "netlify", "cloudflare", "coolify", "gridpane"),
        {"running": 92, "error": 5, "pending": 3},
    ),
    "domains": (0.12, ("cloudflare", "gridpane"), {"active": 100}),
    "databases": (
        0.1,
        ("neon", "turso", "planetscale", "convex", "coolify"),
        {"active": 90, "suspended": 10},
    ),
    "blockVolumes": (0.08, ("digitalocean", "vultr"), {"attached": 80, "available": 20}),
    "buckets": (0.05, ("linode",), {"active": 100}),
    "monitors": (0.1, ("better-stack",), {"up": 95, "down": 2, "paused": 3}),
    "issues": (0.08, ("sentry",), {"open": 80, "resolved": 15, "ignored": 5}),
    "repositories": (0.05, ("github",), {"": 100}),  # no status column
    "deployments": (0.02, ("convex",), {"active": 100}),
}
_LEVELS = {"info": 50, "warning": 35, "error": 10, "fatal": 5}  # Sentry's, and StackDock's mapping:
_SEVERITY_OF_LEVEL = {"info": "low", "warning": "medium", "error": "high", "fatal": "critical"}
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
        return {"domainName": f"{name}.example"}  # expiry: see _domain_expiry
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
            "project": f"project-{i % 20}",
            "count": rng.randint(1, 5000),
        }
    if table == "repositories":
        return {"name": name, "fullName": f"bench/{name}", "private": rng.random() < 0.8}
    return {"name": name, "deploymentType": rng.choice(("prod", "dev", "preview"))}


def _provider_shape(
    row: dict[str, Any], table: str, rng: random.Random, now_ms: int
) -> dict[str, Any]:
    """What a provider's adapter adds: Sentry levels, expiry guesses, deploy times."""
    provider = row["provider"]
    api = row["fullApiData"]
    if table == "issues":
        level = _pick(rng, _LEVELS)
        row["severity"] = _SEVERITY_OF_LEVEL[level]
        raw_status = "unresolved" if row["status"] == "open" else row["status"]
        api["issue"] = {"id": str(row["providerResourceId"]), "level": level, "status": raw_status}
        api["project"] = {"slug": row["project"]}
    elif table == "domains" and provider == "gridpane":
        updated = now_ms - rng.randint(1, 500) * _DAY_MS
        api["updated_at"] = datetime.fromtimestamp(updated / 1000, UTC).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        row["expiresAt"] = updated + 365 * _DAY_MS  # StackDock's guess, never a real expiry
    elif table == "webServices" and provider == "vercel":
        created = now_ms - rng.randint(0, 200) * _DAY_MS
        api["targets"] = {"production": {"createdAt": created, "readyState": "READY"}}
    elif table == "webServices" and provider == "netlify":
        published = datetime.fromtimestamp((now_ms - rng.randint(0, 200) * _DAY_MS) / 1000, UTC)
        api["published_deploy"] = {"published_at": published.isoformat().replace("+00:00", "Z")}
    if table == "repositories":
        del row["status"]
    return row


def _backup_schedules(tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """A local and a remote schedule for every GridPane site, all enabled."""
    rows = []
    for site in tables.get("webServices", []):
        if site["provider"] != "gridpane":
            continue
        for kind, time in (("local", "02:00"), ("remote", "03:30")):
            rows.append(
                {
                    "_id": f"bks_{site['_id']}_{kind}",
                    "orgId": site["orgId"],
                    "dockId": site["dockId"],
                    "provider": "gridpane",
                    "providerResourceId": f"{site['providerResourceId']}-{kind}",
                    "siteId": site["providerResourceId"],
                    "siteUrl": site["name"],
                    "type": kind,
                    "frequency": "daily",
                    "time": time,
                    "enabled": True,
                    "remoteBackupsEnabled": True,
                    "fullApiData": {"type": kind},
                }
            )
    return rows


def _plant_trouble(tables: dict[str, list[dict[str, Any]]]) -> None:
    """At least eight problems whatever the size, so a 50-resource org exercises every
    problem path (and a summary's problem list) just as a 10,000-resource one does: a failing
    dock, two monitors down, three serious alerts, and two sites with backups off (or, with
    fewer GridPane sites, one more serious alert for each site missing)."""
    tables["docks"][0].update(lastSyncStatus="error", lastSyncError="API rate limit exceeded")
    tables["docks"][0]["syncConfig"] = {"enabled": True, "consecutiveFailures": 3}
    for monitor in tables.get("monitors", [])[:2]:
        monitor["status"] = "down"
    issues = tables.get("issues", [])
    for issue, level in zip(issues, ("fatal", "fatal", "error"), strict=False):
        issue.update(severity=_SEVERITY_OF_LEVEL[level], status="open")
        issue["fullApiData"]["issue"].update(level=level, status="unresolved")
    sites = list(dict.fromkeys(s["siteId"] for s in tables.get("backupSchedules", [])))[:2]
    for schedule in tables.get("backupSchedules", []):
        if schedule["siteId"] in sites:
            schedule["enabled"] = False
    for issue in issues[3 : 3 + 2 - len(sites)]:
        issue.update(severity="high", status="open")
        issue["fullApiData"]["issue"].update(level="error", status="unresolved")


def synthetic_org(
    n_resources: int, org_id: str = "org_bench", seed: int = 0, *, now: datetime | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Tables for one org holding `n_resources` resource rows, plus its docks, projects, backup
    schedules and one admin user (`usr_<org_id>_admin`)."""
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
        "roles": [  # StackDock's org-creation Admin: no `monitoring`, no `ai` key
            {
                "_id": role,
                "orgId": org_id,
                "name": "Admin",
                "permissions": dict.fromkeys(
                    ("projects", "resources", "docks", "operations", "settings"), "full"
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
                "syncConfig": {"enabled": True, "intervalSeconds": 300, "consecutiveFailures": 0},
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
        row = {
            "_id": f"{table[:3]}_{org_id}_{i}",
            "_creationTime": float(now_ms - i * 1000),
            "orgId": org_id,
            "dockId": f"dock_{org_id}_{provider}",
            "provider": provider,
            "providerResourceId": f"{provider}-{i}",
            "status": _pick(rng, statuses),
            **_own_fields(table, i, rng, now_ms),
            "fullApiData": api,
            "updatedAt": now_ms - rng.randint(1, 5) * 60_000,  # the sync time: minutes ago
        }
        tables.setdefault(table, []).append(_provider_shape(row, table, rng, now_ms))
    tables["backupSchedules"] = _backup_schedules(tables)
    _plant_trouble(tables)
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
