"""Writes the bundled demo snapshot (adapters/stackdock/demo/) in Convex's export layout.

The rows have the shapes StackDock's adapters really write (../shared/stackdock-facts.md):
normalised statuses (DigitalOcean `off` is `stopped`, Vercel `READY` is `running`), monitors
from `better-stack`, Sentry alerts whose `severity` maps the level kept in
`fullApiData.issue.level`, Cloudflare zones without `expiresAt`, GridPane domains with StackDock's
guessed expiry (`updated_at` + 365 days), Vercel and Netlify deploy times inside `fullApiData`,
GridPane backup schedules, roles without an `ai` key (Acme's Admin made at org creation, so
without `monitoring` too), docks with `syncConfig`, repositories without `status`, and
`updatedAt` as the sync time. The story stays: two orgs, and a newcomer to Acme finds real
problems (a dock failing for four syncs, the checkout monitor down, a fatal and an error-level
alert, a blog whose backups are off) and no false alarm (GridPane's guessed expiries).

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
    DEMO_DIR,
    DEMO_ENCRYPTED_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERS,
)

REFERENCE = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
ACME, GLOBEX = "org_acme", "org_globex"
Doc = dict[str, Any]
Tables = dict[str, list[Doc]]
AREAS = ("projects", "resources", "docks", "operations", "settings")


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> int:
    """Milliseconds since the epoch, relative to REFERENCE (negative = in the past)."""
    return int((REFERENCE + timedelta(days=days, hours=hours, minutes=minutes)).timestamp() * 1000)


def iso(days: float = 0, hours: float = 0) -> str:
    """A provider's own ISO 8601 time (Sentry, Netlify), relative to REFERENCE."""
    return (REFERENCE + timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def gridpane_time(days: float) -> str:
    """GridPane's `updated_at` format, relative to REFERENCE."""
    return (REFERENCE + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


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
    full = dict.fromkeys(AREAS, "full")
    none = dict.fromkeys(AREAS, "none")
    # No role has an `ai` key but the Auditor's, which an org added to switch the bot off.
    roles = [
        # Made by StackDock's org creation: five areas full, no `monitoring`, no `provisioning`.
        ("role_acme_admin", ACME, "Admin", full),
        # Migrated roles: StackDock's migration added `monitoring` and `provisioning`.
        ("role_acme_developer", ACME, "Developer",
         {**none, "projects": "full", "resources": "read", "operations": "read",
          "monitoring": "read", "provisioning": "none"}),
        ("role_acme_support", ACME, "Support",
         {**none, "projects": "read", "resources": "read", "monitoring": "read",
          "provisioning": "none"}),
        # Not migrated: no `monitoring` key.
        ("role_acme_client", ACME, "Client", {**none, "projects": "read", "resources": "read"}),
        ("role_acme_contractor", ACME, "Contractor",
         {**none, "projects": "read", "resources": "read"}),
        ("role_acme_auditor", ACME, "Auditor",
         {**none, "projects": "read", "resources": "read", "settings": "read", "ai": "none"}),
        ("role_globex_admin", GLOBEX, "Admin",
         {**full, "monitoring": "full", "provisioning": "full"}),
        ("role_globex_developer", GLOBEX, "Developer",
         {**none, "projects": "full", "resources": "read", "operations": "read"}),
    ]  # fmt: skip
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
        ("usr_max", "Max Mustermann", "both_orgs", GLOBEX,
         [(ACME, "role_acme_developer"), (GLOBEX, "role_globex_developer")]),
    ]  # fmt: skip
    tables["users"], tables["memberships"] = [], []
    for uid, name, key, default_org, memberships in users:
        user: Doc = {
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
    gridpane_error = "GridPane API returned 401 Unauthorized: the API token was revoked"
    rows = [
        # (org, provider, name, lastSyncStatus, error, consecutive failures, backoff minutes)
        (ACME, "digitalocean", "DigitalOcean production", "success", None, 0, None),
        (ACME, "linode", "Linode", "success", None, 0, None),
        (ACME, "gridpane", "GridPane WordPress", "error", gridpane_error, 4, 25),
        (ACME, "vercel", "Vercel team", "success", None, 0, None),
        (ACME, "cloudflare", "Cloudflare", "success", None, 0, None),
        (ACME, "neon", "Neon", "success", None, 0, None),
        (ACME, "convex", "Convex", "syncing", None, 0, None),
        (ACME, "github", "GitHub acme-cloud", "success", None, 0, None),
        (ACME, "sentry", "Sentry acme-cloud", "success", None, 0, None),
        (ACME, "better-stack", "Better Stack uptime", "success", None, 0, None),
        (GLOBEX, "vultr", "Vultr", "success", None, 0, None),
        (GLOBEX, "hetzner", "Hetzner Cloud", "success", None, 0, None),
        (GLOBEX, "netlify", "Netlify", "success", None, 0, None),
        (GLOBEX, "coolify", "Coolify", "success", None, 0, None),
        (GLOBEX, "turso", "Turso", "success", None, 0, None),
        (GLOBEX, "planetscale", "PlanetScale", "pending", None, 0, None),
        (GLOBEX, "better-stack", "Better Stack globex", "success", None, 0, None),
        (GLOBEX, "sentry", "Sentry globex", "success", None, 0, None),
        (GLOBEX, "github", "GitHub globex", "success", None, 0, None),
    ]
    tables["docks"] = []
    for i, (org, provider, name, status, error, failures, backoff) in enumerate(rows):
        last = at(minutes=-35 if error else -3 - i % 5)
        dock: Doc = {
            "_id": f"dock_{org.removeprefix('org_')}_{provider}",
            "_creationTime": float(at(-150 + i)),
            "orgId": org,
            "name": name,
            "provider": provider,
            "encryptedApiKey": DEMO_ENCRYPTED_API_KEY,
            "accountId": f"{provider}-acct-{1000 + i}",
            "providerMetadata": {"connectedBy": "dashboard"},
            "lastSyncStatus": status,
            "lastSyncAt": last,
            "syncInProgress": status == "syncing",
            "syncConfig": {
                "enabled": True,
                "intervalSeconds": 300,
                "lastSyncAttempt": last,
                "consecutiveFailures": failures,
                **({"backoffUntil": at(minutes=backoff)} if backoff else {}),
            },
            "updatedAt": last,
        }
        if error:
            dock["lastSyncError"] = error
        if provider == "digitalocean":
            dock["provisioningCredentials"] = DEMO_ENCRYPTED_API_KEY
        tables["docks"].append(dock)


def resource(
    table: str,
    org: str,
    provider: str,
    key: str,
    fields: Doc,
    api: Doc | None = None,
    *,
    age: int = 200,
    synced_hours_ago: float = 0,
) -> tuple[str, Doc]:
    """One resource row as StackDock writes it; `updatedAt` is the last sync, minutes ago
    (hours ago for a dock whose syncs fail)."""
    short = org.removeprefix("org_")
    payload = api or {"id": f"{provider}-{key}"}
    return table, {
        "_id": f"{table[:3]}_{short}_{key}",
        "_creationTime": float(at(-age)),
        "orgId": org,
        "dockId": f"dock_{short}_{provider}",
        "provider": provider,
        "providerResourceId": str(payload.get("id", f"{provider}-{key}")),
        **fields,
        "fullApiData": payload,
        "updatedAt": at(hours=-synced_hours_ago, minutes=-3 - age % 7),
    }


def droplet(n: int, mem: int, cpus: int, disk: int, ip: str, status: str, **extra: Any) -> Doc:
    return {
        "id": 360_000_000 + n,
        "status": status,
        "memory": mem,
        "vcpus": cpus,
        "disk": disk,
        "image": {"slug": "ubuntu-22-04-x64"},
        "networks": {"v4": [{"ip_address": ip, "type": "public"}]},
        **extra,
    }


def acme_servers() -> list[tuple[str, Doc]]:
    s, o = "servers", ACME
    return [
        resource(s, o, "digitalocean", "web1",
                 {"name": "acme-web-1", "status": "running", "primaryIpAddress": "203.0.113.10",
                  "region": "nyc3", "provisioningSource": "api", "provisionedAt": at(-300)},
                 droplet(1, 4096, 2, 80, "203.0.113.10", "active", apiToken=DEMO_API_TOKEN),
                 age=300),
        resource(s, o, "digitalocean", "web2",
                 {"name": "acme-web-2", "status": "running", "primaryIpAddress": "203.0.113.11",
                  "region": "nyc3", "provisioningSource": "sst"},
                 droplet(2, 4096, 2, 80, "203.0.113.11", "active"), age=280),
        resource(s, o, "digitalocean", "worker1",
                 {"name": "acme-worker-1", "status": "running",
                  "primaryIpAddress": "203.0.113.20", "region": "fra1",
                  "provisioningSource": "manual"},
                 droplet(3, 8192, 4, 160, "203.0.113.20", "active"), age=200),
        # DigitalOcean's `off`, as StackDock writes it.
        resource(s, o, "digitalocean", "staging",
                 {"name": "acme-staging", "status": "stopped", "primaryIpAddress": "203.0.113.30",
                  "region": "nyc3"},
                 droplet(4, 2048, 1, 50, "203.0.113.30", "off"), age=120),
        resource(s, o, "linode", "dbproxy",
                 {"name": "acme-db-proxy", "status": "running", "primaryIpAddress": "198.51.100.7",
                  "region": "us-east"},
                 {"id": 51_200_001, "status": "running", "type": "g6-standard-1",
                  "specs": {"memory": 2048, "vcpus": 1, "disk": 51200}}, age=260),
        resource(s, o, "linode", "vpn",
                 {"name": "acme-vpn", "status": "running", "primaryIpAddress": "198.51.100.8",
                  "region": "eu-west"},
                 {"id": 51_200_002, "status": "running", "type": "g6-nanode-1",
                  "specs": {"memory": 1024, "vcpus": 1}}, age=240),
        # GridPane's dock has failed for four syncs: its rows were last synced 30 hours ago.
        resource(s, o, "gridpane", "wp1",
                 {"name": "wp-acme-marketing", "status": "running",
                  "primaryIpAddress": "192.0.2.44", "region": "lon1"},
                 {"id": 7701, "label": "wp-acme-marketing", "ip": "192.0.2.44",
                  "status": "active", "php_version": "8.2", "webserver": "nginx",
                  "os": "Ubuntu 22.04"}, age=365, synced_hours_ago=30),
        resource(s, o, "gridpane", "wp2",
                 {"name": "wp-acme-blog", "status": "running", "primaryIpAddress": "192.0.2.45",
                  "region": "lon1"},
                 {"id": 7702, "label": "wp-acme-blog", "ip": "192.0.2.45", "status": "active",
                  "php_version": "8.1"}, age=330, synced_hours_ago=30),
    ]  # fmt: skip


def vercel(name: str, state: str, production_days: float, *previews: float, **extra: Any) -> Doc:
    """A Vercel project as StackDock keeps it: deploy times only in `targets`/`latestDeployments`."""
    production = {
        "id": f"dpl_{name}_prod",
        "target": "production",
        "readyState": state,
        "createdAt": at(production_days),
        "url": f"{name}-prod.vercel.app",
    }
    latest = [
        {"uid": f"dpl_{name}_{n}", "target": "preview", "readyState": "READY", "createdAt": at(d)}
        for n, d in enumerate(previews)
    ]
    latest.append({"uid": production["id"], "target": "production", "readyState": state,
                   "createdAt": at(production_days)})  # fmt: skip
    return {
        "id": f"prj_{name}",
        "name": name,
        "framework": "nextjs",
        "link": {"type": "github", "org": "acme-cloud", "repo": name.removeprefix("acme-")},
        "targets": {"production": production},
        "latestDeployments": latest,
        **extra,
    }


def gridpane_site(site_id: int, url: str, updated_days: float) -> Doc:
    return {
        "id": site_id,
        "url": url,
        "ssl_status": "succeed",
        "resolved_at": gridpane_time(-300),
        "php_version": "8.2",
        "updated_at": gridpane_time(updated_days),
    }


def acme_web_services() -> list[tuple[str, Doc]]:
    w, o = "webServices", ACME
    return [
        resource(w, o, "vercel", "dashboard",
                 {"name": "acme-dashboard", "status": "running",
                  "productionUrl": "https://dashboard.acme.example", "environment": "production",
                  "gitRepo": "acme-cloud/dashboard"},
                 vercel("acme-dashboard", "READY", -2, -0.25, nodeVersion="20.x"), age=250),
        resource(w, o, "vercel", "docs",
                 {"name": "acme-docs", "status": "running",
                  "productionUrl": "https://docs.acme.example", "environment": "production",
                  "gitRepo": "acme-cloud/docs"},
                 vercel("acme-docs", "READY", -75), age=240),
        resource(w, o, "vercel", "landing",
                 {"name": "acme-landing", "status": "running",
                  "productionUrl": "https://acme.example", "environment": "production",
                  "gitRepo": "acme-cloud/website"},
                 vercel("acme-landing", "READY", -9, -1), age=230),
        # Its latest production build failed: Vercel `ERROR` is StackDock's `error`.
        resource(w, o, "vercel", "gateway",
                 {"name": "acme-api-gateway", "status": "error",
                  "productionUrl": "https://api.acme.example", "environment": "production",
                  "gitRepo": "acme-cloud/api"},
                 vercel("acme-api-gateway", "ERROR", -0.125,
                        env={"auth": {"password": DEMO_PASSWORD}}), age=90),
        # Cloudflare and GridPane report no deploy time.
        resource(w, o, "cloudflare", "status",
                 {"name": "acme-status-page", "status": "running",
                  "productionUrl": "https://status.acme.example", "environment": "production"},
                 {"id": "cf-pages-acme-status", "name": "acme-status-page", "subdomain": "status"},
                 age=210),
        resource(w, o, "gridpane", "site",
                 {"name": "www.acme.example", "status": "running",
                  "productionUrl": "https://www.acme.example", "environment": "production"},
                 gridpane_site(4101, "www.acme.example", -400), age=360, synced_hours_ago=30),
        resource(w, o, "gridpane", "blog",
                 {"name": "blog.acme.example", "status": "running",
                  "productionUrl": "https://blog.acme.example", "environment": "production"},
                 gridpane_site(4102, "blog.acme.example", -353), age=330, synced_hours_ago=30),
    ]  # fmt: skip


def zone(key: str, name: str) -> Doc:
    return {"id": f"zone-{key}", "name": name, "status": "active",
            "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"]}  # fmt: skip


def gridpane_domain(org: str, key: str, name: str, domain_id: int, updated_days: float) -> Doc:
    """StackDock's GridPane adapter writes `expiresAt` = `updated_at` + 365 days: a guess."""
    api = {"id": domain_id, "url": name, "ssl_status": "succeed",
           "updated_at": gridpane_time(updated_days)}  # fmt: skip
    fields = {"domainName": name, "status": "active", "expiresAt": at(updated_days + 365)}
    return resource("domains", org, "gridpane", key, fields, api, age=330, synced_hours_ago=30)[1]


def acme_domains() -> list[tuple[str, Doc]]:
    d, o = "domains", ACME
    return [
        # Cloudflare zones carry no expiry at all.
        resource(d, o, "cloudflare", "main", {"domainName": "acme.example", "status": "active"},
                 zone("main", "acme.example"), age=400),
        resource(d, o, "cloudflare", "dev", {"domainName": "acme.dev", "status": "active"},
                 zone("dev", "acme.dev"), age=380),
        resource(d, o, "cloudflare", "status",
                 {"domainName": "acme-status.example", "status": "active"},
                 zone("status", "acme-status.example"), age=210),
        resource(d, o, "cloudflare", "io", {"domainName": "acmecloud.io", "status": "active"},
                 zone("io", "acmecloud.io"), age=300),
        # GridPane guesses: one "in 12 days", one "35 days ago". Neither is an alarm.
        (d, gridpane_domain(o, "blog", "blog.acme.example", 8802, -353)),
        (d, gridpane_domain(o, "www", "www.acme.example", 8801, -400)),
    ]  # fmt: skip


def acme_data() -> list[tuple[str, Doc]]:
    o = ACME
    psql = f"psql postgresql://app:{DEMO_DB_PASSWORD}@ep-misty-sun.neon.tech/app"
    return [
        resource("databases", o, "neon", "prod",
                 {"name": "acme-prod-db", "status": "active", "engine": "postgres",
                  "version": "16"},
                 {"id": "ep-misty-sun-100", "region": "aws-eu-central-1", "storageGb": 42,
                  "computeUnits": 2, "psqlCommand": psql}, age=250),
        resource("databases", o, "neon", "staging",
                 {"name": "acme-staging-db", "status": "active", "engine": "postgres",
                  "version": "16"},
                 {"id": "ep-calm-sea-200", "region": "aws-eu-central-1", "storageGb": 3}),
        resource("databases", o, "neon", "analytics",
                 {"name": "acme-analytics", "status": "suspended", "engine": "postgres",
                  "version": "15"}, age=150),
        resource("databases", o, "convex", "realtime",
                 {"name": "acme-realtime", "status": "active", "engine": "convex"}, age=140),
        resource("blockVolumes", o, "digitalocean", "data",
                 {"name": "acme-data-vol", "status": "attached", "sizeGb": 100, "region": "nyc3",
                  "attachedToInstance": "ser_acme_web1", "attachedToInstanceLabel": "acme-web-1"},
                 age=290),
        resource("blockVolumes", o, "digitalocean", "backups",
                 {"name": "acme-backups", "status": "attached", "sizeGb": 250, "region": "fra1",
                  "attachedToInstance": "ser_acme_worker1",
                  "attachedToInstanceLabel": "acme-worker-1"}, age=280),
        resource("blockVolumes", o, "digitalocean", "scratch",
                 {"name": "acme-scratch", "status": "available", "sizeGb": 50, "region": "nyc3"},
                 age=60),
        resource("buckets", o, "linode", "assets",
                 {"name": "acme-assets", "status": "active", "region": "us-east-1",
                  "hostname": "acme-assets.us-east-1.linodeobjects.com",
                  "s3Endpoint": "https://us-east-1.linodeobjects.com",
                  "sizeBytes": 7_340_032_000, "objectCount": 18234}, age=260),
        resource("buckets", o, "linode", "logs",
                 {"name": "acme-logs", "status": "active", "region": "eu-central-1",
                  "sizeBytes": 120_000_000_000, "objectCount": 981_220}),
        *[
            resource("deployments", o, "convex", key,
                     {"name": f"acme-realtime-{key}", "status": "active",
                      "deploymentType": kind, "createdAt": at(-days)}, age=140)
            for key, kind, days in [("prod", "prod", 140), ("dev", "dev", 90),
                                    ("pr42", "preview", 2)]
        ],
        *[
            # GitHub repositories have no `status` column.
            resource("repositories", o, "github", key,
                     {"name": key, "fullName": f"acme-cloud/{key}", "description": desc,
                      "language": lang, "private": private,
                      "url": f"https://github.com/acme-cloud/{key}", "defaultBranch": "main"},
                     {"id": 7_000_000 + n, "stargazers_count": stars, "open_issues_count": issues},
                     age=500)
            for n, (key, desc, lang, private, stars, issues) in enumerate([
                ("dashboard", "Customer dashboard", "TypeScript", True, 0, 14),
                ("api", "Public API", "Go", True, 0, 9),
                ("docs", "Documentation site", "MDX", False, 128, 3),
                ("infra", "Terraform and SST stacks", "HCL", True, 0, 2),
                ("website", "Marketing site", "Astro", True, 0, 1),
            ])
        ],
    ]  # fmt: skip


def monitor(
    org: str, key: str, name: str, url: str, status: str, frequency: int
) -> tuple[str, Doc]:
    api = {"id": f"{2_100_000 + sum(map(ord, org + key))}", "type": "monitor",
           "attributes": {"url": url, "pronounceable_name": name, "monitor_type": "status",
                          "status": status, "check_frequency": frequency}}  # fmt: skip
    fields = {"name": name, "status": status, "url": url, "monitorType": "status",
              "lastCheckedAt": at(minutes=-2), "checkFrequency": frequency}  # fmt: skip
    return resource("monitors", org, "better-stack", key, fields, api, age=200)


SEVERITY = {
    "fatal": "critical",
    "error": "high",
    "warning": "medium",
    "info": "low",
    "debug": "low",
}
SENTRY_STATUS = {"open": "unresolved", "resolved": "resolved", "ignored": "ignored"}


def alert(org: str, key: str, title: str, level: str, status: str, project: str,
          count: int, users: int, first_days: float, last_hours: float) -> tuple[str, Doc]:  # fmt: skip
    """A Sentry issue as StackDock keeps it: `severity` maps the level, raw in fullApiData."""
    number = 4_012_345_600 + sum(map(ord, org + key))
    api = {
        "issue": {"id": str(number), "shortId": f"{project.upper()}-{key.upper()}",
                  "title": title, "culprit": f"{project}/handlers", "level": level,
                  "status": SENTRY_STATUS[status], "count": str(count), "userCount": users,
                  "firstSeen": iso(-first_days), "lastSeen": iso(hours=-last_hours),
                  "permalink": f"https://{org.removeprefix('org_')}.sentry.io/issues/{number}/"},
        "project": {"id": str(450_000 + len(project)), "slug": project, "name": project},
    }  # fmt: skip
    fields = {"title": title, "status": status, "severity": SEVERITY[level], "project": project,
              "count": count, "userCount": users, "firstSeen": at(-first_days),
              "lastSeen": at(hours=-last_hours)}  # fmt: skip
    return resource("issues", org, "sentry", key, fields, api, age=30)


def acme_monitoring() -> list[tuple[str, Doc]]:
    o = ACME
    return [
        monitor(o, "api", "Acme API health", "https://api.acme.example/health", "up", 180),
        monitor(o, "dash", "Dashboard", "https://dashboard.acme.example", "up", 180),
        monitor(o, "statuspage", "Status page", "https://status.acme.example", "up", 180),
        monitor(o, "checkout", "Checkout", "https://acme.example/checkout", "down", 60),
        # A check failed and Better Stack is confirming it from other regions.
        monitor(o, "search", "Search API", "https://api.acme.example/search", "validating", 60),
        monitor(o, "ftp", "Legacy FTP", "ftp://files.acme.example", "paused", 300),
        monitor(o, "blog", "Blog", "https://blog.acme.example", "pending", 300),
        alert(o, "i1", "TypeError: Cannot read properties of undefined (reading 'id')", "fatal",
              "open", "acme-dashboard", 412, 87, 3, 1),
        alert(o, "i2", "Database connection pool exhausted", "error", "open", "acme-api",
              57, 12, 6, 5),
        alert(o, "i3", "Slow query on /reports", "warning", "open", "acme-api", 230, 4, 20, 2),
        alert(o, "i4", "Deprecated API usage: v1 billing endpoint", "info", "open", "acme-api",
              18, 2, 40, 50),
        # Noise the team chose to ignore: error level, but not a problem.
        alert(o, "i5", "ResizeObserver loop limit exceeded", "error", "ignored",
              "acme-dashboard", 1903, 311, 60, 1),
        alert(o, "i6", "Payment webhook signature mismatch", "error", "resolved", "acme-api",
              9, 3, 15, 200),
    ]  # fmt: skip


def acme_backups() -> list[tuple[str, Doc]]:
    """GridPane backups: www runs local and remote backups, the blog has both switched off."""
    rows: list[tuple[str, Doc]] = []
    schedules = [
        # (key, site id, site, schedule id, type, frequency, hh, mm, day, enabled)
        ("www_local", 4101, "www.acme.example", 9001, "local", "daily", "02", "00", None, True),
        ("www_remote", 4101, "www.acme.example", 9002, "remote", "daily", "03", "30", None, True),
        ("blog_local", 4102, "blog.acme.example", 9003, "local", "weekly", "04", "00", 0, False),
        ("blog_remote", 4102, "blog.acme.example", 9004, "remote", "weekly", "04", "30", 0,
         False),
    ]  # fmt: skip
    for key, site_id, site, schedule_id, kind, frequency, hour, minute, day, on in schedules:
        api = {"id": schedule_id, "site_id": site_id, "site_url": site, "type": kind,
               "frequency": frequency, "hour": hour, "minute": minute, "enabled": on}  # fmt: skip
        fields: Doc = {
            "siteId": site_id,
            "siteUrl": site,
            "scheduleId": schedule_id,
            "type": kind,
            "frequency": frequency,
            "hour": hour,
            "minute": minute,
            "time": f"{hour}:{minute}",
            "enabled": on,
            "remoteBackupsEnabled": on,
        }
        if day is not None:
            fields["dayOfWeek"] = day
        if kind == "remote":
            fields.update(serviceId=77, serviceName="aws-s3")
        _, row = resource("backupSchedules", ACME, "gridpane", key, fields, api, age=300,
                          synced_hours_ago=30)  # fmt: skip
        row["_id"] = f"bks_acme_{key}"
        row["providerResourceId"] = f"{site_id}-{schedule_id}"
        rows.append(("backupSchedules", row))
    _, integration = resource(
        "backupIntegrations", ACME, "gridpane", "s3",
        {"integrationId": 77, "integratedService": "aws-s3",
         "integrationName": "Acme S3 backups", "region": "eu-west-2"},
        {"id": 77, "integrated_service": "aws-s3", "integration_name": "Acme S3 backups",
         "region": "eu-west-2"}, age=300, synced_hours_ago=30,
    )  # fmt: skip
    integration["_id"] = "bki_acme_s3"
    rows.append(("backupIntegrations", integration))
    return rows


def netlify(site: str, published_days: float, **extra: Any) -> Doc:
    return {"id": f"site-{site}", "name": site, "ssl_url": f"https://{site}.netlify.app",
            "lifecycle_state": "active", "state": "current",
            "published_deploy": {"id": f"dep-{site}", "state": "ready",
                                 "published_at": iso(published_days)},
            **extra}  # fmt: skip


def globex_resources() -> list[tuple[str, Doc]]:
    o = GLOBEX
    return [
        resource("servers", o, "vultr", "app1",
                 {"name": "globex-app-1", "status": "running", "primaryIpAddress": "45.32.0.10",
                  "region": "ams"},
                 {"id": "vultr-app1", "ram": 4096, "vcpu_count": 2, "os": "Debian 12",
                  "power_status": "running", "api_key": DEMO_API_TOKEN}, age=150),
        resource("servers", o, "vultr", "app2",
                 {"name": "globex-app-2", "status": "running", "primaryIpAddress": "45.32.0.11",
                  "region": "ams"},
                 {"id": "vultr-app2", "ram": 4096, "vcpu_count": 2, "os": "Debian 12",
                  "power_status": "running"}, age=150),
        resource("servers", o, "hetzner", "ci",
                 {"name": "globex-ci", "status": "running",
                  "primaryIpAddress": "2a01:4f8:c17:1a2b::1", "region": "fsn1",
                  "provisioningSource": "manual"},
                 {"id": 48_000_001, "status": "running",
                  "server_type": {"cores": 8, "memory": 16.0, "disk": 240}}, age=100),
        resource("webServices", o, "netlify", "site",
                 {"name": "globex-site", "status": "running",
                  "productionUrl": "https://globex.example", "environment": "production",
                  "gitRepo": "globex/site"},
                 netlify("globex-site", -3), age=140),
        resource("webServices", o, "netlify", "docs",
                 {"name": "globex-docs", "status": "running",
                  "productionUrl": "https://docs.globex.example", "environment": "production"},
                 netlify("globex-docs", -120,
                         build_settings={"cmd": "npm run build",
                                         "auth": {"password": DEMO_PASSWORD}}), age=120),
        resource("webServices", o, "coolify", "portal",
                 {"name": "globex-portal", "status": "running",
                  "productionUrl": "https://portal.globex.example", "environment": "production",
                  "gitRepo": "globex/portal"},
                 {"uuid": "cool-portal", "status": "running:healthy"}, age=90),
        resource("domains", o, "cloudflare", "main",
                 {"domainName": "globex.example", "status": "active"},
                 zone("globex-main", "globex.example"), age=190),
        resource("domains", o, "cloudflare", "io", {"domainName": "globexlabs.io",
                                                     "status": "active"},
                 zone("globex-io", "globexlabs.io"), age=190),
        resource("databases", o, "turso", "edge",
                 {"name": "globex-edge", "status": "active", "engine": "libsql"},
                 {"id": "turso-edge", "regions": ["ams", "iad"]}, age=120),
        resource("databases", o, "planetscale", "main",
                 {"name": "globex-main", "status": "active", "engine": "mysql", "version": "8.0"},
                 age=110),
        resource("databases", o, "coolify", "pg",
                 {"name": "globex-postgres", "status": "running", "engine": "postgres",
                  "version": "15"}, age=90),
        resource("blockVolumes", o, "vultr", "vol1",
                 {"name": "globex-vol-1", "status": "active", "sizeGb": 40, "region": "ams",
                  "attachedToInstance": "ser_globex_app1",
                  "attachedToInstanceLabel": "globex-app-1"}, age=140),
        resource("blockVolumes", o, "vultr", "vol2",
                 {"name": "globex-vol-2", "status": "active", "sizeGb": 80, "region": "ams"},
                 age=40),
        monitor(o, "site", "Globex site", "https://globex.example", "up", 60),
        monitor(o, "portal", "Globex portal", "https://portal.globex.example", "down", 60),
        monitor(o, "docs", "Globex docs", "https://docs.globex.example", "maintenance", 60),
        alert(o, "g1", "OutOfMemoryError in report worker", "fatal", "open", "globex-portal",
              33, 9, 5, 2),
        alert(o, "g2", "Timeout calling billing service", "warning", "open", "globex-portal",
              120, 40, 5, 2),
        alert(o, "g3", "Missing translation key", "info", "open", "globex-portal", 4, 1, 5, 2),
        *[
            resource("repositories", o, "github", key,
                     {"name": key, "fullName": f"globex/{key}", "language": lang, "private": True,
                      "url": f"https://github.com/globex/{key}", "defaultBranch": "main"},
                     {"id": 8_000_000 + n}, age=200)
            for n, (key, lang) in enumerate([("portal", "Python"), ("site", "Hugo")])
        ],
    ]  # fmt: skip


def projects(tables: Tables) -> None:
    rows = [
        ("prj_acme_dashboard", ACME, "Customer Dashboard", "dashboard", "acme-cloud/dashboard",
         [("webServices", "web_acme_dashboard", "acme-dashboard", "running"),
          ("databases", "dat_acme_prod", "acme-prod-db", "active"),
          ("repositories", "rep_acme_dashboard", "dashboard", ""),
          ("monitors", "mon_acme_dash", "Dashboard", "up")]),
        ("prj_acme_marketing", ACME, "Marketing Site", "marketing", "acme-cloud/website",
         [("webServices", "web_acme_site", "www.acme.example", "running"),
          ("domains", "dom_acme_main", "acme.example", "active")]),
        ("prj_acme_api", ACME, "Internal API", "internal-api", "acme-cloud/api", []),
        ("prj_globex_portal", GLOBEX, "Portal", "portal", "globex/portal",
         [("webServices", "web_globex_portal", "globex-portal", "running"),
          ("databases", "dat_globex_pg", "globex-postgres", "running")]),
        ("prj_globex_site", GLOBEX, "Website", "website", "globex/site",
         [("webServices", "web_globex_site", "globex-site", "running")]),
    ]  # fmt: skip
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
            }
        )
        for i, (table, rid, rname, rstatus) in enumerate(links):
            tables["projectResources"].append(
                {
                    "_id": f"pr_{pid.removeprefix('prj_')}_{i}",
                    "_creationTime": float(at(-99)),
                    "orgId": org,
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
    for table, doc in (
        acme_servers()
        + acme_web_services()
        + acme_domains()
        + acme_data()
        + acme_monitoring()
        + acme_backups()
        + globex_resources()
    ):
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
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else DEMO_DIR)
