"""A tool call of the answer under way, with what it returned, and the names it holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Result:
    """One tool call of this answer and what it returned."""

    name: str
    arguments: Mapping[str, Any]
    content: Mapping[str, Any]

    @property
    def error(self) -> str | None:
        value = self.content.get("error")
        return str(value) if value else None

    @property
    def kind(self) -> str | None:
        return self.content.get("kind") or self.arguments.get("kind")


def found_items(results: Sequence[Result]) -> list[tuple[str, str]]:
    """(kind, name) of every item the results list, in kind order."""
    found: list[tuple[str, str]] = []
    for result in results:
        if result.error or result.name != "list_resources":
            continue
        for item in result.content.get("items") or []:
            found.append((str(result.kind), item_name(item)))
    return found


def item_name(item: Mapping[str, Any]) -> str:
    for field in ("name", "domainName", "title", "siteUrl", "fullName", "site"):
        if item.get(field):
            return str(item[field])
    return str(item.get("id") or "?")
