"""The question's words sorted into what they name: kinds, providers, statuses, regions, names.

Multi-word terms are tried before single words ("web services", "shut down"), exact words
before typos, and a word's neighbours decide the ambiguous ones: "up" is a status after "is"
and not in "spin up"; "nyc3" is a region, "acme-web-1" a name; "running on vercel" names
where, not a status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.providers.offline.text import closest, quoted_name, words
from core.providers.offline.vocabulary import (
    COMMON_WORDS,
    ENGINE_WORDS,
    FOREIGN_PROVIDERS,
    KIND_TERMS,
    PLACES,
    PROVIDER_ABBREVIATIONS,
    PROVIDER_TERMS,
    SEVERITY_WORDS,
    STATUS_WORDS,
    WEAK_KIND_TERMS,
    looks_like_region,
)

_NEGATORS = frozenset({"not", "except", "excluding", "besides", "outside", "non", "but"})
_BE = frozenset({"is", "are", "was", "were", "be", "still", "all", "everything", "it", "they"})
_REGION_LEAD = frozenset({"in", "at", "region", "regions", "from", "located", "near", "around"})
_NAMEISH = re.compile(r"[a-z].*[-._]|[a-z]+\d|\d+[a-z]")
_NOT_STATUS_BEFORE = {"up": frozenset({"spin", "set", "back", "backed", "backing", "sign", "look",
                                       "pull", "bring", "what", "fire", "start", "open", "show",
                                       "turn", "scale", "scaled", "clean", "speed", "shut",
                                       "go", "went", "come", "came"})}  # fmt: skip
_FUZZY_KINDS = tuple(w for w in KIND_TERMS if " " not in w and len(w) >= 5)
_FUZZY_PROVIDERS = tuple(w for w in PROVIDER_TERMS if " " not in w and w.isalpha())
_FUZZY_STATUSES = tuple(w for w in STATUS_WORDS if " " not in w and len(w) >= 6)
_ABBREVIATION = re.compile(r"(?<![A-Za-z])(" + "|".join(PROVIDER_ABBREVIATIONS) + r")(?![A-Za-z])")


@dataclass
class Terms:
    words: list[str]
    kinds: list[str] = field(default_factory=list)
    weak_kinds: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    statuses: list[tuple[str, str]] = field(default_factory=list)  # (word, class)
    regions: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    engines: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # name-shaped words, or a quoted name
    unknown: list[str] = field(default_factory=list)  # plain words nothing recognised
    kind_at: list[int] = field(default_factory=list)  # word positions of kind terms
    unknown_at: list[int] = field(default_factory=list)
    typos: list[tuple[str, str]] = field(default_factory=list)  # (as typed, read as)
    not_providers: list[str] = field(default_factory=list)  # "not on digitalocean"
    not_regions: list[str] = field(default_factory=list)  # "outside nyc3"

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def has(self, pattern: str) -> bool:
        return re.search(pattern, self.text) is not None


def _add(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


def scan(question: str) -> Terms:
    ws = words(question)
    terms = Terms(ws)
    quoted = quoted_name(question)
    if quoted:
        terms.names.append(quoted)
        quoted_words = set(words(quoted))
    else:
        quoted_words = set()
    for match in _ABBREVIATION.finditer(question):
        if not question.isupper():  # "DO" in a sentence of capitals is just a word
            _add(terms.providers, PROVIDER_ABBREVIATIONS[match.group(1)])
    i = 0
    while i < len(ws):
        if ws[i] in quoted_words:
            i += 1
            continue
        step = _phrase(terms, ws, i) or _word(terms, ws, i)
        i += step
    return terms


def _phrase(terms: Terms, ws: list[str], i: int) -> int:
    """Reads a two- or three-word term starting at `i`; returns how many words it used."""
    for size in (3, 2):
        if i + size > len(ws):
            continue
        phrase = " ".join(ws[i : i + size])
        if phrase in FOREIGN_PROVIDERS:
            _add(terms.foreign, FOREIGN_PROVIDERS[phrase])
        elif phrase in PROVIDER_TERMS:
            _provider(terms, PROVIDER_TERMS[phrase], ws, i)
        elif phrase in KIND_TERMS:
            _add(terms.kinds, KIND_TERMS[phrase])
            terms.kind_at.append(i)
        elif phrase in STATUS_WORDS:
            terms.statuses.append((phrase, STATUS_WORDS[phrase]))
        elif phrase in PLACES:
            _region(terms, phrase, ws, i)
        else:
            continue
        return size
    return 0


def _word(terms: Terms, ws: list[str], i: int) -> int:
    word = ws[i]
    before = ws[i - 1] if i else ""
    after = ws[i + 1] if i + 1 < len(ws) else ""
    if word in WEAK_KIND_TERMS:
        _add(terms.weak_kinds, WEAK_KIND_TERMS[word])
        if word == "errors":
            terms.statuses.append((word, "failing"))
    elif word in KIND_TERMS:
        _add(terms.kinds, KIND_TERMS[word])
        terms.kind_at.append(i)
    elif word in PROVIDER_TERMS:
        _provider(terms, PROVIDER_TERMS[word], ws, i)
    elif word in FOREIGN_PROVIDERS:
        _add(terms.foreign, FOREIGN_PROVIDERS[word])
    elif word in STATUS_WORDS or (word == "on" and before in _BE and not after):
        _status(terms, word, before, after)
    elif word in SEVERITY_WORDS:
        terms.severities.append(SEVERITY_WORDS[word])
    elif word in ENGINE_WORDS:
        _add(terms.engines, ENGINE_WORDS[word])
    elif _is_region(word, before):
        _region(terms, word, ws, i)
    elif _NAMEISH.search(word) and "@" not in word:
        _add(terms.names, word)
    elif word in COMMON_WORDS or len(word) < 2 or word.isdigit():
        pass
    else:
        _typo(terms, word, i)
    return 1


def _negated(ws: list[str], i: int) -> bool:
    """A negator within the two words before ("not on vultr", "other than nyc3")."""
    before = ws[max(0, i - 2) : i]
    return bool(_NEGATORS & set(before)) or " ".join(before[-2:]) in ("other than", "apart from")


def _provider(terms: Terms, provider: str, ws: list[str], i: int) -> None:
    _add(terms.not_providers if _negated(ws, i) else terms.providers, provider)


def _region(terms: Terms, region: str, ws: list[str], i: int) -> None:
    _add(terms.not_regions if _negated(ws, i) else terms.regions, region)


def _is_region(word: str, before: str) -> bool:
    """A place always; a region code when shaped like one ("nyc3") or after "in"."""
    if word in PLACES:
        return before in _REGION_LEAD or len(word) > 3
    return looks_like_region(word) and (before in _REGION_LEAD or not word.isalpha())


def _status(terms: Terms, word: str, before: str, after: str) -> None:
    if word in _NOT_STATUS_BEFORE and before in _NOT_STATUS_BEFORE[word]:
        return
    if word in ("running", "live", "hosted") and after in ("on", "at", "in", "with"):
        return  # "running on vercel" says where, not how
    if word == "up" and after == "to":
        return  # "up to date"
    terms.statuses.append((word, "ok" if word == "on" else STATUS_WORDS[word]))


def _typo(terms: Terms, word: str, i: int) -> None:
    kind_word = closest(word, _FUZZY_KINDS)
    if kind_word:
        _add(terms.kinds, KIND_TERMS[kind_word])
        terms.kind_at.append(i)
        terms.typos.append((word, kind_word))
        return
    provider_word = closest(word, _FUZZY_PROVIDERS)
    if provider_word:
        _add(terms.providers, PROVIDER_TERMS[provider_word])
        terms.typos.append((word, provider_word))
        return
    status_word = closest(word, _FUZZY_STATUSES)
    if status_word:
        terms.statuses.append((status_word, STATUS_WORDS[status_word]))
        terms.typos.append((word, status_word))
        return
    terms.unknown.append(word)
    terms.unknown_at.append(i)
