"""Writes the bundled demo snapshot (adapters/stackdock/demo/) in Convex's export layout.

Deterministic: the same script writes the same bytes. Times are written against REFERENCE and
moved to the day the demo runs by adapters.stackdock.demo.load_demo.

    .venv/bin/python scripts/build_demo_snapshot.py [OUTPUT_DIR]
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from a checkout

from adapters.stackdock.demo import (  # noqa: E402
    DEMO_ADMIN_USER_ID,
    DEMO_API_TOKEN,
    DEMO_DB_PASSWORD,
    DEMO_ENCRYPTED_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERS,
)

REFERENCE = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
ACME, GLOBEX = "org_acme", "org_globex"
Tables = dict[str, list[dict[str, Any]]]


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> int:
    """Milliseconds since the epoch, relative to REFERENCE (negative = in the past)."""
    return int((REFERENCE + timedelta(days=days, hours=hours, minutes=minutes)).timestamp() * 1000)


def people(tables: Tables) -> None:
    tables["organizations"] = [
        {"_id": ACME, "_creationTime": float(at(-400)), "name": "Acme Cloud", "ownerId": "usr_ada"},
        {
            "_id": GLOBEX,
            "_creationTime": float(at(-200)),
            "name": "Globex Labs",
            "ownerId": "usr_grace",
        },
    ]
    full = dict.fromkeys(
        ("projects", "resources", "docks", "operations", "settings", "provisioning", "monitoring"),
        "full",
    )
    none5 = dict.fromkeys(("projects", "resources", "docks", "operations", "settings"), "none")
    roles = [
        ("role_acme_admin", ACME, "Admin", {**full, "ai": "full"}),
        (
            "role_acme_developer",
            ACME,
            "Developer",
            {**none5, "projects": "full", "resources": "read", "operations": "read", "ai": "read"},
        ),
        (
            "role_acme_support",
            ACME,
            "Support",
            {
                **none5,
                "projects": "read",
                "resources": "read",
                "docks": "read",
                "operations": "read",
                "monitoring": "read",
                "ai": "read",
            },
        ),
        (
            "role_acme_client",
            ACME,
            "Client",
            {**none5, "projects": "read", "resources": "read", "ai": "read"},
        ),
        # Written before the `ai` area existed: the documented fallback applies.
        (
            "role_acme_contractor",
            ACME,
            "Contractor",
            {**none5, "projects": "read", "resources": "read"},
        ),
        (
            "role_acme_auditor",
            ACME,
            "Auditor",
            {**none5, "projects": "read", "resources": "read", "settings": "read", "ai": "none"},
        ),
        ("role_globex_admin", GLOBEX, "Admin", {**full, "ai": "full"}),
        (
            "role_globex_developer",
            GLOBEX,
            "Developer",
            {**none5, "projects": "full", "resources": "read", "operations": "read", "ai": "read"},
        ),
    ]
    tables["roles"] = [
        {
            "_id": rid,
            "_creationTime": float(at(-190)),
            "orgId": org,
            "name": name,
            "permissions": perms,
        }
        for rid, org, name, perms in roles
    ]
    users = [
        (DEMO_ADMIN_USER_ID, "Ada Lovelace", "admin", ACME, [(ACME, "role_acme_admin")]),
        ("usr_devon", "Devon Park", "developer", ACME, [(ACME, "role_acme_developer")]),
        ("usr_sam", "Sam Rivera", "support", ACME, [(ACME, "role_acme_support")]),
        ("usr_cleo", "Cleo Grant", "client", ACME, [(ACME, "role_acme_client")]),
        ("usr_nico", "Nico Brandt", "no_ai", None, [(ACME, "role_acme_contractor")]),
        ("usr_audrey", "Audrey Fox", "ai_none", ACME, [(ACME, "role_acme_auditor")]),
        ("usr_grace", "Grace Hopper", "globex_admin", GLOBEX, [(GLOBEX, "role_globex_admin")]),
        (
            "usr_max",
            "Max Mustermann",
            "both_orgs",
            GLOBEX,
            [(ACME, "role_acme_developer"), (GLOBEX, "role_globex_developer")],
        ),
    ]
    tables["users"], tables["memberships"] = [], []
    for uid, name, key, default_org, memberships in users:
        user = {
            "_id": uid,
            "_creationTime": float(at(-180)),
            "name": name,
            "email": DEMO_USERS[key],
            "clerkId": "user_demo_" + uid.removeprefix("usr_"),
        }
        if default_org:
            user["defaultOrgId"] = default_org
        tables["users"].append(user)
        for org, role in memberships:
            tables["memberships"].append(
                {
                    "_id": f"mem_{uid.removeprefix('usr_')}_{org.removeprefix('org_')}",
                    "_creationTime": float(at(-170)),
                    "orgId": org,
                    "userId": uid,
                    "orgRole": role,
                }
            )


def docks(tables: Tables) -> None:
    rows = [
        (ACME, "digitalocean", "DigitalOcean production", "success", None),
        (ACME, "linode", "Linode", "success", None),
        (
            ACME,
            "gridpane",
            "GridPane WordPress",
            "error",
            "GridPane API returned 401 Unauthorized: the API token was revoked",
        ),
        (ACME, "vercel", "Vercel team", "success", None),
        (ACME, "cloudflare", "Cloudflare", "success", None),
        (ACME, "neon", "Neon", "success", None),
        (ACME, "convex", "Convex", "syncing", None),
        (ACME, "github", "GitHub acme-cloud", "success", None),
        (ACME, "sentry", "Sentry", "success", None),
        (ACME, "betterstack", "Better Stack", "success", None),
        (GLOBEX, "vultr", "Vultr", "success", None),
        (GLOBEX, "hetzner", "Hetzner Cloud", "success", None),
        (GLOBEX, "netlify", "Netlify", "success", None),
        (GLOBEX, "coolify", "Coolify", "success", None),
        (GLOBEX, "turso", "Turso", "success", None),
        (GLOBEX, "planetscale", "PlanetScale", "pending", None),
        (GLOBEX, "betterstack", "Better Stack", "success", None),
        (GLOBEX, "sentry", "Sentry", "success", None),
        (GLOBEX, "github", "GitHub globex", "success", None),
    ]
    tables["docks"] = []
    for i, (org, provider, name, status, error) in enumerate(rows):
        dock = {
            "_id": f"dock_{org.removeprefix('org_')}_{provider}",
            "_creationTime": float(at(-150 + i)),
            "orgId": org,
            "name": name,
            "provider": provider,
            "encryptedApiKey": DEMO_ENCRYPTED_API_KEY,
            "lastSyncStatus": status,
            "lastSyncAt": at(hours=-30 if status == "error" else 0, minutes=-7 - i),
        }
        if error:
            dock["lastSyncError"] = error
        tables["docks"].append(dock)


def resource(
    table: str,
    org: str,
    provider: str,
    key: str,
    status: str,
    age: int,
    fields: dict[str, Any],
    api: dict[str, Any] | None = None,
) -> tuple[str, dict]:
    short = org.removeprefix("org_")
    return table, {
        "_id": f"{table[:3]}_{short}_{key}",
        "_creationTime": float(at(-age)),
        "orgId": org,
        "dockId": f"dock_{short}_{provider}",
        "provider": provider,
        "providerResourceId": f"{provider}-{key}",
        "status": status,
        **fields,
        "fullApiData": api or {"id": f"{provider}-{key}"},
        "updatedAt": at(hours=-(age % 23) - 1),
    }


def droplet(mem: int, cpus: int, disk: int, ip: str, **extra: Any) -> dict[str, Any]:
    return {
        "memory": mem,
        "vcpus": cpus,
        "disk": disk,
        "image": {"slug": "ubuntu-22-04-x64"},
        "networks": {"v4": [{"ip_address": ip, "type": "public"}]},
        **extra,
    }


def acme_resources() -> list[tuple[str, dict]]:
    o = ACME
    s = "servers"
    return [
        resource(
            s,
            o,
            "digitalocean",
            "web1",
            "running",
            300,
            {
                "name": "acme-web-1",
                "primaryIpAddress": "203.0.113.10",
                "region": "nyc3",
                "provisioningSource": "api",
                "provisionedAt": at(-300),
            },
            droplet(4096, 2, 80, "203.0.113.10", apiToken=DEMO_API_TOKEN),
        ),
        resource(
            s,
            o,
            "digitalocean",
            "web2",
            "running",
            280,
            {
                "name": "acme-web-2",
                "primaryIpAddress": "203.0.113.11",
                "region": "nyc3",
                "provisioningSource": "sst",
            },
            droplet(4096, 2, 80, "203.0.113.11"),
        ),
        resource(
            s,
            o,
            "digitalocean",
            "worker1",
            "running",
            200,
            {
                "name": "acme-worker-1",
                "primaryIpAddress": "203.0.113.20",
                "region": "fra1",
                "provisioningSource": "manual",
            },
            droplet(8192, 4, 160, "203.0.113.20"),
        ),
        resource(
            s,
            o,
            "digitalocean",
            "staging",
            "off",
            120,
            {"name": "acme-staging", "primaryIpAddress": "203.0.113.30", "region": "nyc3"},
            droplet(2048, 1, 50, "203.0.113.30"),
        ),
        resource(
            s,
            o,
            "linode",
            "dbproxy",
            "running",
            260,
            {"name": "acme-db-proxy", "primaryIpAddress": "198.51.100.7", "region": "us-east"},
            {"specs": {"memory": 2048, "vcpus": 1, "disk": 51200}, "type": "g6-standard-1"},
        ),
        resource(
            s,
            o,
            "linode",
            "vpn",
            "running",
            240,
            {"name": "acme-vpn", "primaryIpAddress": "198.51.100.8", "region": "eu-west"},
            {"specs": {"memory": 1024, "vcpus": 1}, "type": "g6-nanode-1"},
        ),
        resource(
            s,
            o,
            "gridpane",
            "wp1",
            "running",
            365,
            {"name": "wp-acme-marketing", "primaryIpAddress": "192.0.2.44", "region": "lon1"},
            {"php_version": "8.2", "webserver": "nginx", "os": "Ubuntu 22.04"},
        ),
        resource(
            s,
            o,
            "gridpane",
            "wp2",
            "running",
            330,
            {"name": "wp-acme-blog", "primaryIpAddress": "192.0.2.45", "region": "lon1"},
        ),
        resource(
            "webServices",
            o,
            "vercel",
            "dashboard",
            "ready",
            250,
            {
                "name": "acme-dashboard",
                "productionUrl": "https://dashboard.acme.example",
                "environment": "production",
                "gitRepo": "acme-cloud/dashboard",
            },
            {
                "framework": "nextjs",
                "nodeVersion": "20.x",
                "latestDeployment": {"readyState": "READY", "target": "production"},
            },
        ),
        resource(
            "webServices",
            o,
            "vercel",
            "docs",
            "ready",
            240,
            {
                "name": "acme-docs",
                "productionUrl": "https://docs.acme.example",
                "environment": "production",
                "gitRepo": "acme-cloud/docs",
            },
        ),
        resource(
            "webServices",
            o,
            "vercel",
            "landing",
            "ready",
            230,
            {
                "name": "acme-landing",
                "productionUrl": "https://acme.example",
                "environment": "production",
                "gitRepo": "acme-cloud/website",
            },
        ),
        resource(
            "webServices",
            o,
            "vercel",
            "gateway",
            "error",
            90,
            {
                "name": "acme-api-gateway",
                "productionUrl": "https://api.acme.example",
                "environment": "production",
                "gitRepo": "acme-cloud/api",
            },
            {
                "framework": "hono",
                "env": {"auth": {"password": DEMO_PASSWORD}},
                "latestDeployment": {"readyState": "ERROR", "errorCode": "BUILD_FAILED"},
            },
        ),
        resource(
            "webServices",
            o,
            "cloudflare",
            "status",
            "ready",
            210,
            {
                "name": "acme-status-page",
                "productionUrl": "https://status.acme.example",
                "environment": "production",
            },
        ),
        resource(
            "webServices",
            o,
            "gridpane",
            "site",
            "ready",
            360,
            {
                "name": "acme.example WordPress",
                "productionUrl": "https://www.acme.example",
                "environment": "production",
            },
        ),
        resource(
            "domains",
            o,
            "cloudflare",
            "main",
            "active",
            400,
            {"domainName": "acme.example", "expiresAt": at(200)},
        ),
        resource(
            "domains",
            o,
            "cloudflare",
            "dev",
            "active",
            380,
            {"domainName": "acme.dev", "expiresAt": at(12)},
            {"autoRenew": False},
        ),
        resource(
            "domains",
            o,
            "cloudflare",
            "status",
            "active",
            210,
            {"domainName": "acme-status.example", "expiresAt": at(400)},
        ),
        resource(
            "domains",
            o,
            "cloudflare",
            "io",
            "active",
            300,
            {"domainName": "acmecloud.io", "expiresAt": at(45)},
        ),
        resource(
            "domains",
            o,
            "gridpane",
            "blog",
            "active",
            330,
            {"domainName": "acme-blog.example", "expiresAt": at(90)},
        ),
        resource(
            "databases",
            o,
            "neon",
            "prod",
            "active",
            250,
            {"name": "acme-prod-db", "engine": "postgres", "version": "16"},
            {
                "region": "aws-eu-central-1",
                "storageGb": 42,
                "computeUnits": 2,
                "psqlCommand": f"psql postgresql://app:{DEMO_DB_PASSWORD}@ep-misty-sun.neon.tech/app",
            },
        ),
        resource(
            "databases",
            o,
            "neon",
            "staging",
            "active",
            200,
            {"name": "acme-staging-db", "engine": "postgres", "version": "16"},
            {"region": "aws-eu-central-1", "storageGb": 3},
        ),
        resource(
            "databases",
            o,
            "neon",
            "analytics",
            "suspended",
            150,
            {"name": "acme-analytics", "engine": "postgres", "version": "15"},
        ),
        resource(
            "databases",
            o,
            "convex",
            "realtime",
            "active",
            140,
            {"name": "acme-realtime", "engine": "convex"},
        ),
        resource(
            "blockVolumes",
            o,
            "digitalocean",
            "data",
            "attached",
            290,
            {
                "name": "acme-data-vol",
                "sizeGb": 100,
                "region": "nyc3",
                "attachedToInstance": "ser_acme_web1",
                "attachedToInstanceLabel": "acme-web-1",
            },
        ),
        resource(
            "blockVolumes",
            o,
            "digitalocean",
            "backups",
            "attached",
            280,
            {
                "name": "acme-backups",
                "sizeGb": 250,
                "region": "fra1",
                "attachedToInstance": "ser_acme_worker1",
                "attachedToInstanceLabel": "acme-worker-1",
            },
        ),
        resource(
            "blockVolumes",
            o,
            "digitalocean",
            "scratch",
            "available",
            60,
            {"name": "acme-scratch", "sizeGb": 50, "region": "nyc3"},
        ),
        resource(
            "buckets",
            o,
            "linode",
            "assets",
            "active",
            260,
            {
                "name": "acme-assets",
                "region": "us-east-1",
                "hostname": "acme-assets.us-east-1.linodeobjects.com",
                "s3Endpoint": "https://us-east-1.linodeobjects.com",
                "sizeBytes": 7_340_032_000,
                "objectCount": 18234,
            },
        ),
        resource(
            "buckets",
            o,
            "linode",
            "logs",
            "active",
            200,
            {
                "name": "acme-logs",
                "region": "eu-central-1",
                "sizeBytes": 120_000_000_000,
                "objectCount": 981_220,
            },
        ),
        *[
            resource(
                "monitors",
                o,
                "betterstack",
                key,
                status,
                200,
                {
                    "name": name,
                    "url": url,
                    "monitorType": "status",
                    "lastCheckedAt": at(minutes=-2),
                    "checkFrequency": 180,
                },
            )
            for key, name, url, status in [
                ("api", "Acme API health", "https://api.acme.example/health", "up"),
                ("dash", "Dashboard", "https://dashboard.acme.example", "up"),
                ("statuspage", "Status page", "https://status.acme.example", "up"),
                ("checkout", "Checkout", "https://acme.example/checkout", "down"),
                ("ftp", "Legacy FTP", "ftp://files.acme.example", "paused"),
            ]
        ],
        *[
            resource(
                "issues",
                o,
                "sentry",
                key,
                status,
                30,
                {
                    "title": title,
                    "severity": sev,
                    "project": project,
                    "count": count,
                    "userCount": users,
                    "firstSeen": at(-first),
                    "lastSeen": at(hours=-last),
                },
            )
            for key, title, sev, project, count, users, first, last, status in [
                (
                    "i1",
                    "TypeError: Cannot read properties of undefined (reading 'id')",
                    "critical",
                    "acme-dashboard",
                    412,
                    87,
                    3,
                    1,
                    "unresolved",
                ),
                (
                    "i2",
                    "Database connection pool exhausted",
                    "high",
                    "acme-api",
                    57,
                    12,
                    6,
                    5,
                    "unresolved",
                ),
                ("i3", "Slow query on /reports", "medium", "acme-api", 230, 4, 20, 2, "unresolved"),
                (
                    "i4",
                    "Deprecated API usage: v1 billing endpoint",
                    "low",
                    "acme-api",
                    18,
                    2,
                    40,
                    50,
                    "unresolved",
                ),
                (
                    "i5",
                    "ResizeObserver loop limit exceeded",
                    "low",
                    "acme-dashboard",
                    1903,
                    311,
                    60,
                    1,
                    "unresolved",
                ),
                (
                    "i6",
                    "Payment webhook signature mismatch",
                    "high",
                    "acme-api",
                    9,
                    3,
                    15,
                    200,
                    "resolved",
                ),
            ]
        ],
        *[
            resource(
                "repositories",
                o,
                "github",
                key,
                "active",
                500,
                {
                    "name": key,
                    "fullName": f"acme-cloud/{key}",
                    "description": desc,
                    "language": lang,
                    "private": private,
                    "url": f"https://github.com/acme-cloud/{key}",
                    "defaultBranch": "main",
                },
                {"stargazers_count": stars, "open_issues_count": issues},
            )
            for key, desc, lang, private, stars, issues in [
                ("dashboard", "Customer dashboard", "TypeScript", True, 0, 14),
                ("api", "Public API", "Go", True, 0, 9),
                ("docs", "Documentation site", "MDX", False, 128, 3),
                ("infra", "Terraform and SST stacks", "HCL", True, 0, 2),
                ("website", "Marketing site", "Astro", True, 0, 1),
            ]
        ],
        *[
            resource(
                "deployments",
                o,
                "convex",
                key,
                "active",
                140,
                {"name": f"acme-realtime-{key}", "deploymentType": kind, "createdAt": at(-days)},
            )
            for key, kind, days in [
                ("prod", "prod", 140),
                ("dev", "dev", 90),
                ("pr42", "preview", 2),
            ]
        ],
    ]


def globex_resources() -> list[tuple[str, dict]]:
    o = GLOBEX
    return [
        resource(
            "servers",
            o,
            "vultr",
            "app1",
            "running",
            150,
            {"name": "globex-app-1", "primaryIpAddress": "45.32.0.10", "region": "ams"},
            {"ram": 4096, "vcpu_count": 2, "os": "Debian 12", "api_key": DEMO_API_TOKEN},
        ),
        resource(
            "servers",
            o,
            "vultr",
            "app2",
            "running",
            150,
            {"name": "globex-app-2", "primaryIpAddress": "45.32.0.11", "region": "ams"},
            {"ram": 4096, "vcpu_count": 2, "os": "Debian 12"},
        ),
        resource(
            "servers",
            o,
            "hetzner",
            "ci",
            "running",
            100,
            {
                "name": "globex-ci",
                "primaryIpAddress": "2a01:4f8:c17:1a2b::1",
                "region": "fsn1",
                "provisioningSource": "manual",
            },
            {"server_type": {"cores": 8, "memory": 16.0, "disk": 240}},
        ),
        resource(
            "webServices",
            o,
            "netlify",
            "site",
            "ready",
            140,
            {
                "name": "globex-site",
                "productionUrl": "https://globex.example",
                "environment": "production",
                "gitRepo": "globex/site",
            },
        ),
        resource(
            "webServices",
            o,
            "netlify",
            "docs",
            "ready",
            120,
            {
                "name": "globex-docs",
                "productionUrl": "https://docs.globex.example",
                "environment": "production",
            },
            {"build_settings": {"cmd": "npm run build", "auth": {"password": DEMO_PASSWORD}}},
        ),
        resource(
            "webServices",
            o,
            "coolify",
            "portal",
            "running",
            90,
            {
                "name": "globex-portal",
                "productionUrl": "https://portal.globex.example",
                "environment": "production",
                "gitRepo": "globex/portal",
            },
        ),
        resource(
            "domains",
            o,
            "cloudflare",
            "main",
            "active",
            190,
            {"domainName": "globex.example", "expiresAt": at(-3)},
        ),
        resource(
            "domains",
            o,
            "cloudflare",
            "io",
            "active",
            190,
            {"domainName": "globexlabs.io", "expiresAt": at(300)},
        ),
        resource(
            "databases",
            o,
            "turso",
            "edge",
            "active",
            120,
            {"name": "globex-edge", "engine": "libsql"},
            {"regions": ["ams", "iad"]},
        ),
        resource(
            "databases",
            o,
            "planetscale",
            "main",
            "active",
            110,
            {"name": "globex-main", "engine": "mysql", "version": "8.0"},
        ),
        resource(
            "databases",
            o,
            "coolify",
            "pg",
            "running",
            90,
            {"name": "globex-postgres", "engine": "postgres", "version": "15"},
        ),
        resource(
            "blockVolumes",
            o,
            "vultr",
            "vol1",
            "attached",
            140,
            {
                "name": "globex-vol-1",
                "sizeGb": 40,
                "region": "ams",
                "attachedToInstance": "ser_globex_app1",
                "attachedToInstanceLabel": "globex-app-1",
            },
        ),
        resource(
            "blockVolumes",
            o,
            "vultr",
            "vol2",
            "available",
            40,
            {"name": "globex-vol-2", "sizeGb": 80, "region": "ams"},
        ),
        *[
            resource(
                "monitors",
                o,
                "betterstack",
                key,
                status,
                100,
                {
                    "name": name,
                    "url": url,
                    "monitorType": "status",
                    "lastCheckedAt": at(minutes=-1),
                    "checkFrequency": 60,
                },
            )
            for key, name, url, status in [
                ("site", "Globex site", "https://globex.example", "up"),
                ("portal", "Globex portal", "https://portal.globex.example", "down"),
                ("docs", "Globex docs", "https://docs.globex.example", "up"),
            ]
        ],
        *[
            resource(
                "issues",
                o,
                "sentry",
                key,
                "unresolved",
                20,
                {
                    "title": title,
                    "severity": sev,
                    "project": "globex-portal",
                    "count": n,
                    "userCount": u,
                    "firstSeen": at(-5),
                    "lastSeen": at(hours=-2),
                },
            )
            for key, title, sev, n, u in [
                ("g1", "OutOfMemoryError in report worker", "critical", 33, 9),
                ("g2", "Timeout calling billing service", "medium", 120, 40),
                ("g3", "Missing translation key", "low", 4, 1),
            ]
        ],
        *[
            resource(
                "repositories",
                o,
                "github",
                key,
                "active",
                200,
                {
                    "name": key,
                    "fullName": f"globex/{key}",
                    "language": lang,
                    "private": True,
                    "url": f"https://github.com/globex/{key}",
                    "defaultBranch": "main",
                },
            )
            for key, lang in [("portal", "Python"), ("site", "Hugo")]
        ],
    ]


def projects(tables: Tables) -> None:
    rows = [
        (
            "prj_acme_dashboard",
            ACME,
            "Customer Dashboard",
            "dashboard",
            "acme-cloud/dashboard",
            [
                ("webServices", "web_acme_dashboard", "acme-dashboard", "ready"),
                ("databases", "dat_acme_prod", "acme-prod-db", "active"),
                ("repositories", "rep_acme_dashboard", "dashboard", "active"),
                ("monitors", "mon_acme_dash", "Dashboard", "up"),
            ],
        ),
        (
            "prj_acme_marketing",
            ACME,
            "Marketing Site",
            "marketing",
            "acme-cloud/website",
            [
                ("webServices", "web_acme_site", "acme.example WordPress", "ready"),
                ("domains", "dom_acme_main", "acme.example", "active"),
            ],
        ),
        ("prj_acme_api", ACME, "Internal API", "internal-api", "acme-cloud/api", []),
        (
            "prj_globex_portal",
            GLOBEX,
            "Portal",
            "portal",
            "globex/portal",
            [
                ("webServices", "web_globex_portal", "globex-portal", "running"),
                ("databases", "dat_globex_pg", "globex-postgres", "running"),
            ],
        ),
        (
            "prj_globex_site",
            GLOBEX,
            "Website",
            "website",
            "globex/site",
            [("webServices", "web_globex_site", "globex-site", "ready")],
        ),
    ]
    tables["projects"], tables["projectResources"] = [], []
    for pid, org, name, slug, repo, links in rows:
        tables["projects"].append(
            {
                "_id": pid,
                "_creationTime": float(at(-100)),
                "orgId": org,
                "teamId": f"team_{org.removeprefix('org_')}",
                "name": name,
                "slug": slug,
                "githubRepo": repo,
                "updatedAt": at(-1),
            }
        )
        for i, (table, rid, rname, rstatus) in enumerate(links):
            tables["projectResources"].append(
                {
                    "_id": f"pr_{pid.removeprefix('prj_')}_{i}",
                    "_creationTime": float(at(-99)),
                    "projectId": pid,
                    "resourceTable": table,
                    "resourceId": rid,
                    "denormalized_name": rname,
                    "denormalized_status": rstatus,
                }
            )


def build() -> Tables:
    tables: Tables = {}
    people(tables)
    docks(tables)
    for table, doc in acme_resources() + globex_resources():
        tables.setdefault(table, []).append(doc)
    projects(tables)
    return tables


def write(out: Path) -> None:
    tables = build()
    if out.exists():
        shutil.rmtree(out)
    for table, docs in sorted(tables.items()):
        (out / table).mkdir(parents=True)
        lines = "".join(json.dumps(doc, separators=(",", ":")) + "\n" for doc in docs)
        (out / table / "documents.jsonl").write_text(lines, encoding="utf-8")
    catalogue = [{"name": table, "id": n} for n, table in enumerate(sorted(tables), start=10001)]
    (out / "_tables").mkdir()
    (out / "_tables" / "documents.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in catalogue), encoding="utf-8"
    )
    (out / "_demo").mkdir()
    meta = {"_id": "demo_meta", "referenceTime": at(), "note": "times are relative to this"}
    (out / "_demo" / "documents.jsonl").write_text(json.dumps(meta) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "core" / "stackdock" / "demo")
