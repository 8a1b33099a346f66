"""StackDock's `"<area>:<level>"` permission checks, and which area guards each kind of row.

A role's `permissions` maps areas (projects, resources, docks, operations, settings, and the
optional provisioning, monitoring) to `"none" | "read" | "full"`. `full` allows read and write,
`read` allows only a `:read` request, and `none`, a missing key or an unknown level denies.

Real StackDock roles lack two keys this bot reads, so `effective_permissions` fills them in:

- `monitoring` (guards monitors and Sentry alerts). StackDock's org-creation Admin role has no
  `monitoring` key, and neither has any role written before the area existed. The fallback is
  what StackDock's own migration (`addNewPermissionsToRoles`) gives such a role: `read` when
  `resources` or `projects` is `read` or `full`, else `none`. (The migration gives an Admin
  `full`; the bot only reads, so `read` is the same to it.)
- `ai` (this bot's own area: `read` = may ask, `full` = may also see org usage and audit and
  manage links). StackDock has no such key at all, so every real role gets the fallback:
  `full` when `settings` is `full` (the people who administer the org), else `read` when any of
  `projects`, `resources` or `monitoring` is `read` or `full` (they can already see the data
  the assistant would tell them about), else `none`.

An explicit key always wins, so an org can switch the assistant off for a role (`ai: none`) or
hide alerts from one (`monitoring: none`). Backup schedules are resources (GridPane syncs them
like sites), so `resources` guards them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

LEVELS: tuple[str, ...] = ("none", "read", "full")

RESOURCE_KINDS: tuple[str, ...] = (
    "servers",
    "webServices",
    "domains",
    "databases",
    "blockVolumes",
    "buckets",
    "repositories",
    "deployments",
)
MONITORING_KINDS: tuple[str, ...] = ("monitors", "issues")
# Configuration of resources rather than resources: not counted as resources in summaries.
BACKUP_KINDS: tuple[str, ...] = ("backupSchedules",)

# The kinds a tool can be asked about, in the order the design's tool list names them.
KINDS: tuple[str, ...] = (
    "servers",
    "webServices",
    "domains",
    "databases",
    "blockVolumes",
    "buckets",
    "monitors",
    "issues",
    "repositories",
    "deployments",
    "docks",
    "projects",
    "backupSchedules",
)

_AI_FALLBACK_SOURCES = ("projects", "resources", "monitoring")
_MONITORING_FALLBACK_SOURCES = ("projects", "resources")
_READABLE = ("read", "full")


def _level(value: object) -> str:
    text = str(value).strip().lower() if value is not None else "none"
    return text if text in LEVELS else "none"


def _with_monitoring(permissions: Mapping[str, str]) -> Mapping[str, str]:
    """`permissions` with StackDock's migration fallback for a missing `monitoring` key."""
    if "monitoring" in permissions:
        return permissions
    readable = any(_level(permissions.get(a)) in _READABLE for a in _MONITORING_FALLBACK_SOURCES)
    return {**permissions, "monitoring": "read" if readable else "none"}


def effective_permissions(role_permissions: Mapping[str, str]) -> dict[str, str]:
    """The role's permissions with unknown levels read as `none` and the `monitoring` and `ai`
    fallbacks applied."""
    permissions = {str(area): _level(level) for area, level in role_permissions.items()}
    permissions = dict(_with_monitoring(permissions))
    if "ai" not in role_permissions:
        if permissions.get("settings") == "full":
            permissions["ai"] = "full"
        elif any(permissions.get(a) in _READABLE for a in _AI_FALLBACK_SOURCES):
            permissions["ai"] = "read"
        else:
            permissions["ai"] = "none"
    return permissions


def allows(permissions: Mapping[str, str], permission: str) -> bool:
    """Whether `permissions` grant `permission`, written `"<area>:<level>"` (read/write/full)."""
    area, _, wanted = permission.partition(":")
    have = _level(permissions.get(area))
    wanted = wanted.strip().lower()
    if wanted == "read":
        return have in _READABLE
    if wanted in ("write", "full"):
        return have == "full"
    return False


def area_for_kind(kind: str) -> str:
    """The permission area that guards reading `kind`."""
    if kind in MONITORING_KINDS:
        return "monitoring"
    if kind == "docks":
        return "docks"
    if kind in ("projects", "projectResources"):
        return "projects"
    return "resources"


def can_read(kind: str, permissions: Mapping[str, str]) -> bool:
    """Whether these permissions (a role's own, or effective ones) may read `kind`."""
    # allows(_with_monitoring(permissions), f"{area}:read"), without the copy and the parsing:
    # a question asks it of a dozen kinds, and only the monitoring area has a fallback.
    area = area_for_kind(kind)
    if area == "monitoring":
        permissions = _with_monitoring(permissions)
    level = permissions.get(area)
    return level in _READABLE or _level(level) in _READABLE


def readable_kinds(permissions: Mapping[str, str]) -> tuple[str, ...]:
    """The KINDS this role may read, in KINDS order."""
    try:
        granted = frozenset(permissions.items())
    except TypeError:  # a level that is no string (bad data): read as it is, not kept
        return _readable(permissions)
    return _readable_kept(granted)


def _readable(permissions: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(kind for kind in KINDS if can_read(kind, permissions))


# Every question asks it of its role (about twenty checks); an org has a handful of roles.
@functools.lru_cache(maxsize=1024)
def _readable_kept(granted: frozenset[tuple[str, str]]) -> tuple[str, ...]:
    return _readable(dict(granted))


def kind_denial(kind: str, permissions: Mapping[str, str], role_name: str = "") -> str | None:
    """Why this role may not read `kind`, worded for the person; None when it may."""
    if can_read(kind, permissions):
        return None
    who = f"Your role ({role_name})" if role_name else "Your role"
    return f"{who} can't read {kind}: it needs {area_for_kind(kind)}:read."
