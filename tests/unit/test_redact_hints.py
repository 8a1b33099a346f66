"""The literal checks that let `scrub_text` skip a scan must never skip one that would match.

`scrub_text` runs a pattern only when the text holds one of the pattern's hints (or, for a
case-insensitive pattern, one of its words in a folded lowercase copy). A hint missing from
some text the pattern matches would let that secret through, so each pattern's matches are
generated here and each must hold a hint.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import redact


@pytest.mark.parametrize(
    ("hints", "pattern"), redact._PREFIXED_TOKENS, ids=[h[0] for h, _ in redact._PREFIXED_TOKENS]
)
def test_every_token_a_pattern_matches_holds_one_of_its_hints(
    hints: tuple[str, ...], pattern: str
) -> None:
    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(st.from_regex(pattern, fullmatch=True))
    def holds_a_hint(token: str) -> None:
        assert any(hint in token for hint in hints), (token, hints)

    holds_a_hint()


def test_the_hints_are_what_scrub_text_checks() -> None:
    every = {hint for hints, _ in redact._PREFIXED_TOKENS for hint in hints}
    assert set(redact._TOKEN_HINTS) == every


def test_no_token_pattern_matches_text_shorter_than_scrub_text_looks_at() -> None:
    shortest = min(
        re._parser.parse(pattern).getwidth()[0]  # type: ignore[attr-defined]
        for _, pattern in redact._PREFIXED_TOKENS
    )
    assert shortest >= redact._TOKEN_MIN_CHARS


def test_the_fold_covers_every_character_ignorecase_takes_for_an_ascii_letter() -> None:
    others = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000)
    found = set(re.findall(r"[a-z]", others, re.IGNORECASE))
    folded = {chr(c) for c in redact._FOLD}
    assert found == folded
    for char in found:
        assert re.fullmatch(char.translate(redact._FOLD), char, re.IGNORECASE)


@pytest.mark.parametrize(
    "text",
    [
        "my ſecret is hunter2",  # a long s
        "the paſsword is hunter2",
        "paſs=hunter2",
        "the api \u212aey is hunter2",  # the Kelvin sign
        "Baſic hunter2hunter2",
    ],
)
def test_case_folded_words_are_scrubbed_like_plain_ones(text: str) -> None:
    scrubbed = redact.scrub_text(text)
    assert "hunter2" not in scrubbed
