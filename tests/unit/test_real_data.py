"""The bot read against real-shaped StackDock data (tests/fixtures/real_shaped/), through the
tools and through the offline provider's whole pipeline.

The fixture holds what StackDock's adapters really write: Cloudflare zones without expiry,
GridPane's guessed expiries, Sentry alerts with their level in `fullApiData`, deploy times only
inside Vercel's and Netlify's payloads, GridPane backup schedules, roles without an `ai` key.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.stackdock.snapshot import load_snapshot
from core.access import KINDS, effective_permissions, readable_kinds
from core.models import Final
from core.problems import find_problems
from core.stackdock.mirror import InMemoryMirror
from core.tools import OrgTools
from tests.fakes.ports.memory_store import MemoryStore
from tests.fixtures.stackdock_real import REAL_SHAPED_DIR, REFERENCE, USERS
from tests.unit.conftest import Clock, Kit
from tests.unit.stackdock_fixtures import principal_for

ORG = "org_northwind"
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def tables() -> dict[str, list[dict[str, Any]]]:
    loaded = load_snapshot(REAL_SHAPED_DIR)
    assert loaded.problems == []
    return loaded.tables


@pytest.fixture
def mirror(tables: dict[str, list[dict[str, Any]]]) -> InMemoryMirror:
    return InMemoryMirror(copy.deepcopy(tables), REFERENCE)


def tools(mirror: InMemoryMirror, who: str = "admin") -> OrgTools:
    return OrgTools(mirror, principal_for(mirror, USERS[who]), now=lambda: REFERENCE)


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def by_name(items: list[dict[str, Any]], field: str = "name") -> dict[str, dict[str, Any]]:
    return {str(item[field]): item for item in items}


async def ask(mirror: InMemoryMirror, question: str, who: str = "admin") -> str:
    kit = Kit(store=MemoryStore(), mirror=mirror, clock=Clock(REFERENCE))
    events = await kit.ask(question, f"email:{USERS[who]}")
    end = events[-1]
    assert isinstance(end, Final), end
    return end.text


# ---- domain expiry: only a registrar's date is an alarm ----


async def test_guessed_and_missing_expiries_are_never_problems(mirror: InMemoryMirror) -> None:
    guesses = [d for d in mirror.rows(ORG, "domains") if d["provider"] == "gridpane"]
    now_ms = REFERENCE.timestamp() * 1000
    # The fixture's guesses: one already "past", one within 30 days. Neither may alarm.
    assert sorted(round((d["expiresAt"] - now_ms) / DAY_MS) for d in guesses) == [-35, 13]
    assert not [p for p in find_problems(mirror, ORG, REFERENCE) if p.kind == "domains"]

    listed = await tools(mirror).call("list_resources", {"kind": "domains"})
    items = by_name(listed.content["items"], "domainName")
    for name in ("legacy.northwind.example", "wp-shop.northwind.example"):
        assert "expiresAt" not in items[name] and "daysToExpiry" not in items[name]
        assert items[name]["estimatedExpiresAt"].endswith("Z")
        assert items[name]["expiryNote"].startswith("an estimate, not a registrar date")
    assert items["northwind.dev"]["expiryNote"] == (
        "no known expiry: Cloudflare zones carry no expiry date"
    )

    answer = await ask(mirror, "Which domains expire soon?")
    assert "None of your domains has a registrar expiry date in StackDock." in answer
    assert "Estimates only, not registrar dates (never an alarm):" in answer
    assert "No known expiry for `northwind.dev`, `northwind.example`" in answer
    problems = (await ask(mirror, "Any critical issues I should know about?")).splitlines()
    assert problems[0].startswith("**6 problems need attention:**")
    assert not [line for line in problems if line.startswith("- **") and " domain `" in line]


@pytest.mark.parametrize(
    ("days", "severity"), [(-2, "critical"), (5, "high"), (20, "medium"), (45, None)]
)
def test_a_registrars_expiry_within_30_days_stays_a_problem(
    tables: dict[str, list[dict[str, Any]]], days: int, severity: str | None
) -> None:
    changed = copy.deepcopy(tables)
    registrar = {
        **changed["domains"][0],
        "_id": "domains_northwind_registrar",
        "provider": "porkbun",  # not GridPane: its date is the registrar's own
        "domainName": "northwind-shop.example",
        "expiresAt": int((REFERENCE + timedelta(days=days)).timestamp() * 1000),
    }
    changed["domains"].append(registrar)
    found = [p for p in find_problems(InMemoryMirror(changed, REFERENCE), ORG, REFERENCE)]
    domains = [p for p in found if p.kind == "domains"]
    assert [p.severity for p in domains] == ([severity] if severity else [])
    if severity:
        assert domains[0].name == "northwind-shop.example"


# ---- alerts: StackDock's severity mapping of Sentry's level ----


def test_sentry_fatal_is_critical_and_error_high_while_open(mirror: InMemoryMirror) -> None:
    issues = {p.name: p for p in find_problems(mirror, ORG, REFERENCE) if p.kind == "issues"}
    raw = {d["title"]: d for d in mirror.rows(ORG, "issues")}
    oom = "OOMKilled: checkout worker ran out of memory"
    assert raw[oom]["fullApiData"]["issue"]["level"] == "fatal"
    assert issues[oom].severity == "critical" and "Sentry level fatal" in issues[oom].detail
    for title, doc in raw.items():
        level, status = doc["fullApiData"]["issue"]["level"], doc["status"]
        serious = level in ("fatal", "error") and status == "open"
        assert (title in issues) is serious, (title, level, status)
        if serious:
            assert issues[title].severity == {"fatal": "critical", "error": "high"}[level]


async def test_a_row_without_severity_falls_back_to_stackdocks_mapping(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    changed = copy.deepcopy(tables)
    for issue in changed["issues"]:
        issue.pop("severity")
    mirror = InMemoryMirror(changed, REFERENCE)
    found = find_problems(mirror, ORG, REFERENCE)
    severities = sorted(p.severity for p in found if p.kind == "issues")
    assert severities == ["critical", "high"]
    listed = await tools(mirror).call("list_resources", {"kind": "alerts"})
    oom = by_name(listed.content["items"], "title")["OOMKilled: checkout worker ran out of memory"]
    assert (oom["severity"], oom["sentryLevel"]) == ("critical", "fatal")


# ---- statuses: StackDock's normalised ones ----


async def test_monitors_down_and_validating_are_problems_the_rest_not(
    mirror: InMemoryMirror,
) -> None:
    statuses = {d["name"]: d["status"] for d in mirror.rows(ORG, "monitors")}
    assert {d["provider"] for d in mirror.rows(ORG, "monitors")} == {"better-stack"}
    found = {p.name: p.severity for p in find_problems(mirror, ORG, REFERENCE, ["monitors"])}
    expected = {"down": "critical", "validating": "medium"}
    assert found == {n: expected[s] for n, s in statuses.items() if s in expected}
    assert {"up", "paused", "maintenance"} <= set(statuses.values())
    stopped = await ask(mirror, "List stopped servers")
    assert "`nw-staging` (digitalocean, stopped)" in stopped
    same = await ask(mirror, "List servers that are off")  # DigitalOcean's word for it
    assert "`nw-staging` (digitalocean, stopped)" in same


# ---- deploy times: from the providers' payloads, never the sync time ----


async def test_deploy_times_come_from_full_api_data(mirror: InMemoryMirror) -> None:
    listed = await tools(mirror).call("list_resources", {"kind": "webServices"})
    items = by_name(listed.content["items"])
    docs = {d["name"]: d for d in mirror.rows(ORG, "webServices")}
    storefront = docs["northwind-storefront"]["fullApiData"]["targets"]["production"]
    assert items["northwind-storefront"]["lastDeployedAt"] == _iso(storefront["createdAt"])
    blog = docs["northwind-blog"]["fullApiData"]["published_deploy"]["published_at"]
    assert items["northwind-blog"]["lastDeployedAt"] == blog.replace(".000Z", "Z")
    assert items["northwind-docs"]["daysSinceDeploy"] == 96
    assert items["northwind-landing"]["daysSinceDeploy"] == 143
    for name, item in items.items():
        assert item["syncedAt"] == _iso(docs[name]["updatedAt"])
        assert item.get("lastDeployedAt") != item["syncedAt"]
        if docs[name]["provider"] not in ("vercel", "netlify"):
            assert "lastDeployedAt" not in item
            assert item["lastDeploySource"].endswith("does not report deploy times to StackDock")


async def test_vercel_without_a_production_target_uses_the_newest_deployment(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    changed = copy.deepcopy(tables)
    for doc in changed["webServices"]:
        if doc["name"] == "northwind-storefront":
            doc["fullApiData"].pop("targets")
            newest = max(d["createdAt"] for d in doc["fullApiData"]["latestDeployments"])
    result = await tools(InMemoryMirror(changed, REFERENCE)).call(
        "get_resource", {"kind": "webServices", "id_or_name": "northwind-storefront"}
    )
    item = result.content["item"]
    assert item["lastDeployedAt"] == _iso(newest)
    assert "latestDeployments[].createdAt" in item["lastDeploySource"]


async def test_deploy_questions_have_real_and_honest_answers(mirror: InMemoryMirror) -> None:
    stale = await ask(mirror, "Which services haven't been deployed recently?")
    assert "2 not deployed in over 30 days" in stale
    assert "`northwind-landing` (netlify): 2025-01-10, 143 days ago" in stale
    assert "`northwind-docs` (vercel): 2025-02-26, 96 days ago" in stale
    assert "cloudflare, gridpane do not report deploy times to StackDock" in stale
    one = await ask(mirror, "When was northwind-docs last deployed?")
    assert one.startswith("`northwind-docs` (vercel) was last deployed 2025-02-26, 96 days ago")
    unknown = await ask(mirror, "When was legacy.northwind.example last deployed?")
    assert "gridpane does not report deploy times" in unknown


# ---- backups ----


async def test_backups_answer_and_a_disabled_site_is_a_problem(mirror: InMemoryMirror) -> None:
    problems = [p for p in find_problems(mirror, ORG, REFERENCE) if p.kind == "backupSchedules"]
    assert [(p.name, p.severity) for p in problems] == [("legacy.northwind.example", "high")]

    result = await tools(mirror).call(
        "get_resource", {"kind": "backups", "id_or_name": "wp-shop.northwind.example"}
    )
    assert result.content["item"]["backupsOn"] is True
    assert "to northwind-backups (aws-s3, eu-west-1)" in result.content["item"]["state"]

    none = await ask(mirror, "Which sites have no backups?")
    assert none.startswith("**1 site has no backups:**\n- `legacy.northwind.example`: backups off")
    on = await ask(mirror, "Are backups on for wp-shop.northwind.example?")
    assert on.startswith("`wp-shop.northwind.example`: backups on: local daily at 03:30")
    off = await ask(mirror, "are backups on for legacy.northwind.example")
    assert "backups off: every schedule is disabled" in off


async def test_backups_are_gated_like_resources(mirror: InMemoryMirror) -> None:
    hidden = copy.deepcopy(dict(mirror.role("role_nw_client") or {}))
    hidden["permissions"] = {**hidden["permissions"], "resources": "none", "projects": "none"}
    perms = effective_permissions(hidden["permissions"])
    assert "backupSchedules" not in readable_kinds(perms)
    mirror.apply("roles", [hidden], [], REFERENCE)
    result = await tools(mirror, "client").call("list_resources", {"kind": "backupSchedules"})
    assert result.content == {
        "error": "Your role (Client) can't read backupSchedules: it needs resources:read."
    }


# ---- docks ----


def test_a_failing_dock_says_for_how_long_and_when_it_tries_again(
    mirror: InMemoryMirror,
) -> None:
    (dock,) = [p for p in find_problems(mirror, ORG, REFERENCE) if p.kind == "docks"]
    assert dock.detail.startswith("gridpane sync failed: GridPane API 429")
    assert "failing for 4 syncs in a row, next try at 2025-06-02 12:20 UTC" in dock.detail
    later = find_problems(mirror, ORG, REFERENCE + timedelta(hours=1))
    (dock,) = [p for p in later if p.kind == "docks"]
    assert "next try" not in dock.detail  # the back-off has passed: no stale promise


# ---- roles: none has `ai`, the org-creation Admin has no `monitoring` ----


@pytest.mark.parametrize(
    ("who", "ai", "unreadable"),
    [("admin", "full", set()), ("developer", "read", {"docks"}), ("support", "read", {"docks"}),
     ("client", "read", {"docks"})],
)  # fmt: skip
async def test_roles_without_ai_get_the_documented_fallback(
    mirror: InMemoryMirror, who: str, ai: str, unreadable: set[str]
) -> None:
    principal = principal_for(mirror, USERS[who])
    role = mirror.role(mirror.memberships(principal.user_id)[0]["orgRole"])
    assert role is not None and "ai" not in role["permissions"]
    assert principal.permissions["ai"] == ai
    assert set(KINDS) - set(readable_kinds(principal.permissions)) == unreadable
    answer = await ask(mirror, "Any critical issues I should know about?", who)
    assert "OOMKilled: checkout worker ran out of memory" in answer
    assert ("GridPane agency" in answer) is ("docks" not in unreadable)


def test_the_org_creation_admin_reads_alerts_without_a_monitoring_key(
    mirror: InMemoryMirror,
) -> None:
    admin = principal_for(mirror, USERS["admin"])
    role = mirror.role(mirror.memberships(admin.user_id)[0]["orgRole"])
    assert role is not None and "monitoring" not in role["permissions"]
    assert admin.permissions["monitoring"] == "read"
    assert {"monitors", "issues"} <= set(readable_kinds(admin.permissions))
