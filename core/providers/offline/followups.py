"""Questions that lean on the one before: "and databases?", "which of those are in error",
"what about vultr?", "is it running?".

The previous question is read again (the history holds it) and the new one's words override
its filters; a filter that cannot apply to the new kind is dropped rather than carried into an
empty answer (a provider that syncs no databases, a region for alerts, a status monitors never
have).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from core.providers.offline.filters import matches
from core.providers.offline.query import WORD_INTENTS, Query
from core.providers.offline.reading import REGION_KINDS, read
from core.providers.offline.results import Result, found_items, item_name
from core.providers.offline.vocabulary import PROVIDER_KINDS, label, statuses_for

# Intents a bare follow-up ("and databases?") carries over from the question before.
_CARRIED = frozenset({"count", "list", "deploys", "expiry", "size", "problems", "backups"})
CONTEXT_QUESTIONS = 6
_FEW = 6  # "which one?" names the candidates up to this many


def understand(
    question: str,
    earlier: Sequence[tuple[str, Sequence[Result]]],
    own_org: str | None,
) -> Query:
    """The question as meant in its conversation: `earlier` holds the person's previous
    questions, oldest first, each with the tool results its answer was built from."""
    previous: Query | None = None
    items: list[tuple[str, str]] = []
    for text, results in earlier[-CONTEXT_QUESTIONS:]:
        meant = follow(read(text, own_org), previous, items)
        if meant.intent not in WORD_INTENTS:  # a refusal in between keeps the thread's topic
            previous = meant
            items = shown(meant, results) if results else items
    return follow(read(question, own_org), previous, items)


def shown(query: Query, results: Sequence[Result]) -> list[tuple[str, str]]:
    """(kind, name) of what an answer showed: the resource it described, or the items left
    once its filters were applied (what "it" and "those" can point at)."""
    got = [
        (str(r.kind), item_name(r.content["item"]))
        for r in results
        if r.name == "get_resource" and isinstance(r.content.get("item"), Mapping)
    ]
    if got:
        return list(dict.fromkeys(got))
    if query.intent == "find":
        return found_items(results)
    return [(m.kind, item_name(item)) for m in matches(query, results) for item in m.items]


def follow(current: Query, previous: Query | None, items: list[tuple[str, str]]) -> Query:
    if current.intent in WORD_INTENTS - {"unsure"}:
        return current
    named = current.kind if current.kind_named else None
    if previous is None or previous.intent in WORD_INTENTS:
        if current.refers_back and not named and not current.name:
            return Query("unsure", topic="refers-back")
        return current
    if not current.followup:
        return current
    if _SINGULAR.search(current.said) and not named and not current.name:
        # "is it running?", "tell me more about it": the one thing the last answer was about
        one = _the_one(previous, items)
        if one is not None:
            kind, name = one
            return current.replace(intent="detail", kind=kind, also=(), name=name,
                                   name_is_qualifier=False)  # fmt: skip
        if 1 < len(items) <= _FEW:
            return Query("unsure", topic="which-one", notes=tuple(_said(k, n) for k, n in items))
    implied = (current.kind, current.also)
    if not named:
        current = current.replace(kind=None, also=())
    merged = _merge(current, previous)
    if merged.kind is None and implied[0]:
        merged = merged.replace(kind=implied[0], also=implied[1])
    return merged


_SINGULAR = re.compile(r"\b(?:it|its|that one|this one)\b|\b(?:that|this)\s*$")


def _the_one(previous: Query, items: list[tuple[str, str]]) -> tuple[str, str] | None:
    if previous.name and previous.kind and previous.intent in ("detail", "find", "size"):
        return previous.kind, previous.name
    if len(items) == 1:
        return items[0]
    return None


def _merge(current: Query, previous: Query) -> Query:
    kind = current.kind or previous.kind
    also = current.also if current.kind else previous.also
    intent = current.intent
    if current.provider and not current.kind:
        synced = PROVIDER_KINDS.get(current.provider, ())
        if previous.kind in synced:  # "what about vultr?" after a list of servers
            kind, also = previous.kind, tuple(k for k in previous.also if k in synced)
        else:
            kind, also = current.kind, current.also
    if current.intent == "find" and previous.kind and not current.kind:
        intent, kind, also = "detail", previous.kind, ()  # "what about acme-web-2?"
    elif current.intent in ("list", "unsure") and previous.intent in _CARRIED:
        intent = "list" if current.explicit else previous.intent
    elif current.intent == "unsure":
        intent = previous.intent
    merged = current.replace(
        intent=intent,
        kind=kind,
        also=also,
        provider=current.provider or _fits_provider(previous.provider, kind),
        status_class=current.status_class or _fits_status(previous.status_class, kind),
        status_word=current.status_word if current.status_class else previous.status_word,
        region=current.region or (previous.region if kind in REGION_KINDS else None),
        name=current.name if current.name else _kept_name(current, previous, kind),
        name_is_qualifier=current.name_is_qualifier if current.name else previous.name_is_qualifier,
        severity=current.severity or (previous.severity if kind == previous.kind else None),
        engine=current.engine or (previous.engine if kind == previous.kind else None),
        group_by=current.group_by or (previous.group_by if intent == "count" else None),
        window_days=current.window_days or previous.window_days,
        window_label=current.window_label or previous.window_label,
        stale=current.stale or (previous.stale and intent == "deploys"),
        order=current.order or previous.order,
        unknown=(),
    )
    if merged.intent == "list" and merged.kind is None and merged.provider:
        kinds = PROVIDER_KINDS.get(merged.provider, ())
        merged = merged.replace(kind=kinds[0] if kinds else None, also=kinds[1:])
    return merged


def _fits_provider(provider: str | None, kind: str | None) -> str | None:
    if provider is None or kind is None:
        return provider
    return provider if kind in PROVIDER_KINDS.get(provider, (kind,)) else None


def _fits_status(status_class: str | None, kind: str | None) -> str | None:
    if status_class is None or kind is None:
        return status_class
    return status_class if statuses_for(kind, status_class) else None


def _kept_name(current: Query, previous: Query, kind: str | None) -> str | None:
    """A name filter carries to "those" of the same kind ("globex servers" → "which of those
    are running"); a single resource asked about does not become a filter on the next
    question."""
    if current.refers_back and previous.name_is_qualifier and kind == previous.kind:
        return previous.name
    return None


def _said(kind: str, name: str) -> str:
    return f"`{name}` ({label(kind, 1)})"
