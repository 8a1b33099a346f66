"""The history fitter's shortcut for counting a tool call's JSON agrees with encoding it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.providers.window import _json_chars

values = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
)


@given(st.dictionaries(st.text(max_size=12), values, max_size=5))
def test_the_count_is_the_length_of_the_encoding(arguments: dict[str, Any]) -> None:
    assert _json_chars(arguments) == len(json.dumps(arguments))


@given(st.dictionaries(st.from_regex(r"[ -~]{0,10}", fullmatch=True), st.integers(), max_size=5))
def test_plain_keys_and_whole_numbers_are_counted_alike(arguments: dict[str, int]) -> None:
    assert _json_chars(arguments) == len(json.dumps(arguments))
