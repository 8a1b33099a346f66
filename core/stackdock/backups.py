"""Whether a GridPane site's backups run, from StackDock's `backupSchedules` and `backupIntegrations`.

StackDock writes one `backupSchedules` row per GridPane schedule. A site (`siteId`, `siteUrl`)
has a `local` and usually a `remote` schedule, each with `enabled`, `frequency` and `time`;
a remote one also names its destination (`serviceId`, matching a `backupIntegrations` row's
`integrationId`) and carries the site's `remoteBackupsEnabled`. The rows have no `status`.

Decisions:
- A schedule runs when it is `enabled`; a remote one also needs `remoteBackupsEnabled`.
- A site's backups are on when at least one of its schedules runs. A site whose schedules are
  all off has no backups, and so has a GridPane site with no schedule at all while its dock has
  synced schedules for other sites (a dock that synced none may simply predate backup sync, so
  its sites are not judged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.ports import Document
from core.stackdock.fields import provider_id

_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def runs(schedule: Document) -> bool:
    if schedule.get("enabled") is not True:
        return False
    return schedule.get("type") != "remote" or schedule.get("remoteBackupsEnabled") is True


def schedule_status(schedule: Document) -> str:
    """StackDock's rows have no status; this one is what `list_resources` filters on."""
    return "enabled" if runs(schedule) else "disabled"


def destinations(integrations: Iterable[Document]) -> dict[tuple[str, str], str]:
    """(dockId, integrationId) -> a readable name of where remote backups go."""
    named: dict[tuple[str, str], str] = {}
    for row in integrations:
        what = ", ".join(
            str(v) for v in (row.get("integratedService"), row.get("region")) if v not in (None, "")
        )
        name = str(row.get("integrationName") or row.get("integratedService") or "a remote store")
        key = (str(row.get("dockId")), str(row.get("integrationId")))
        named[key] = f"{name} ({what})" if what else name
    return named


def describe(schedule: Document, where: Mapping[tuple[str, str], str]) -> str:
    """One schedule in words: "remote daily at 03:30 to Acme S3 (aws-s3), disabled"."""
    parts = [str(schedule.get("type") or "backup"), str(schedule.get("frequency") or "")]
    day = schedule.get("dayOfWeek")
    if isinstance(day, int) and not isinstance(day, bool) and 0 <= day < len(_DAYS):
        parts.append(f"on {_DAYS[day]}")
    if schedule.get("time"):
        parts.append(f"at {schedule['time']}")
    if schedule.get("type") == "remote":
        target = where.get((str(schedule.get("dockId")), str(schedule.get("serviceId"))))
        target = target or schedule.get("serviceName")
        if target:
            parts.append(f"to {target}")
    text = " ".join(p for p in parts if p)
    return text if runs(schedule) else f"{text}, disabled"


@dataclass(frozen=True, slots=True)
class SiteBackups:
    site: str
    site_id: str
    dock_id: str
    schedules: tuple[Document, ...]

    @property
    def on(self) -> bool:
        return any(runs(s) for s in self.schedules)

    def state(self, where: Mapping[tuple[str, str], str]) -> str:
        if not self.schedules:
            return "no backup schedule in StackDock"
        if self.on:
            running = [describe(s, where) for s in self.schedules if runs(s)]
            return "backups on: " + "; ".join(running)
        return (
            "backups off: every schedule is disabled ("
            + "; ".join(describe(s, where) for s in self.schedules)
            + ")"
        )


def _site_key(row: Document) -> tuple[str, str]:
    site = row.get("siteId")
    return str(row.get("dockId")), str(site if site is not None else row.get("siteUrl"))


def site_backups(
    schedules: Iterable[Document], web_services: Iterable[Document] = ()
) -> list[SiteBackups]:
    """Every site with schedules, and every GridPane site without one whose dock synced some."""
    grouped: dict[tuple[str, str], list[Document]] = {}
    for row in schedules:
        grouped.setdefault(_site_key(row), []).append(row)
    sites = [
        SiteBackups(str(rows[0].get("siteUrl") or key[1]), key[1], key[0], tuple(rows))
        for key, rows in grouped.items()
    ]
    docks_with_schedules = {dock for dock, _ in grouped}
    for service in web_services:
        dock = str(service.get("dockId"))
        key = (dock, str(service.get("providerResourceId")))
        if (
            provider_id(service.get("provider")) == "gridpane"
            and dock in docks_with_schedules
            and key not in grouped
        ):
            sites.append(SiteBackups(str(service.get("name") or key[1]), key[1], dock, ()))
    return sorted(sites, key=lambda s: s.site.lower())
