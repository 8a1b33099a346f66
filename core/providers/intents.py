"""Reading a question without a model: which tools answer it, for the offline provider.

Deliberately small and predictable: it recognises the catalogue's prompts and the common
questions (counts, filtered lists, problems, domain expiry, deploy times, backups, the overview,
help). Statuses are StackDock's normalised ones; the providers' own words ("off", "ready") are
read as the status StackDock writes for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

KIND_WORDS: tuple[tuple[str, str], ...] = (
    # Longer phrases first, so "web services" wins over "services"; backups before sites, so
    # "which sites have no backups" asks about backups.
    (r"backups?|backup schedules?", "backupSchedules"),
    (r"block ?volumes?|volumes?|disks?", "blockVolumes"),
    (r"web ?services?|websites?|sites?|services?|apps?", "webServices"),
    (r"servers?|vms?|instances?|machines?|droplets?", "servers"),
    (r"domains?|dns", "domains"),
    (r"databases?|dbs?", "databases"),
    (r"buckets?|object storage", "buckets"),
    (r"monitors?|uptime checks?", "monitors"),
    (r"alerts?|sentry issues?|errors?", "issues"),
    (r"repos?|repositories", "repositories"),
    (r"deployments?", "deployments"),
    (r"docks?|integrations?|connections?", "docks"),
    (r"projects?", "projects"),
)
_KIND_PATTERNS = [(re.compile(rf"\b(?:{words})\b"), kind) for words, kind in KIND_WORDS]

PROVIDERS: dict[str, str] = {
    "gridpane": "gridpane",
    "vercel": "vercel",
    "netlify": "netlify",
    "cloudflare": "cloudflare",
    "coolify": "coolify",
    "digitalocean": "digitalocean",
    "digital ocean": "digitalocean",
    "vultr": "vultr",
    "linode": "linode",
    "hetzner": "hetzner",
    "turso": "turso",
    "neon": "neon",
    "planetscale": "planetscale",
    "convex": "convex",
    "github": "github",
    "sentry": "sentry",
    "betterstack": "better-stack",
    "better stack": "better-stack",
    "better-stack": "better-stack",
}
# StackDock's normalised statuses, and the providers' words for them.
STATUSES: dict[str, str] = {
    "running": "running", "stopped": "stopped", "pending": "pending", "archived": "archived",
    "error": "error", "active": "active", "up": "up", "down": "down", "paused": "paused",
    "maintenance": "maintenance", "validating": "validating", "open": "open",
    "resolved": "resolved", "ignored": "ignored", "enabled": "enabled", "disabled": "disabled",
    "off": "stopped", "ready": "running", "building": "pending", "unresolved": "open",
    "failed": "error",
}  # fmt: skip

_PROBLEM = re.compile(
    r"\b(critical|problems?|wrong|broken|failing|failed|down|unhealthy|attention|"
    r"urgent|incidents?|expir\w*|issues? i should)\b"
)
_OVERVIEW = re.compile(r"\b(status|summary|summari[sz]e|overview|everything|all (my )?resources)\b")
_COUNT = re.compile(r"\b(how many|count|number of|total)\b")
_HELP = re.compile(r"^(help|\?)$|\bwhat can you (do|answer)\b|\bhow do i use\b")
_PROVIDERS_OF = re.compile(r"\b(which|what) (cloud )?providers\b")
_ENGINES = re.compile(r"\bengines?\b")
_UPDATES = re.compile(r"\b(updates?|patch(es|ed)?|upgrades?|outdated)\b")
_DEPLOYED = re.compile(r"\b(deployed|deploys?|shipped|released)\b")
_WHEN_DEPLOYED = re.compile(r"\bwhen (?:was|were|did) ([a-z0-9][\w.-]{1,79}) (?:last |get )*deploy")
_EXPIRY = re.compile(r"\b(expir\w*|renew\w*)\b")
_HOST = re.compile(r"\b([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+)\b")
_QUOTED = re.compile(r"[\"'`“”‘’]([^\"'`“”‘’]{2,80})[\"'`“”‘’]")
_DETAIL = re.compile(r"\b(details?|tell me about|describe|info(rmation)? (on|about))\b")


@dataclass(frozen=True, slots=True)
class Plan:
    """What to call, and how to word the answer (`intent` picks the composer)."""

    intent: str
    calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    kind: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def find_kind(text: str) -> str | None:
    for pattern, kind in _KIND_PATTERNS:
        if pattern.search(text):
            return kind
    return None


def find_provider(text: str) -> str | None:
    for word, provider in PROVIDERS.items():
        if re.search(rf"\b{word}\b", text):
            return provider
    return None


def find_status(text: str) -> str | None:
    for word, status in STATUSES.items():
        if re.search(rf"\b{word}\b", text):
            return status
    return None


def plan_for(question: str) -> Plan:
    text = " ".join(question.lower().split())
    kind = find_kind(text)
    provider = find_provider(text)
    if _HELP.search(text):
        return Plan("help")
    if _COUNT.search(text):
        args: dict[str, Any] = {}
        if kind:
            args["kind"] = kind
        if "provider" in text:
            args["group_by"] = "provider"
        elif "status" in text:
            args["group_by"] = "status"
        elif not kind:
            args["group_by"] = "kind"
        return Plan("count", (("count_resources", args),), kind)
    if _PROVIDERS_OF.search(text):
        args = {"group_by": "provider"}
        if kind:
            args["kind"] = kind
        return Plan("count", (("count_resources", args),), kind)
    if kind == "servers" and _UPDATES.search(text):
        return Plan("updates", (("list_resources", {"kind": "servers", "limit": 50}),), kind)
    if _DEPLOYED.search(text) and kind in (None, "webServices") and not provider:
        named = _QUOTED.search(question) or _WHEN_DEPLOYED.search(text)
        if named or kind == "webServices":
            args = {"kind": "webServices", "limit": 50}
            if named:
                args["name_contains"] = named.group(1)
            return Plan("deploys", (("list_resources", args),), "webServices")
    if kind == "backupSchedules":
        args = {"kind": "backupSchedules", "limit": 50}
        site = _QUOTED.search(question) or _HOST.search(text)
        if site:
            args["name_contains"] = site.group(1)
        return Plan("backups", (("list_resources", args),), kind)
    if kind == "domains" and _EXPIRY.search(text):
        return Plan("expiry", (("list_resources", {"kind": "domains", "limit": 50}),), kind)
    if kind == "databases" and _ENGINES.search(text):
        return Plan("engines", (("list_resources", {"kind": "databases", "limit": 50}),), kind)
    if _PROBLEM.search(text) and not (provider and kind):
        only = (
            kind if kind in {"docks", "monitors", "issues", "domains", "backupSchedules"} else None
        )
        return Plan("problems", (("find_problems", {}),), only)
    if _OVERVIEW.search(text) and not kind:
        calls: tuple[tuple[str, dict[str, Any]], ...] = (
            ("count_resources", {"group_by": "kind"}),
            ("find_problems", {}),
        )
        return Plan("overview", calls)
    quoted = _QUOTED.search(question)
    if kind and quoted and _DETAIL.search(text):
        return Plan("get", (("get_resource", {"kind": kind, "id_or_name": quoted.group(1)}),), kind)
    if kind == "deployments" and provider and provider != "convex":
        kind = "webServices"  # StackDock's deployments table is Convex's; Vercel's are services
    if kind:
        args = {"kind": kind}
        if provider:
            args["provider"] = provider
        status = find_status(text)
        if status:
            args["status"] = status
        if quoted:
            args["name_contains"] = quoted.group(1)
        return Plan("list", (("list_resources", args),), kind)
    if _OVERVIEW.search(text):
        calls = (("count_resources", {"group_by": "kind"}), ("find_problems", {}))
        return Plan("overview", calls)
    return Plan("unknown")
