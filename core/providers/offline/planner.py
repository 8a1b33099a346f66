"""Which tools answer a Query, turn by turn: the offline provider's side of the tool loop.

The first turn asks for what the question needs. A second turn is taken only when the first
turn's results say where to look next: a name not found under the kind asked is searched
across every kind, and a name found once is then fetched whole. Filters the tools have
(provider, status, a part of the name) are passed to them; the rest (region, engine,
severity, a provider's own status words) are applied to the items they return.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.providers.offline.filters import matches
from core.providers.offline.query import Query
from core.providers.offline.results import Result, found_items
from core.providers.offline.vocabulary import NORMALISED_KINDS, statuses_for

LIMIT = 50
FIND_LIMIT = 10
# Where a name of unknown kind may be: every kind with names people ask about.
FIND_KINDS = (
    "servers", "webServices", "domains", "databases", "blockVolumes", "buckets", "monitors",
    "repositories", "deployments", "docks", "projects", "issues",
)  # fmt: skip

Call = tuple[str, dict[str, Any]]


def next_calls(query: Query, done: Sequence[Sequence[Result]]) -> list[Call]:
    """The calls for the next turn; empty when the results in `done` (one list per turn
    taken) are enough to answer."""
    if not done:
        return first_calls(query)
    if len(done) == 1:
        return _second_calls(query, done[0])
    return []


def first_calls(q: Query) -> list[Call]:
    intent = q.intent
    if intent == "overview":
        return [("count_resources", {"group_by": "kind"}), ("find_problems", {})]
    if intent == "problems":
        return [("find_problems", {})]
    if intent == "detail" and q.kind and q.name:
        return [("get_resource", {"kind": q.kind, "id_or_name": q.name})]
    if intent in ("find", "detail", "size") and q.name and not q.kind:
        return _search(q.name)
    if intent == "size" and q.kind and q.name:
        return [("get_resource", {"kind": q.kind, "id_or_name": q.name})]
    if intent == "backups":
        return [("list_resources", _args(q, "backupSchedules", status=False))]
    if intent == "engines":
        return [("list_resources", _args(q, "databases", status=False))]
    if intent == "sync":
        return [("list_resources", _args(q, "docks", status=False))]
    if intent in ("expiry", "deploys"):
        return [("list_resources", _args(q, q.kind or "domains", status=intent == "deploys"))]
    if intent == "count" and _plain_count(q):
        args: dict[str, Any] = {"kind": q.kind} if q.kind else {"group_by": "kind"}
        if q.group_by in ("provider", "status", "kind"):
            args["group_by"] = q.group_by
        return [("count_resources", args)]
    if intent == "all" and q.kind:
        return [("list_resources", _args(q, q.kind, status=False))]
    if intent in ("count", "list", "size"):
        return [call for kind in q.kinds for call in _list_calls(q, kind)]
    return []


def _second_calls(q: Query, first: Sequence[Result]) -> list[Call]:
    if q.intent == "list" and q.name_is_qualifier and q.name and not q.status_class:
        shown = [(m.kind, item) for m in matches(q, first) for item in m.items]
        if len(shown) == 1:  # the filter named one resource: show it whole
            kind, item = shown[0]
            return [("get_resource", {"kind": kind, "id_or_name": str(item.get("id"))})]
        return []
    if q.intent in ("detail", "size") and q.kind and len(first) == 1:
        error = first[0].error
        if error and error.startswith("No "):  # not under the kind asked: look everywhere
            return [c for c in _search(q.name or "") if c[1]["kind"] != q.kind]
        return []
    if q.intent in ("find", "detail", "size") and not q.kind:
        found = found_items(first)
        exact = [(k, n) for k, n in found if n.lower() == (q.name or "").lower()]
        chosen = exact if len(exact) == 1 else found
        if len(chosen) == 1:
            kind, name = chosen[0]
            return [("get_resource", {"kind": kind, "id_or_name": name})]
    return []


def _search(name: str) -> list[Call]:
    return [
        ("list_resources", {"kind": kind, "name_contains": name, "limit": FIND_LIMIT})
        for kind in FIND_KINDS
    ]


def _plain_count(q: Query) -> bool:
    """A count the count tool answers by itself: no filter it lacks."""
    return not q.filtered and not q.also and q.group_by not in ("region", "language")


def _list_calls(q: Query, kind: str) -> list[Call]:
    """One call per status the status asked for stands for, when the tool can filter on it."""
    base = _args(q, kind, status=False)
    if q.status_class and kind in NORMALISED_KINDS:
        statuses = sorted(statuses_for(kind, q.status_class))
        return [("list_resources", {**base, "status": status}) for status in statuses]
    return [("list_resources", base)]


def _args(q: Query, kind: str, *, status: bool) -> dict[str, Any]:
    args: dict[str, Any] = {"kind": kind, "limit": LIMIT}
    if q.provider:
        args["provider"] = q.provider
    by_project = kind == "issues" and q.name_is_qualifier  # title or project: filtered later
    if q.name and not by_project and (q.name_is_qualifier or q.intent in ("list", "count", "deploys", "backups",
                                                        "expiry", "sync")):  # fmt: skip
        args["name_contains"] = q.name
    if status and q.status_class and kind in NORMALISED_KINDS:
        statuses = sorted(statuses_for(kind, q.status_class))
        if len(statuses) == 1:
            args["status"] = statuses[0]
    return args
