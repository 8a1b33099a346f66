"""StackDock's `"<area>:<level>"` permission checks, and which area guards each kind of row.

A role's `permissions` maps areas (projects, resources, docks, operations, settings, and the
optional provisioning, monitoring) to `"none" | "read" | "full"`. `full` allows read and write,
`read` allows only a `:read` request, and `none`, a missing key or an unknown level denies.

StackDock has no `ai` area yet; this bot adds one (`read` = may ask, `full` = may also see org
usage and audit and manage links). Roles written before it existed lack the key, so
`effective_permissions` applies this fallback:

- `ai = "full"` when `settings` is `"full"` (the people who administer the org),
- else `ai = "read"` when any of `projects`, `resources` or `monitoring` is `read` or `full`
  (they can already see the data the assistant would tell them about),
- else `ai = "none"`.

An explicit `ai` key always wins, so an org can switch the assistant off for a role.

Monitors and issues (BetterStack, Sentry) are guarded by `monitoring`; a role without a
`monitoring` key falls back to `resources`, which is how StackDock guarded them before the area
existed.
"""

from __future__ import annotations

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

# The kinds a tool can be asked about, in the order the README's tool list names them.
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
)

_AI_FALLBACK_SOURCES = ("projects", "resources", "monitoring")


def _level(value: object) -> str:
    text = str(value).strip().lower() if value is not None else "none"
    return text if text in LEVELS else "none"


def effective_permissions(role_permissions: Mapping[str, str]) -> dict[str, str]:
    """The role's permissions with unknown levels read as `none` and the `ai` fallback applied."""
    permissions = {str(area): _level(level) for area, level in role_permissions.items()}
    if "ai" not in role_permissions:
        if permissions.get("settings") == "full":
            permissions["ai"] = "full"
        elif any(permissions.get(a) in ("read", "full") for a in _AI_FALLBACK_SOURCES):
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
        return have in ("read", "full")
    if wanted in ("write", "full"):
        return have == "full"
    return False


def area_for_kind(kind: str, permissions: Mapping[str, str]) -> str:
    """The permission area that guards reading `kind` for a role with these permissions."""
    if kind in MONITORING_KINDS:
        return "monitoring" if "monitoring" in permissions else "resources"
    if kind == "docks":
        return "docks"
    if kind in ("projects", "projectResources"):
        return "projects"
    return "resources"


def can_read(kind: str, permissions: Mapping[str, str]) -> bool:
    return allows(permissions, f"{area_for_kind(kind, permissions)}:read")


def readable_kinds(permissions: Mapping[str, str]) -> tuple[str, ...]:
    """The KINDS this role may read, in KINDS order."""
    return tuple(kind for kind in KINDS if can_read(kind, permissions))


def kind_denial(kind: str, permissions: Mapping[str, str], role_name: str = "") -> str | None:
    """Why this role may not read `kind`, worded for the person; None when it may."""
    area = area_for_kind(kind, permissions)
    if allows(permissions, f"{area}:read"):
        return None
    who = f"Your role ({role_name})" if role_name else "Your role"
    return f"{who} can't read {kind}: it needs {area}:read."
