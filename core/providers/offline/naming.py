"""Names in a question: which words name a resource, and whether they name one resource
("show server zzz") or filter a kind ("globex servers").

A word nothing else recognised is a name when something points at it: a kind right before or
after it, a word like "about" or "named" before it, or nothing else in the question at all.
Everything else stays "not understood", and is asked about rather than guessed.
"""

from __future__ import annotations

import re

from core.providers.offline.cues import DETAIL, NAME_LEAD, YES_NO
from core.providers.offline.terms import Terms
from core.providers.offline.text import words


def drop_own_org(terms: Terms, own_org: str | None) -> None:
    """The asker's own organisation's name qualifies nothing: it is all there is to see."""
    own = set(words(own_org or "")) - {"the", "a", "of", "and"}
    kept = [(w, at) for w, at in zip(terms.unknown, terms.unknown_at, strict=True) if w not in own]
    terms.unknown = [w for w, _ in kept]
    terms.unknown_at = [at for _, at in kept]


def name_in(terms: Terms, question: str, text: str) -> tuple[str | None, bool]:
    """A resource name, and whether it qualifies a kind ("globex servers") rather than
    naming one resource."""
    if terms.names:
        name = terms.names[0]
        return as_typed(question, name), qualifies(terms, name.lower())
    if not terms.unknown_at:
        return None, False
    runs: list[list[int]] = []
    for position in terms.unknown_at:
        if runs and position == runs[-1][-1] + 1 and len(runs[-1]) < 4:
            runs[-1].append(position)
        else:
            runs.append([position])
    alone = len(runs) == 1 and len(terms.words) == len(runs[0])  # the question is the name
    best: tuple[int, list[int]] | None = None
    for run in runs:
        first, last = run[0], run[-1]
        before = terms.words[first - 1] if first else ""
        if first - 1 >= 0 and last + 1 in terms.kind_at and first - 1 not in terms.kind_at:
            rank = 3 if before not in NAME_LEAD else 2  # "globex servers": qualifies the kind
        elif first - 1 in terms.kind_at:
            rank = 2  # "server zzz": names one
        elif before in NAME_LEAD:
            rank = 1
        elif alone or last + 1 in terms.kind_at:
            rank = 0
        else:
            continue
        if best is None or rank > best[0]:
            best = (rank, run)
    if best is None:
        return None, False
    rank, run = best
    first, last = run[0], run[-1]
    span = " ".join(terms.words[first : last + 1])
    qualifier = last + 1 in terms.kind_at and first - 1 not in terms.kind_at
    yes_no = YES_NO.search(text) is not None  # "is the Search API monitor ok": that one
    return as_typed(question, span), qualifier and not DETAIL.search(text) and not yes_no


def qualifies(terms: Terms, name: str) -> bool:
    """A name-shaped word right before a kind filters it ("acme-web servers")."""
    positions = [i for i, w in enumerate(terms.words) if w == name]
    return any(at - 1 in positions for at in terms.kind_at) and "." not in name


def as_typed(question: str, name: str) -> str:
    pattern = r"[\s\-_]+".join(re.escape(part) for part in name.split())
    match = re.search(pattern, question, re.IGNORECASE)
    return match.group(0) if match else name
