"""What in an org needs attention: failed syncs, monitors not up, serious alerts, expiring domains.

Decisions, so answers stay useful rather than noisy:
- Docks: `lastSyncStatus == "error"` is a problem (high); pending and syncing are not.
- Monitors: "down" is critical; "paused" and "maintenance" are deliberate and not problems;
  any other status that is not "up" (validating, pending, unknown…) is medium.
- Issues (Sentry alerts): severity "critical" or Sentry's "fatal" level is critical, "high" is
  high. Sentry's "error" level is not counted: it is the default level of every exception, so
  it would bury the real problems. Resolved or ignored issues are not problems.
- Domains: expired is critical, expiring within 7 days high, within 30 days medium.

A problem's name and detail are StackDock text (titles, sync errors) that anyone with a provider
account may have written: they are kept to one bounded line here, so every consumer (the
prompt, tool results, alerts in chat) gets text that cannot pose as new lines of anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from core.ports import Document, Mirror
from core.redact import one_line

SEVERITY_ORDER: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}
PROBLEM_KINDS: tuple[str, ...] = ("docks", "monitors", "issues", "domains")
EXPIRY_WINDOW_DAYS = 30

_DELIBERATE_MONITOR_STATES = frozenset({"up", "paused", "maintenance"})
_ISSUE_SEVERITY = {"critical": "critical", "fatal": "critical", "high": "high"}
_CLOSED_ISSUE_STATES = frozenset({"resolved", "ignored", "archived", "muted"})
_DAY_MS = 86_400_000
_NAME_CHARS = 200
_DETAIL_CHARS = 240


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # the table it comes from
    id: str
    name: str  # one line, bounded
    severity: str  # critical | high | medium
    detail: str  # one line, bounded

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", one_line(self.name, _NAME_CHARS))
        object.__setattr__(self, "detail", one_line(self.detail, _DETAIL_CHARS))

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "severity": self.severity,
            "detail": self.detail,
        }


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _docks(rows: Iterable[Document]) -> Iterator[Problem]:
    for dock in rows:
        if _text(dock.get("lastSyncStatus")).lower() == "error":
            error = _text(dock.get("lastSyncError")) or "no error message recorded"
            yield Problem(
                "docks",
                _text(dock.get("_id")),
                _text(dock.get("name")),
                "high",
                f"{dock.get('provider', 'provider')} sync failed: {error}",
            )


def _monitors(rows: Iterable[Document]) -> Iterator[Problem]:
    for monitor in rows:
        status = _text(monitor.get("status")).lower()
        if status in _DELIBERATE_MONITOR_STATES:
            continue
        severity = "critical" if status == "down" else "medium"
        yield Problem(
            "monitors",
            _text(monitor.get("_id")),
            _text(monitor.get("name")),
            severity,
            f"monitor is {status or 'in an unknown state'}",
        )


def _issues(rows: Iterable[Document]) -> Iterator[Problem]:
    for issue in rows:
        severity = _ISSUE_SEVERITY.get(_text(issue.get("severity")).lower())
        if severity is None or _text(issue.get("status")).lower() in _CLOSED_ISSUE_STATES:
            continue
        count = issue.get("count")
        users = issue.get("userCount")
        seen = f", {count} events" if count is not None else ""
        seen += f", {users} users" if users is not None else ""
        yield Problem(
            "issues",
            _text(issue.get("_id")),
            _text(issue.get("title")),
            severity,
            f"{issue.get('severity')} alert in {issue.get('project', 'unknown project')}{seen}",
        )


def _domains(rows: Iterable[Document], now_ms: float) -> Iterator[Problem]:
    for domain in rows:
        expires = domain.get("expiresAt")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            continue
        days = (expires - now_ms) / _DAY_MS
        if days > EXPIRY_WINDOW_DAYS:
            continue
        name = _text(domain.get("domainName"))
        when = datetime.fromtimestamp(expires / 1000, UTC).date().isoformat()
        if days < 0:
            yield Problem("domains", _text(domain.get("_id")), name, "critical", f"expired {when}")
            continue
        severity = "high" if days <= 7 else "medium"
        detail = f"expires {when} (in {round(days)} days)"
        yield Problem("domains", _text(domain.get("_id")), name, severity, detail)


def find_problems(
    mirror: Mirror, org_id: str, now: datetime, kinds: Iterable[str] = PROBLEM_KINDS
) -> list[Problem]:
    """The org's problems among `kinds` (the caller passes only kinds the asker may read),
    most severe first."""
    wanted = set(kinds)
    found: list[Problem] = []
    if "docks" in wanted:
        found.extend(_docks(mirror.rows(org_id, "docks")))
    if "monitors" in wanted:
        found.extend(_monitors(mirror.rows(org_id, "monitors")))
    if "issues" in wanted:
        found.extend(_issues(mirror.rows(org_id, "issues")))
    if "domains" in wanted:
        found.extend(_domains(mirror.rows(org_id, "domains"), now.timestamp() * 1000))
    found.sort(key=lambda p: (SEVERITY_ORDER.get(p.severity, 9), p.kind, p.name.lower()))
    return found
