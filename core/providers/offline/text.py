"""Question text as people type it in chat: normalised, split into words, matched with typos.

Chat shorthand ("r", "u", "whats") is spelled out before anything reads the words, and a word
may match a vocabulary entry within a small edit distance, so "severs" reads as "servers".
The distance allowed grows with the word's length; short words must match exactly, since a
one-letter change turns most short English words into other words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "`": '"'})
SHORTHAND: dict[str, str] = {
    "r": "are",
    "u": "you",
    "ur": "your",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ty": "thanks",
    "whats": "what is",
    "what's": "what is",
    "wats": "what is",
    "wat": "what",
    "hows": "how is",
    "how's": "how is",
    "wheres": "where is",
    "where's": "where is",
    "whos": "who is",
    "who's": "who is",
    "im": "i am",
    "i'm": "i am",
    "dont": "do not",
    "don't": "do not",
    "doesnt": "does not",
    "doesn't": "does not",
    "isnt": "is not",
    "isn't": "is not",
    "arent": "are not",
    "aren't": "are not",
    "havent": "have not",
    "haven't": "have not",
    "hasnt": "has not",
    "hasn't": "has not",
    "wasnt": "was not",
    "wasn't": "was not",
    "werent": "were not",
    "weren't": "were not",
    "cant": "can not",
    "can't": "can not",
    "cannot": "can not",
    "wont": "will not",
    "won't": "will not",
    "thats": "that is",
    "that's": "that is",
    "theres": "there is",
    "there's": "there is",
    "it's": "it is",
    "lemme": "let me",
    "gimme": "give me",
    "w/": "with",
    "w/o": "without",
    "abt": "about",
    "info": "information",
}
# A word: letters and digits, with inner dots, dashes and underscores (host and resource names).
_WORD = re.compile(r"[a-z0-9@](?:[a-z0-9_.'/-]*[a-z0-9])?")
QUOTED = re.compile(r"\"([^\"]{2,80})\"|(?<![a-z0-9])'([^']{2,80})'(?![a-z0-9])")


def quoted_name(question: str) -> str | None:
    """A name the person put in quotes or backticks, as they wrote it."""
    match = QUOTED.search(question.translate(_QUOTES))
    if match is None:
        return None
    return (match.group(1) or match.group(2)).strip() or None


def words(question: str) -> list[str]:
    """The question's words, lowercased, with chat shorthand spelled out."""
    text = question.translate(_QUOTES).lower()
    out: list[str] = []
    for raw in _WORD.findall(text):
        raw = raw.strip("'")
        expanded = SHORTHAND.get(raw, raw)
        out.extend(expanded.split())
    return out


def distance(a: str, b: str, limit: int = 3) -> int:
    """Edit distance counting a swap of neighbours as one edit (optimal string alignment);
    anything over `limit` is reported as `limit + 1`, which is all a caller needs."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def allowed_edits(word: str) -> int:
    if len(word) >= 8:
        return 2
    return 1 if len(word) >= 5 else 0


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The one candidate `word` is a typo of, or None when none is close or two tie."""
    budget = allowed_edits(word)
    if budget == 0 or not word.isalpha():
        return None
    best: list[str] = []
    best_d = budget + 1
    for candidate in candidates:
        if abs(len(candidate) - len(word)) > budget or not candidate.isalpha():
            continue
        # Both sides must be long enough for the edit to be a typo, not another word.
        if allowed_edits(candidate) == 0:
            continue
        d = distance(word, candidate, budget)
        if d < best_d:
            best, best_d = [candidate], d
        elif d == best_d:
            best.append(candidate)
    return best[0] if len(best) == 1 and best_d <= budget else None
