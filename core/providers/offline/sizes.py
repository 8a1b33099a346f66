"""Sizes: the biggest or smallest volume or bucket, and how much storage there is in all.

StackDock holds sizes for block volumes (`sizeGb`) and buckets (`sizeBytes`, `objectCount`)
only; a size asked of one named resource is answered in lookup.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.providers.offline.context import Asker
from core.providers.offline.filters import matches
from core.providers.offline.query import Query
from core.providers.offline.results import Result, item_name
from core.providers.offline.vocabulary import label, provider_name
from core.providers.offline.wording import code, counted, human_bytes, size_text

_GB = 1_000_000_000


def _bytes(item: Mapping[str, Any]) -> float | None:
    if isinstance(item.get("sizeGb"), int | float):
        return float(item["sizeGb"]) * _GB
    if isinstance(item.get("sizeBytes"), int | float):
        return float(item["sizeBytes"])
    return None


def size_answer(q: Query, results: Sequence[Result], who: Asker) -> str:
    found = [m for m in matches(q, results) if not m.error]
    refused = [m.error for m in matches(q, results) if m.error]
    if not found:
        return refused[0] if refused else "I found nothing to answer that with."
    lines = []
    for m in found:
        sized = [(size, item) for item in m.items if (size := _bytes(item)) is not None]
        if not sized:
            lines.append(f"You have no {label(m.kind)} with a known size.")
            continue
        if q.order:
            lines += _ranked(q, m.kind, sized)
        else:
            lines.append(_total(m.kind, sized, m.items))
        if not m.complete or m.total > len(m.items):
            lines.append(f"_Only {len(m.items)} of {m.total} {label(m.kind)} were compared._")
    return "\n".join(lines)


def _ranked(q: Query, kind: str, sized: list[tuple[float, Mapping[str, Any]]]) -> list[str]:
    smallest = q.order == "smallest"
    ranked = sorted(sized, key=lambda pair: pair[0], reverse=not smallest)
    word = "smallest" if smallest else "biggest"
    top = max(1, min(q.top or 1, len(ranked)))
    if top == 1:
        _, item = ranked[0]
        return [f"Your {word} {label(kind, 1)} is {code(item_name(item))}: {_facts(item)}."]
    lines = [f"**Your {top} {word} {label(kind)}:**"]
    lines += [f"- {code(item_name(item))}: {_facts(item)}" for _, item in ranked[:top]]
    return lines


def _facts(item: Mapping[str, Any]) -> str:
    facts = [size_text(item) or "size unknown"]
    if isinstance(item.get("objectCount"), int):
        facts.append(f"{item['objectCount']:,} objects")
    if item.get("provider"):
        facts.append(provider_name(str(item["provider"])))
    if item.get("region"):
        facts.append(str(item["region"]))
    if item.get("attachedToInstanceLabel"):
        facts.append(f"attached to {code(item['attachedToInstanceLabel'])}")
    return ", ".join(facts)


def _total(
    kind: str, sized: list[tuple[float, Mapping[str, Any]]], items: list[Mapping[str, Any]]
) -> str:
    total = sum(size for size, _ in sized)
    shown = f"{total / _GB:g} GB" if kind == "blockVolumes" else human_bytes(total)
    text = f"**{label(kind).capitalize()}:** {shown} in {counted(len(sized), kind)}"
    objects = [i["objectCount"] for i in items if isinstance(i.get("objectCount"), int)]
    if objects:
        text += f", {sum(objects):,} objects"
    return text + "."
