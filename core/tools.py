"""The read-only tools the model may call, bound to one asker's org and permissions.

Every query reads `mirror.rows(principal.org_id, kind)` and nothing else, so no argument can
reach another org's rows. A kind the role may not read is refused inside the tool with the
reason. Results are bounded, carry only each table's own fields (never `fullApiData` or
`encryptedApiKey`; `get_resource` adds a redacted, bounded `details`), are scrubbed of secrets,
and have IPs, URLs and hostnames masked when the asker is in a shared channel.

Some fields are derived, so the model need not guess at provider payloads (docs/data.md):
- `syncedAt` is StackDock's `updatedAt`, renamed because it is the sync time, not a change;
- web services get `lastDeployedAt` and `lastDeploySource` (Vercel, Netlify) or a
  `lastDeploySource` saying the provider reports none (core.stackdock.deploys);
- a domain's expiry is `expiresAt` + `daysToExpiry` only when it is a registrar's date;
  StackDock's GridPane guess is `estimatedExpiresAt`, and `expiryNote` says which it is;
- docks get their `syncConfig` state (failures in a row, next try); backup schedules a
  `status` (enabled/disabled: StackDock's rows have none) and the destination's name.

Every string in a result (and every key of a provider payload) is one line of bounded length:
StackDock text is data written by whoever controls a provider account, and a title with line
breaks must not read to the model like a new message or instruction.
"""

from __future__ import annotations

import functools
import heapq
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from core.access import (
    BACKUP_KINDS,
    KINDS,
    MONITORING_KINDS,
    RESOURCE_KINDS,
    can_read,
    kind_denial,
    readable_kinds,
)
from core.models import Principal, ToolResult, ToolSpec
from core.ports import Document, Mirror
from core.problems import (
    PROBLEM_KINDS,
    dock_sync_state,
    find_problems,
    issue_severity,
    sentry_level,
)
from core.redact import redact_for_channel, safe_details
from core.stackdock.backups import describe, destinations, schedule_status, site_backups
from core.stackdock.deploys import last_deploy
from core.stackdock.expiry import domain_expiry
from core.stackdock.fields import TIME_FIELDS, epoch_ms

log = logging.getLogger(__name__)

OWN_FIELDS: dict[str, tuple[str, ...]] = {
    "servers": (
        "name",
        "primaryIpAddress",
        "region",
        "provisioningSource",
        "provisioningState",
        "provisionedAt",
    ),
    "webServices": ("name", "productionUrl", "environment", "gitRepo"),
    "domains": ("domainName",),  # expiresAt: see _domain_expiry
    "databases": ("name", "engine", "version"),
    "blockVolumes": ("name", "sizeGb", "region", "attachedToInstance", "attachedToInstanceLabel"),
    "buckets": ("name", "region", "hostname", "s3Endpoint", "sizeBytes", "objectCount"),
    "monitors": ("name", "url", "monitorType", "lastCheckedAt", "checkFrequency"),
    "issues": ("title", "severity", "project", "count", "userCount", "firstSeen", "lastSeen"),
    "repositories": (
        "name",
        "fullName",
        "description",
        "language",
        "private",
        "url",
        "defaultBranch",
    ),
    "deployments": ("name", "deploymentType", "createdAt"),
    "docks": ("name", "provider", "lastSyncStatus", "lastSyncAt", "lastSyncError"),
    "projects": ("name", "slug", "githubRepo", "teamId", "clientId"),
    "backupSchedules": (
        "siteUrl",
        "siteId",
        "type",
        "frequency",
        "time",
        "dayOfWeek",
        "serviceName",
        "enabled",
        "remoteBackupsEnabled",
    ),
}
NAME_FIELD = {"domains": "domainName", "issues": "title", "backupSchedules": "siteUrl"}
_WITH_PROVIDER = frozenset(RESOURCE_KINDS + MONITORING_KINDS + BACKUP_KINDS)
_TIMES = frozenset(TIME_FIELDS)
_DAY_MS = 86_400_000
STRING_CHARS = 300  # longest string a tool result carries; sync errors and descriptions run long


LABELS: dict[str, tuple[str, str]] = {
    "servers": ("server", "servers"),
    "webServices": ("web service", "web services"),
    "domains": ("domain", "domains"),
    "databases": ("database", "databases"),
    "blockVolumes": ("block volume", "block volumes"),
    "buckets": ("bucket", "buckets"),
    "monitors": ("monitor", "monitors"),
    "issues": ("alert", "alerts"),
    "repositories": ("repository", "repositories"),
    "deployments": ("deployment", "deployments"),
    "docks": ("dock", "docks"),
    "projects": ("project", "projects"),
    "backupSchedules": ("backup schedule", "backup schedules"),
}
GROUP_BY = ("provider", "status", "kind")
_EXTRA_KIND_NAMES = {
    "alert": "issues",
    "alerts": "issues",
    "sentry": "issues",
    "volume": "blockVolumes",
    "volumes": "blockVolumes",
    "repo": "repositories",
    "repos": "repositories",
    "service": "webServices",
    "services": "webServices",
    "sites": "webServices",
    "db": "databases",
    "dbs": "databases",
    "connections": "docks",
    "uptime": "monitors",
    "backup": "backupSchedules",
    "backups": "backupSchedules",
}


def norm(value: str) -> str:
    """Lowercase without spaces, dashes or underscores: "Digital Ocean" == "digitalocean"."""
    return value.lower().replace(" ", "").replace("-", "").replace("_", "")


_KIND_BY_NAME = {norm(k): k for k in KINDS} | {norm(k).removesuffix("s"): k for k in KINDS}
_KIND_BY_NAME |= {norm(name): kind for name, kind in _EXTRA_KIND_NAMES.items()}
_KIND_BY_NAME["repository"] = "repositories"


class ArgumentError(ValueError):
    """A tool call's arguments are unusable; the message is meant for the model."""


def _kind(value: Any) -> str:
    kind = _KIND_BY_NAME.get(norm(value)) if isinstance(value, str) else None
    if kind is None:
        raise ArgumentError(f"Unknown kind {value!r}. Use one of: {', '.join(KINDS)}.")
    return kind


def _text_arg(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(f"'{name}' must be a non-empty string, got {value!r}.")
    if len(value) > 200:
        raise ArgumentError(f"'{name}' is too long (at most 200 characters).")
    return value.strip()


def _limit_arg(value: Any, max_limit: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(f"'limit' must be a whole number from 1 to {max_limit}, got {value!r}.")
    return min(value, max_limit)


_PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # tool -> (required, optional)
    "list_resources": (("kind",), ("provider", "status", "name_contains", "limit")),
    "get_resource": (("kind", "id_or_name"), ()),
    "count_resources": ((), ("kind", "group_by")),
    "find_problems": ((), ()),
}


_ACCEPTED = {tool: frozenset(required + optional) for tool, (required, optional) in _PARAMS.items()}


def check_arguments(tool: str, arguments: Any, max_limit: int) -> dict[str, Any]:
    """The tool's arguments checked and normalised; raises ArgumentError with a usable message."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise ArgumentError(f"Arguments of {tool} must be a JSON object.")
    required, optional = _PARAMS[tool]
    given = {k: v for k, v in arguments.items() if v is not None}
    accepted = _ACCEPTED[tool]
    unknown = sorted(k for k in given if k not in accepted)
    if unknown:
        allowed = ", ".join(required + optional) or "none"
        raise ArgumentError(
            f"{tool} does not take {', '.join(unknown)}; it takes: {allowed}. "
            "Tools always work on the asker's own organisation."
        )
    missing = [name for name in required if name not in given]
    if missing:
        raise ArgumentError(f"{tool} needs {', '.join(missing)}.")
    checked: dict[str, Any] = {}
    for name, value in given.items():
        if name == "kind":
            checked[name] = _kind(value)
        elif name == "limit":
            checked[name] = _limit_arg(value, max_limit)
        elif name == "group_by":
            if value not in GROUP_BY:
                raise ArgumentError(f"'group_by' must be one of: {', '.join(GROUP_BY)}.")
            checked[name] = value
        else:
            checked[name] = _text_arg(name, value)
    return checked


@functools.lru_cache(maxsize=16)
def tool_specs(max_limit: int) -> tuple[ToolSpec, ...]:
    """The tools' definitions, built once per limit: every turn of every question sends them.
    Shared, so never to be changed by whoever reads them."""
    kind = {"type": "string", "enum": list(KINDS), "description": "A StackDock table name."}
    text = {"type": "string"}
    return (
        ToolSpec(
            "list_resources",
            "List the asker's org's resources of one kind, optionally filtered. Returns at most "
            "`limit` items sorted by name, with the total that matched. `syncedAt` is when "
            "StackDock last synced a row, never a change or deploy time; web services carry "
            "`lastDeployedAt` where the provider reports it. For backupSchedules the result "
            "also names the sites whose backups are off or missing.",
            {
                "type": "object",
                "properties": {
                    "kind": kind,
                    "provider": {**text, "description": "e.g. digitalocean, vercel, neon"},
                    "status": {
                        **text,
                        "description": "e.g. running, stopped, error, down, open, disabled",
                    },
                    "name_contains": {**text, "description": "case-insensitive part of the name"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": max_limit},
                },
                "required": ["kind"],
                "additionalProperties": False,
            },
        ),
        ToolSpec(
            "get_resource",
            "One resource by id or name, with a redacted summary of the provider's own data "
            "(details such as CPU or memory exist only there, when the provider sends them).",
            {
                "type": "object",
                "properties": {"kind": kind, "id_or_name": text},
                "required": ["kind", "id_or_name"],
                "additionalProperties": False,
            },
        ),
        ToolSpec(
            "count_resources",
            "Count resources of one kind, or of every kind the asker may read, optionally "
            "grouped by provider, status or kind.",
            {
                "type": "object",
                "properties": {
                    "kind": kind,
                    "group_by": {"type": "string", "enum": list(GROUP_BY)},
                },
                "additionalProperties": False,
            },
        ),
        ToolSpec(
            "find_problems",
            "What needs attention: docks whose last sync failed, monitors down, open critical "
            "and high alerts, sites with backups disabled, and domains whose registrar expiry "
            "is within 30 days (a guessed expiry is never a problem). Most severe first.",
            {"type": "object", "properties": {}, "additionalProperties": False},
        ),
    )


def display_name(kind: str, doc: Document) -> str:
    return str(doc.get(NAME_FIELD.get(kind, "name")) or doc.get("_id") or "")


def status_of(kind: str, doc: Document) -> str:
    if kind == "backupSchedules":
        return schedule_status(doc)
    value = doc.get("lastSyncStatus" if kind == "docks" else "status")
    return "" if value is None else str(value)


def label(kind: str, n: int) -> str:
    singular, plural = LABELS.get(kind, (kind, kind))
    return f"{n} {singular if n == 1 else plural}"


def iso(ms: Any) -> Any:
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ms


class OrgTools:
    """The ToolRunner for one Principal: list, get, count and find_problems over their org."""

    def __init__(
        self,
        mirror: Mirror,
        principal: Principal,
        *,
        now: Callable[[], datetime],
        default_limit: int = 20,
        max_limit: int = 50,
    ) -> None:
        self.mirror = mirror
        self.principal = principal
        self.now = now
        self.default_limit = default_limit
        self.max_limit = max_limit
        self._handlers: dict[str, Callable[..., ToolResult]] = {
            "list_resources": self._list,
            "get_resource": self._get,
            "count_resources": self._count,
            "find_problems": self._problems,
        }

    def specs(self) -> Sequence[ToolSpec]:
        return tool_specs(self.max_limit)

    async def call(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        handler = self._handlers.get(name)
        if handler is None:
            known = ", ".join(self._handlers)
            return self._error(f"Unknown tool '{name}'. Available tools: {known}.", name)
        try:
            args = check_arguments(name, arguments, self.max_limit)
            return handler(**args)
        except ArgumentError as exc:
            return self._error(str(exc), f"Could not run {name}")
        except Exception:  # a tool failure must end in a reply the model can relay, not a crash
            log.exception("tool %s failed", name)
            return self._error(f"{name} failed unexpectedly; try again or ask differently.", name)

    # ---- shared pieces ----

    def _error(self, message: str, summary: str) -> ToolResult:
        return ToolResult(content=self._out({"error": message}), summary=summary, is_error=True)

    def _refusal(self, kind: str) -> ToolResult | None:
        reason = kind_denial(kind, self.principal.permissions, self.principal.role_name)
        if reason is None:
            return None
        return ToolResult(
            content={"error": reason}, summary=f"Not allowed to read {kind}", is_error=True
        )

    def _rows(self, kind: str) -> Sequence[Document]:
        return self.mirror.rows(self.principal.org_id, kind)

    def _out(self, value: Any) -> Any:
        return redact_for_channel(value, self.principal.show_detail, max_chars=STRING_CHARS)

    def _item(self, kind: str, doc: Document, now_ms: float) -> dict[str, Any]:
        item: dict[str, Any] = {"id": doc.get("_id")}
        if kind in _WITH_PROVIDER:
            item["provider"] = doc.get("provider")
            if status := status_of(kind, doc):  # repositories have no status
                item["status"] = status
        for field in OWN_FIELDS[kind]:
            if doc.get(field) is not None:
                item[field] = iso(doc[field]) if field in _TIMES else doc[field]
        derive = _DERIVED.get(kind)
        if derive is not None:
            item.update(derive(self, doc, now_ms))
        if doc.get("updatedAt") is not None:
            item["syncedAt"] = iso(doc["updatedAt"])
        return item

    def _domain_expiry(self, doc: Document, now_ms: float) -> dict[str, Any]:
        expiry = domain_expiry(doc)
        fields: dict[str, Any] = {"expiryNote": expiry.note}
        if expiry.at_ms is not None and expiry.is_real:
            fields["expiresAt"] = iso(expiry.at_ms)
            fields["daysToExpiry"] = round((expiry.at_ms - now_ms) / _DAY_MS)
        elif expiry.at_ms is not None:
            fields["estimatedExpiresAt"] = iso(expiry.at_ms)
        return fields

    def _deploy(self, doc: Document, now_ms: float) -> dict[str, Any]:
        deploy = last_deploy(doc)
        if deploy.at_ms is None:
            return {"lastDeploySource": deploy.source}
        return {
            "lastDeployedAt": iso(deploy.at_ms),
            "daysSinceDeploy": round((now_ms - deploy.at_ms) / _DAY_MS),
            "lastDeploySource": deploy.source,
        }

    def _alert(self, doc: Document, now_ms: float) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if not doc.get("severity") and (severity := issue_severity(doc)):
            fields["severity"] = severity  # StackDock's mapping of the level it kept
        if level := sentry_level(doc):
            fields["sentryLevel"] = level
        return fields

    def _dock_sync(self, doc: Document, now_ms: float) -> dict[str, Any]:
        config = doc.get("syncConfig")
        config = config if isinstance(config, Mapping) else {}
        fields: dict[str, Any] = {}
        if isinstance(config.get("enabled"), bool):
            fields["autoSync"] = config["enabled"]
        for source, name in (
            ("intervalSeconds", "syncIntervalSeconds"),
            ("consecutiveFailures", "consecutiveFailures"),
        ):
            if isinstance(config.get(source), int | float):
                fields[name] = config[source]
        if (backoff := epoch_ms(config.get("backoffUntil"))) is not None and backoff > now_ms:
            fields["nextSyncAttemptAt"] = iso(backoff)
        if isinstance(doc.get("syncInProgress"), bool):
            fields["syncInProgress"] = doc["syncInProgress"]
        if str(doc.get("lastSyncStatus") or "").lower() == "error":
            fields["syncState"] = dock_sync_state(doc, now_ms)
        return fields

    def _schedule(self, doc: Document, now_ms: float) -> dict[str, Any]:
        where = destinations(self._rows("backupIntegrations"))
        return {"schedule": describe(doc, where)}

    # ---- the tools ----

    def _list(
        self,
        kind: str,
        provider: str | None = None,
        status: str | None = None,
        name_contains: str | None = None,
        limit: int | None = None,
    ) -> ToolResult:
        if refused := self._refusal(kind):
            return refused
        limit = min(limit or self.default_limit, self.max_limit)
        rows: Sequence[Document] = self._rows(kind)
        if provider or status or name_contains:
            want_provider = norm(provider) if provider else None
            want_status = norm(status) if status else None
            needle = name_contains.lower() if name_contains else None
            rows = [
                doc
                for doc in rows
                if (want_provider is None or norm(str(doc.get("provider") or "")) == want_provider)
                and (want_status is None or norm(status_of(kind, doc)) == want_status)
                and (needle is None or needle in display_name(kind, doc).lower())
            ]
        chosen = heapq.nsmallest(limit, rows, key=lambda d: display_name(kind, d).lower())
        now_ms = self.now().timestamp() * 1000
        content: dict[str, Any] = {
            "kind": kind,
            "total": len(rows),
            "returned": len(chosen),
            "items": self._out([self._item(kind, doc, now_ms) for doc in chosen]),
        }
        if len(rows) > len(chosen):
            more = len(rows) - len(chosen)
            content["note"] = f"{more} more not shown; narrow with provider/status/name_contains"
        if kind == "backupSchedules":
            content["sites"] = self._out(self._sites(name_contains))
        return ToolResult(content=content, summary=f"Looked up {label(kind, len(rows))}")

    def _sites(self, name_contains: str | None = None) -> dict[str, Any]:
        """Backups per site: which sites have them on, and which have none running."""
        where = destinations(self._rows("backupIntegrations"))
        sites = site_backups(self._rows("backupSchedules"), self._rows("webServices"))
        if name_contains:
            sites = [s for s in sites if name_contains.lower() in s.site.lower()]
        off = [{"site": s.site, "state": s.state(where)} for s in sites if not s.on]
        on = [{"site": s.site, "state": s.state(where)} for s in sites if s.on]
        return {
            "total": len(sites),
            "withBackupsOn": on[: self.max_limit],
            "withoutBackups": off[: self.max_limit],
        }

    def _get(self, kind: str, id_or_name: str) -> ToolResult:
        if refused := self._refusal(kind):
            return refused
        rows = self._rows(kind)
        wanted = id_or_name.strip()
        found = [d for d in rows if str(d.get("_id")) == wanted]
        if not found:
            lowered = wanted.lower()
            found = [
                d
                for d in rows
                if display_name(kind, d).lower() == lowered
                or str(d.get("providerResourceId") or "").lower() == lowered
            ]
        if not found:
            found = [d for d in rows if wanted.lower() in display_name(kind, d).lower()]
        if not found:
            return self._error(
                f"No {LABELS[kind][0]} with id or name '{wanted}' in {self.principal.org_name}.",
                self._out(f"Found no {LABELS[kind][0]} matching '{wanted}'"),
            )
        if kind == "backupSchedules" and len({display_name(kind, d) for d in found}) == 1:
            return self._site_backups(found)
        if len(found) > 1:
            names = [{"id": d.get("_id"), "name": display_name(kind, d)} for d in found[:10]]
            return ToolResult(
                content=self._out(
                    {
                        "error": f"{len(found)} {LABELS[kind][1]} match '{wanted}'; ask by id.",
                        "candidates": names,
                    }
                ),
                summary=self._out(f"Found {label(kind, len(found))} matching '{wanted}'"),
                is_error=True,
            )
        doc = found[0]
        item = self._item(kind, doc, self.now().timestamp() * 1000)
        item["details"] = safe_details(doc.get("fullApiData"))
        if kind == "projects":
            item["resources"] = self._project_resources(str(doc.get("_id")))
        if kind == "docks":
            item["resourceCounts"] = self._dock_counts(str(doc.get("_id")))
        return ToolResult(
            content={"kind": kind, "item": self._out(item)},
            summary=self._out(f"Looked up {LABELS[kind][0]} {display_name(kind, doc)}"),
        )

    def _site_backups(self, schedules: Sequence[Document]) -> ToolResult:
        """A site's schedules (a local and a remote one, usually) answer "are backups on"."""
        site = display_name("backupSchedules", schedules[0])
        now_ms = self.now().timestamp() * 1000
        where = destinations(self._rows("backupIntegrations"))
        states = site_backups(schedules)  # one per dock, should a site sit in two
        item = {
            "site": site,
            "backupsOn": any(state.on for state in states),
            "state": "; ".join(state.state(where) for state in states),
            "schedules": [self._item("backupSchedules", d, now_ms) for d in schedules],
        }
        return ToolResult(
            content={"kind": "backupSchedules", "item": self._out(item)},
            summary=self._out(f"Looked up backups of {site}"),
        )

    def _project_resources(self, project_id: str) -> dict[str, Any]:
        links = [
            {
                "table": link.get("resourceTable"),
                "id": link.get("resourceId"),
                "name": link.get("denormalized_name"),
                "status": link.get("denormalized_status"),
            }
            for link in self._rows("projectResources")
            if str(link.get("projectId")) == project_id
            and can_read(str(link.get("resourceTable")), self.principal.permissions)
        ]
        return {"total": len(links), "items": links[: self.max_limit]}

    def _dock_counts(self, dock_id: str) -> dict[str, int]:
        counts = {}
        for kind in readable_kinds(self.principal.permissions):
            n = sum(1 for d in self._rows(kind) if str(d.get("dockId")) == dock_id)
            if n and kind != "docks":
                counts[kind] = n
        return counts

    def _count(self, kind: str | None = None, group_by: str | None = None) -> ToolResult:
        if kind is not None:
            if refused := self._refusal(kind):
                return refused
            kinds: tuple[str, ...] = (kind,)
        else:
            kinds = readable_kinds(self.principal.permissions)
            group_by = group_by or "kind"
        groups: Counter[str] = Counter()
        total = 0
        for each in kinds:
            rows = self._rows(each)
            total += len(rows)
            if group_by == "kind":
                groups[each] += len(rows)
            elif group_by == "provider":
                groups.update(str(d.get("provider") or "(none)") for d in rows)
            elif group_by == "status":
                groups.update(status_of(each, d) or "(none)" for d in rows)
        content: dict[str, Any] = {"kind": kind or "all", "total": total}
        if group_by:
            top = groups.most_common(30)
            content["group_by"] = group_by
            content["groups"] = dict(top)
            rest = total - sum(n for _, n in top)
            if rest:
                content["groups"]["(others)"] = rest
        if kind is None and (skipped := self._unreadable(KINDS)):
            content["not_counted"] = skipped
        what = label(kind, total) if kind else f"{total} resources"
        summary = f"Counted {what}" + (f" by {group_by}" if group_by else "")
        return ToolResult(content=self._out(content), summary=summary)

    def _unreadable(self, kinds: Sequence[str]) -> dict[str, str]:
        perms, role = self.principal.permissions, self.principal.role_name
        return {k: reason for k in kinds if (reason := kind_denial(k, perms, role)) is not None}

    def _problems(self) -> ToolResult:
        perms = self.principal.permissions
        kinds = [k for k in PROBLEM_KINDS if can_read(k, perms)]
        found = find_problems(self.mirror, self.principal.org_id, self.now(), kinds)
        shown = found[:25]
        content: dict[str, Any] = {
            "total": len(found),
            "returned": len(shown),
            "problems": self._out([p.as_dict() for p in shown]),
        }
        if len(found) > len(shown):
            content["note"] = f"{len(found) - len(shown)} more not shown, all less severe"
        if skipped := self._unreadable(PROBLEM_KINDS):
            content["not_checked"] = skipped
        n = len(found)
        return ToolResult(content=content, summary=f"Found {n} problem{'s' if n != 1 else ''}")


_DERIVED: dict[str, Callable[[OrgTools, Document, float], dict[str, Any]]] = {
    "domains": OrgTools._domain_expiry,
    "webServices": OrgTools._deploy,
    "issues": OrgTools._alert,
    "docks": OrgTools._dock_sync,
    "backupSchedules": OrgTools._schedule,
}
