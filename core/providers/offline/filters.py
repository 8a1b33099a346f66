"""The filters the tools lack, applied to the items they return, and what that leaves.

A tool returns at most its limit of items with the total that matched; a filter applied here
sees only those items. `Matches.complete` says whether they were all of them, so an answer
never states a partial count as the whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.providers.offline.query import Query
from core.providers.offline.results import Result
from core.providers.offline.vocabulary import NORMALISED_KINDS, region_prefixes, statuses_for


@dataclass
class Matches:
    """What one kind's results hold once every filter is applied."""

    kind: str
    items: list[Mapping[str, Any]] = field(default_factory=list)
    total: int = 0  # how many match: exact when `complete`
    complete: bool = True
    looked_at: int = 0  # items the tools returned, before the filters applied here
    available: int = 0  # items the tools matched, returned or not
    error: str | None = None


def client_filtered(q: Query, kind: str) -> bool:
    """Whether a filter of `q` is applied here rather than by the tool."""
    status_here = bool(q.status_class) and kind not in NORMALISED_KINDS
    by_project = kind == "issues" and bool(q.name) and q.name_is_qualifier
    return bool(
        status_here or q.region or q.engine or q.severity or q.private is not None
        or q.not_provider or q.not_region or by_project
    )  # fmt: skip


def keep(q: Query, kind: str, item: Mapping[str, Any]) -> bool:
    status_here = q.status_class and kind not in NORMALISED_KINDS
    wanted = statuses_for(kind, q.status_class) if status_here and q.status_class else None
    if wanted is not None and str(item.get("status") or "").lower() not in wanted:
        return False
    if q.region and not _in_region(item, q.region):
        return False
    if q.engine and str(item.get("engine") or "").lower() != q.engine:
        return False
    if q.not_provider and str(item.get("provider") or "") == q.not_provider:
        return False
    if q.not_region and _in_region(item, q.not_region):
        return False
    if kind == "issues" and q.name and q.name_is_qualifier:
        needle = q.name.lower()
        where = f"{item.get('title') or ''} {item.get('project') or ''}".lower()
        if needle not in where:
            return False
    if q.private is not None and kind == "repositories" and item.get("private") is not q.private:
        return False
    return not (q.severity and str(item.get("severity") or "").lower() != q.severity)


def _in_region(item: Mapping[str, Any], asked: str) -> bool:
    region = str(item.get("region") or "").lower()
    return bool(region) and any(region.startswith(p) for p in region_prefixes(asked))


def matches(q: Query, results: Sequence[Result]) -> list[Matches]:
    """Per kind, in the order asked, what the list results hold after every filter."""
    by_kind: dict[str, Matches] = {}
    for result in results:
        if result.name != "list_resources":
            continue
        kind = str(result.kind)
        found = by_kind.setdefault(kind, Matches(kind))
        if result.error:
            found.error = result.error
            continue
        items = list(result.content.get("items") or [])
        total = int(result.content.get("total", len(items)))
        found.looked_at += len(items)
        found.available += total
        if client_filtered(q, kind):
            kept = [item for item in items if keep(q, kind, item)]
            found.items += kept
            found.total += len(kept)
            found.complete = found.complete and total <= len(items)
        else:
            found.items += items
            found.total += total
    for found in by_kind.values():
        found.items.sort(key=lambda item: _name(item).lower())
    order = {kind: i for i, kind in enumerate(q.kinds)}
    return sorted(by_kind.values(), key=lambda m: order.get(m.kind, len(order)))


def _name(item: Mapping[str, Any]) -> str:
    for key in ("name", "domainName", "title", "siteUrl"):
        if item.get(key):
            return str(item[key])
    return ""
