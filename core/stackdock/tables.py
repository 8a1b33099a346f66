"""Which StackDock tables and fields the bot keeps, and the one filter every ingest path applies.

A whole StackDock deployment holds far more than the assistant needs: the audit log, billing
(customers with emails, invoices, subscriptions), rate-limit logs, operation services with
encrypted config, and on each dock an encrypted API key and provisioning credentials. The bot
mirrors only the tables a feature below uses; the Convex sync asks for nothing else and the
snapshot loader reads nothing else. Credential fields are dropped wherever they sit in a document,
before anything is stored, so no copy of them exists in memory, in the database or in a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# table -> the feature that reads it. Order: people first, then what the tools list.
MIRRORED: Mapping[str, str] = {
    "organizations": "identity: the org a question is about, and its name",
    "users": "identity: linking a chat user by StackDock id or email",
    "memberships": "identity: a user's orgs and the role in each",
    "roles": "access: what each role may read",
    "servers": "resources tools",
    "webServices": "resources tools, deploy times",
    "domains": "resources tools, expiry",
    "databases": "resources tools",
    "blockVolumes": "resources tools",
    "buckets": "resources tools",
    "monitors": "monitoring tools, problems (monitors not up)",
    "issues": "monitoring tools, problems (Sentry alerts)",
    "repositories": "resources tools",
    "deployments": "resources tools",
    "docks": "problems (failing provider syncs), provider list",
    "projects": "projects tool",
    "projectResources": "projects tool: which resources a project holds",
    "backupSchedules": "backups: is a site backed up, how often",
    "backupIntegrations": "backups: where a site's backups go",
}
MIRRORED_TABLES: tuple[str, ...] = tuple(MIRRORED)

# Never kept, at any depth of any document: StackDock's encrypted provider credentials.
NEVER_KEPT_FIELDS: frozenset[str] = frozenset({"encryptedApiKey", "provisioningCredentials"})
# Any other field named like these (in any case) holds ciphertext or credentials: StackDock's
# own naming, and the providers' (a backup destination's `credentials`, say).
_NEVER_KEPT_PREFIXES = ("encrypted",)
_NEVER_KEPT_SUFFIXES = ("credentials",)

# Tables kept field by field: identity needs a user's id, name, email and default org; the
# Clerk id, profile image and anything else StackDock adds to users later stay behind.
KEPT_FIELDS: Mapping[str, frozenset[str]] = {
    "users": frozenset({"_id", "_creationTime", "name", "email", "defaultOrgId"}),
}


def is_mirrored(table: str) -> bool:
    return table in MIRRORED


def never_kept(field: str) -> bool:
    """Whether a field of this name is dropped at ingest, wherever it appears."""
    folded = field.lower()
    return (
        field in NEVER_KEPT_FIELDS
        or folded.startswith(_NEVER_KEPT_PREFIXES)
        or folded.endswith(_NEVER_KEPT_SUFFIXES)
    )


def _shallow(value: dict[Any, Any] | list[Any]) -> dict[Any, Any] | list[Any]:
    """A copy of one container level, without never-kept keys."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not (isinstance(k, str) and never_kept(k))}
    return list(value)


def kept(table: str, doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the bot keeps of one document: None for a table it does not mirror, else a copy
    without credential fields (and, for allow-listed tables, only the listed fields).

    The walk uses an explicit stack, not recursion: a provider payload nested deeper than
    Python's recursion limit must not stop the sync.
    """
    if table not in MIRRORED:
        return None
    allowed = KEPT_FIELDS.get(table)
    root: dict[str, Any] = {
        key: value
        for key, value in doc.items()
        if not never_kept(key) and (allowed is None or key in allowed)
    }
    stack: list[dict[Any, Any] | list[Any]] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():  # values are replaced in place, keys stay
                if isinstance(value, dict | list):
                    node[key] = copy = _shallow(value)
                    stack.append(copy)
        else:
            for index, value in enumerate(node):
                if isinstance(value, dict | list):
                    node[index] = copy = _shallow(value)
                    stack.append(copy)
    return root
