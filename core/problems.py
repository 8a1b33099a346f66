"""What in an org needs attention: failing syncs, monitors down, serious alerts, sites without
backups, domains whose real expiry is near.

The rules, read against the values StackDock really writes (docs/data.md says the same):
- Docks: `lastSyncStatus == "error"` is high; pending and syncing are not problems. The detail
  gives the error, then for how many syncs in a row it has failed and when StackDock tries
  again (`syncConfig.consecutiveFailures`, `syncConfig.backoffUntil`).
- Monitors (Better Stack's own statuses): `down` is critical; `validating` (a failed check
  Better Stack is confirming from other regions) is medium; `up`, `paused`, `maintenance` and
  `pending` (created, not checked yet) are not problems. Any other status is medium.
- Alerts (`issues`): an open alert whose severity is `critical` (Sentry level fatal) or `high`
  (level error) is a problem of that severity. Medium (warning) and low (info, debug) are not,
  nor is a resolved or ignored alert.
- Backups: a GridPane site whose backup schedules are all disabled, or that has none while its
  dock synced schedules for other sites, is high (see core.stackdock.backups).
- Domains: only a registrar's expiry counts: expired is critical, within 7 days high, within 30
  days medium. A GridPane `expiresAt` is StackDock's guess and never a problem; Cloudflare zones
  have no expiry (see core.stackdock.expiry).

A problem's name and detail are StackDock text (titles, sync errors) that anyone with a provider
account may have written: they are kept to one bounded line here, so every consumer (the
prompt, tool results, alerts in chat) gets text that cannot pose as new lines of anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from core.ports import Document, Mirror
from core.redact import one_line
from core.stackdock.backups import destinations, site_backups
from core.stackdock.expiry import domain_expiry
from core.stackdock.fields import epoch_ms

SEVERITY_ORDER: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}
PROBLEM_KINDS: tuple[str, ...] = ("docks", "monitors", "issues", "backupSchedules", "domains")
EXPIRY_WINDOW_DAYS = 30

_CALM_MONITOR_STATES = frozenset({"up", "paused", "maintenance", "pending"})
_MONITOR_SEVERITY = {"down": "critical", "validating": "medium"}
_ISSUE_SEVERITY = {"critical": "critical", "high": "high"}
# StackDock's own mapping of Sentry levels, for a row that lacks `severity`.
_SENTRY_LEVEL_SEVERITY = {
    "fatal": "critical",
    "error": "high",
    "warning": "medium",
    "info": "low",
    "debug": "low",
}
_CLOSED_ISSUE_STATES = frozenset({"resolved", "ignored"})
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


def when(ms: float) -> str:
    """A time for people: "2025-06-02 12:30 UTC"."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def dock_sync_state(dock: Document, now_ms: float) -> str:
    """How a failing dock is doing: "failing for 4 syncs in a row, next try at …"."""
    config = dock.get("syncConfig")
    config = config if isinstance(config, Mapping) else {}
    failures = config.get("consecutiveFailures")
    parts = []
    if isinstance(failures, int) and not isinstance(failures, bool) and failures > 0:
        parts.append(f"failing for {failures} sync{'s' if failures != 1 else ''} in a row")
    else:
        parts.append("the last sync failed")
    if config.get("enabled") is False:
        parts.append("automatic sync is off")
    elif (backoff := epoch_ms(config.get("backoffUntil"))) is not None and backoff > now_ms:
        parts.append(f"next try at {when(backoff)}")
    last = epoch_ms(dock.get("lastSyncAt"))
    if last is not None:
        parts.append(f"last attempt {when(last)}")
    return ", ".join(parts)


def _docks(rows: Iterable[Document], now_ms: float) -> Iterator[Problem]:
    for dock in rows:
        if _text(dock.get("lastSyncStatus")).lower() == "error":
            error = _text(dock.get("lastSyncError")) or "no error message recorded"
            provider = dock.get("provider") or "provider"
            yield Problem(
                "docks",
                _text(dock.get("_id")),
                _text(dock.get("name")),
                "high",
                f"{provider} sync failed: {error}; {dock_sync_state(dock, now_ms)}",
            )


def _monitors(rows: Iterable[Document]) -> Iterator[Problem]:
    for monitor in rows:
        status = _text(monitor.get("status")).lower()
        if status in _CALM_MONITOR_STATES:
            continue
        severity = _MONITOR_SEVERITY.get(status, "medium")
        if status == "validating":
            detail = "monitor is validating: a check failed and Better Stack is confirming it"
        else:
            detail = f"monitor is {status or 'in an unknown state'}"
        yield Problem(
            "monitors", _text(monitor.get("_id")), _text(monitor.get("name")), severity, detail
        )


def sentry_level(issue: Document) -> str | None:
    """The raw Sentry level StackDock keeps in `fullApiData.issue.level`."""
    api = issue.get("fullApiData")
    raw = api.get("issue") if isinstance(api, Mapping) else None
    level = raw.get("level") if isinstance(raw, Mapping) else None
    return str(level).lower() if isinstance(level, str) and level else None


def issue_severity(issue: Document) -> str:
    """StackDock's `severity`, or its mapping of the raw Sentry level when the column is empty."""
    severity = _text(issue.get("severity")).lower()
    if severity:
        return severity
    return _SENTRY_LEVEL_SEVERITY.get(sentry_level(issue) or "", "")


def _issues(rows: Iterable[Document]) -> Iterator[Problem]:
    for issue in rows:
        severity = _ISSUE_SEVERITY.get(issue_severity(issue))
        if severity is None or _text(issue.get("status")).lower() in _CLOSED_ISSUE_STATES:
            continue
        level = sentry_level(issue)
        facts = [f"{severity} alert" + (f" (Sentry level {level})" if level else "")]
        facts.append(f"in {issue.get('project') or 'unknown project'}")
        if issue.get("count") is not None:
            facts.append(f"{issue['count']} events")
        if issue.get("userCount") is not None:
            facts.append(f"{issue['userCount']} users")
        if (seen := epoch_ms(issue.get("lastSeen"))) is not None:
            facts.append(f"last seen {when(seen)}")
        yield Problem(
            "issues",
            _text(issue.get("_id")),
            _text(issue.get("title")),
            severity,
            ", ".join(facts),
        )


def _backups(mirror: Mirror, org_id: str) -> Iterator[Problem]:
    schedules = mirror.rows(org_id, "backupSchedules")
    if not schedules:
        return
    where = destinations(mirror.rows(org_id, "backupIntegrations"))
    for site in site_backups(schedules, mirror.rows(org_id, "webServices")):
        if not site.on:
            first = site.schedules[0].get("_id") if site.schedules else None
            yield Problem(
                "backupSchedules",
                _text(first or site.site_id),
                site.site,
                "high",
                site.state(where),
            )


def _domains(rows: Iterable[Document], now_ms: float) -> Iterator[Problem]:
    for domain in rows:
        expiry = domain_expiry(domain)
        if not expiry.is_real or expiry.at_ms is None:
            continue
        days = (expiry.at_ms - now_ms) / _DAY_MS
        if days > EXPIRY_WINDOW_DAYS:
            continue
        name = _text(domain.get("domainName"))
        day = datetime.fromtimestamp(expiry.at_ms / 1000, UTC).date().isoformat()
        if days < 0:
            yield Problem("domains", _text(domain.get("_id")), name, "critical", f"expired {day}")
            continue
        severity = "high" if days <= 7 else "medium"
        detail = f"expires {day} (in {round(days)} days, {expiry.note})"
        yield Problem("domains", _text(domain.get("_id")), name, severity, detail)


def find_problems(
    mirror: Mirror, org_id: str, now: datetime, kinds: Iterable[str] = PROBLEM_KINDS
) -> list[Problem]:
    """The org's problems among `kinds` (the caller passes only kinds the asker may read),
    most severe first.

    Docks whose last sync failed (high); monitors `down` (critical) or `validating` (medium),
    never paused, maintenance or pending; open alerts of severity critical (Sentry fatal) or
    high (Sentry error); GridPane sites whose backups are all disabled or missing (high);
    domains whose registrar expiry is past (critical) or within 7 (high) or 30 days (medium).
    A guessed expiry (GridPane's) is never a problem.
    """
    wanted = set(kinds)
    now_ms = now.timestamp() * 1000
    found: list[Problem] = []
    if "docks" in wanted:
        found.extend(_docks(mirror.rows(org_id, "docks"), now_ms))
    if "monitors" in wanted:
        found.extend(_monitors(mirror.rows(org_id, "monitors")))
    if "issues" in wanted:
        found.extend(_issues(mirror.rows(org_id, "issues")))
    if "backupSchedules" in wanted:
        found.extend(_backups(mirror, org_id))
    if "domains" in wanted:
        found.extend(_domains(mirror.rows(org_id, "domains"), now_ms))
    found.sort(key=lambda p: (SEVERITY_ORDER.get(p.severity, 9), p.kind, p.name.lower()))
    return found
