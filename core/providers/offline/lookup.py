"""One resource by name: its details, "is it up?", "how big is it?", or a plain "not found".

A name of unknown kind was searched across every kind; one match is shown whole, several are
listed so the person can say which, none is said plainly (and nothing else is shown instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.providers.offline.context import Asker
from core.providers.offline.query import Query
from core.providers.offline.results import Result, found_items, item_name
from core.providers.offline.vocabulary import label, provider_name, statuses_for
from core.providers.offline.wording import capped, code, listed, size_text

_SKIP = frozenset({"id", "name", "domainName", "title", "provider", "status", "details",
                   "resources", "resourceCounts", "syncState", "siteUrl", "region",
                   "attachedToInstance", "sizeGb", "sizeBytes"})  # fmt: skip
_DETAIL_SKIP = frozenset({"id", "name", "status", "state", "uuid", "slug"})
_FIELD_NAMES = {
    "primaryIpAddress": "IP address",
    "provisioningSource": "provisioned by",
    "provisioningState": "provisioning state",
    "provisionedAt": "provisioned at",
    "productionUrl": "production URL",
    "gitRepo": "git repository",
    "lastDeployedAt": "last deployed",
    "daysSinceDeploy": "days since deploy",
    "lastDeploySource": "deploy time from",
    "syncedAt": "last synced by StackDock",
    "expiresAt": "registrar expiry",
    "daysToExpiry": "days to expiry",
    "estimatedExpiresAt": "estimated expiry (a guess, not a registrar date)",
    "expiryNote": "expiry",
    "sizeGb": "size (GB)",
    "sizeBytes": "size",
    "objectCount": "objects",
    "attachedToInstanceLabel": "attached to",
    "attachedToInstance": "attached to (id)",
    "s3Endpoint": "S3 endpoint",
    "monitorType": "check type",
    "lastCheckedAt": "last checked",
    "checkFrequency": "check every (s)",
    "userCount": "users affected",
    "count": "events",
    "firstSeen": "first seen",
    "lastSeen": "last seen",
    "sentryLevel": "Sentry level",
    "fullName": "full name",
    "defaultBranch": "default branch",
    "deploymentType": "type",
    "createdAt": "created",
    "lastSyncStatus": "last sync",
    "lastSyncAt": "last sync at",
    "lastSyncError": "last sync error",
    "autoSync": "automatic sync",
    "syncIntervalSeconds": "sync every (s)",
    "consecutiveFailures": "failures in a row",
    "nextSyncAttemptAt": "next try",
}
_DETAIL_KEYS = 10
_ASK = (
    "I answer counts and lists of your resources (by kind, provider, status or region), one "
    "resource by name, sizes, problems, domain expiry, deploy times and backups."
)
_CPU_KEYS = ("vcpus", "cpus", "cpu", "cores", "vcpu_count")
_MEMORY_KEYS = ("memory", "ram", "memory_mb", "mem")
_DISK_KEYS = ("disk", "disk_gb", "disk_size")


def lookup_answer(q: Query, turns: Sequence[Sequence[Result]], who: Asker) -> str:
    results = [r for turn in turns for r in turn]
    got = [r for r in results if r.name == "get_resource"]
    if got and not got[-1].error:
        return _described(q, got[-1].content)
    if got and got[-1].content.get("candidates"):
        return _which(q, got[-1])
    found = found_items([r for r in results if r.name == "list_resources"])
    asked = code(q.name)
    where = f" {label(q.kind, 1)}" if q.kind else ""
    if got and got[-1].error and not got[-1].error.startswith("No "):
        return got[-1].error  # a refusal from the tool, relayed as it is
    if not found:
        what = f"no{where}" if where else "nothing"
        text = f"I found {what} named {asked} in {who.org_label}."
        if not q.kind and (q.name or "").replace(" ", "").isalpha():
            text = text[:-1] + ", the only organisation I can see."
            text += " If you didn't mean a name, I'm not sure what you're asking: " + _ASK
        return text
    listed_items = _search_lines(results)
    if q.kind:
        lead = f"No {label(q.kind, 1)} is named {asked}, but "
        lead += "this matches:" if len(listed_items) == 1 else "these match:"
    else:
        lead = f"{len(listed_items)} resources match {asked}; which one do you mean?"
    return "\n".join([lead, *capped(listed_items, len(listed_items))])


def _search_lines(results: Sequence[Result]) -> list[str]:
    lines = []
    for result in results:
        if result.name != "list_resources" or result.error:
            continue
        for item in result.content.get("items") or []:
            facts = [label(str(result.kind), 1)]
            facts += [str(item[f]) for f in ("provider", "status") if item.get(f)]
            lines.append(f"- {code(item_name(item))} ({', '.join(facts)})")
    return lines


def _which(q: Query, result: Result) -> str:
    candidates = [str(c.get("name")) for c in result.content.get("candidates") or []]
    kind = result.kind or q.kind
    names = listed((code(n) for n in candidates), "or")
    return f"{len(candidates)} {label(kind)} match {code(q.name)}: {names}. Which one do you mean?"


def _described(q: Query, content: Mapping[str, Any]) -> str:
    kind = str(content.get("kind") or q.kind)
    item = content.get("item") or {}
    if kind == "backupSchedules":
        return f"{code(item.get('site'))}: {item.get('state')}"
    name = item_name(item)
    lines = []
    if q.intent == "size" or q.topic == "size-spec":
        lines.append(_size_lead(q, kind, name, item))
    elif q.status_class and statuses_for(kind, q.status_class):
        lines.append(_yes_no(q, kind, name, item))
    lines.append(_headline(kind, name, item))
    if size := size_text(item):
        lines.append(f"- size: {size}")
    lines += [f"- {_FIELD_NAMES.get(k, k)}: {_value(v)}" for k, v in item.items()
              if k not in _SKIP and v not in (None, "", {}, [])]  # fmt: skip
    if item.get("syncState"):
        lines.append(f"- sync: {item['syncState']}")
    if isinstance(item.get("resourceCounts"), Mapping) and item["resourceCounts"]:
        counts = ", ".join(f"{n} {label(k, n)}" for k, n in item["resourceCounts"].items())
        lines.append(f"- synced resources: {counts}")
    if isinstance(item.get("resources"), Mapping):
        lines += _project_resources(item["resources"])
    details = _flat(item.get("details"))
    if details:
        shown = ", ".join(f"{k} {v}" for k, v in details[:_DETAIL_KEYS])
        lines.append(f"- from {provider_name(str(item.get('provider') or 'the provider'))}'s "
                     f"own data: {shown}")  # fmt: skip
    return "\n".join(lines)


def _headline(kind: str, name: str, item: Mapping[str, Any]) -> str:
    text = f"**{code(name)}**: {label(kind, 1)}"
    if item.get("provider"):
        text += f" on {provider_name(str(item['provider']))}"
    if item.get("status"):
        text += f", **{item['status']}**"
    if item.get("region"):
        text += f", in {item['region']}"
    return text + "."


def _yes_no(q: Query, kind: str, name: str, item: Mapping[str, Any]) -> str:
    status = str(item.get("status") or "")
    wanted = statuses_for(kind, q.status_class or "")
    answer = "Yes" if status in wanted else "No"
    return f"{answer}: {code(name)} is {status or 'of unknown status'}."


def _size_lead(q: Query, kind: str, name: str, item: Mapping[str, Any]) -> str:
    size = size_text(item)
    if size:
        return f"{code(name)} is {size}."
    details = dict(_flat(item.get("details")))
    spec = []
    for keys, unit in ((_CPU_KEYS, "vCPUs"), (_MEMORY_KEYS, "memory"), (_DISK_KEYS, "disk")):
        value = next((details[k] for k in keys if k in details), None)
        if value is None:
            continue
        if unit == "memory":
            spec.append(f"{value} MB memory" if float(value) > 64 else f"{value} GB memory")
        elif unit == "disk":
            spec.append(f"{value} GB disk")
        else:
            spec.append(f"{value} vCPUs")
    provider = provider_name(str(item.get("provider") or "its provider"))
    if spec:
        return (
            f"StackDock doesn't track CPU or memory use; {provider} reports {code(name)}'s size "
            f"as {listed(spec)}."
        )
    return (
        f"StackDock holds no size for {code(name)}: it tracks no CPU or memory, and {provider} "
        "sent none."
    )


def _project_resources(resources: Mapping[str, Any]) -> list[str]:
    items = list(resources.get("items") or [])
    total = int(resources.get("total", len(items)))
    if not total:
        return ["- linked resources: none"]
    lines = [f"- linked resources ({total}):"]
    rows = [
        f"  - {code(i.get('name'))} ({i.get('table')}"
        + (f", {i.get('status')})" if i.get("status") else ")")
        for i in items
    ]
    return lines + capped(rows, total)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) >= 20 and value[10:11] == "T" and value.endswith("Z"):
        return value[:16].replace("T", " ") + " UTC"
    return str(value)


def _flat(details: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """A provider payload as (dotted key, scalar) pairs, lists and deep nesting left out."""
    if not isinstance(details, Mapping):
        return []
    out: list[tuple[str, Any]] = []
    for key, value in details.items():
        if isinstance(value, Mapping) and not prefix:
            out += _flat(value, f"{key}.")
        elif _scalar(value) and (prefix or key not in _DETAIL_SKIP):
            out.append((f"{prefix}{key}", value))
    return out


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)
