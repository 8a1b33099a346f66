"""The offline provider measured on the question corpus (tests/unit/offline_corpus.py).

Target (issue 13): at least 90% right and not one wrong answer, where wrong means a confident
number or list that does not answer the question. `python -m bench.answers` prints the same
counts with the failures, for docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.unit.offline_corpus import (
    ANSWER,
    CASES,
    DECLINE,
    GRAMMAR_ERRORS,
    Case,
    Graded,
    grade,
    run_corpus,
)

MIN_CASES = 150
MIN_RIGHT = 0.90


@pytest.fixture(scope="module")
def graded() -> list[Graded]:
    return asyncio.run(run_corpus())


def _report(rows: list[Graded], which: str) -> str:
    return "\n\n".join(
        f"{row.case.intent}: {row.case.question!r} (before {row.case.before})\n{row.answer}"
        for row in rows
        if row.grade == which
    )


def test_the_corpus_is_large_and_asks_each_intent_many_ways() -> None:
    assert len(CASES) >= MIN_CASES
    per_intent = Counter(case.intent for case in CASES)
    thin = {intent: n for intent, n in per_intent.items() if n < 3}
    assert not thin, f"intents asked fewer than three ways: {thin}"
    assert sum(case.expect == DECLINE for case in CASES) >= 40
    assert sum(bool(case.before) for case in CASES) >= 15


def test_no_answer_is_wrong(graded: list[Graded]) -> None:
    wrong = [row for row in graded if row.grade == "wrong"]
    assert not wrong, _report(graded, "wrong")


def test_at_least_nine_in_ten_are_right(graded: list[Graded]) -> None:
    counts = Counter(row.grade for row in graded)
    assert counts["right"] >= MIN_RIGHT * len(graded), (counts, _report(graded, "honest"))


def test_counts_agree_with_their_nouns(graded: list[Graded]) -> None:
    bad = [
        (row.case.question, m.group(0))
        for row in graded
        if (m := GRAMMAR_ERRORS.search(row.answer))
    ]
    assert not bad


# ---- the grader itself: each outcome is reachable, so the targets above can fail ----

_COUNT = Case("how many web services are in error", "count", ("**1**",), ("**7**",))
_REFUSE = Case("Show me servers with high CPU usage", "missing", ("CPU",), ("acme-web-1",),
               expect=DECLINE)  # fmt: skip


@pytest.mark.parametrize(
    ("case", "answer", "expected"),
    [
        (_COUNT, "**1** web service is in error: `acme-api-gateway`.", "right"),
        (_COUNT, "You have **7** web services.", "wrong"),  # the kind's total, status ignored
        (_COUNT, "**2** web services are in error.", "wrong"),  # a number that is not the fact
        (_COUNT, "I'm not sure what you mean. Try one of these:", "honest"),
        (_REFUSE, "StackDock doesn't hold CPU or memory use, so I can't answer that.", "right"),
        (_REFUSE, "**8 servers:**\n- `acme-web-1` (digitalocean, running)", "wrong"),
        (_REFUSE, "I'm read-only, so I can't restart servers.", "honest"),
        (_REFUSE, "I'm not sure. Here they are: `acme-web-1`", "wrong"),  # a list slipped in
    ],
)
def test_the_grader_tells_right_honest_and_wrong_apart(
    case: Case, answer: str, expected: str
) -> None:
    assert case.expect in (ANSWER, DECLINE)
    assert grade(case, answer) == expected


@pytest.mark.parametrize(
    "text",
    ["You have 1 servers.", "**1 problems need attention:**", "1 problem need attention",
     "**1** servers are running."],
)  # fmt: skip
def test_the_grammar_check_catches_a_plural_after_one(text: str) -> None:
    assert GRAMMAR_ERRORS.search(text)


def test_the_grammar_check_passes_agreeing_counts() -> None:
    for text in ("**1** server is stopped.", "**1 problem needs attention:**", "11 servers."):
        assert not GRAMMAR_ERRORS.search(text), text
