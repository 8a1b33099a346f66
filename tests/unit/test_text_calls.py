"""Which text is taken for a tool call, and what a person is shown while a turn streams."""

from __future__ import annotations

import json

import pytest

from core.providers.text_calls import TextCallFilter, parse_calls

TOOLS = {"count_resources", "list_resources", "find_problems"}


def streamed(text: str, size: int, *, cut_off: bool = False) -> tuple[str, list]:
    filter_ = TextCallFilter(TOOLS)
    shown = [filter_.feed(text[i : i + size]) for i in range(0, len(text), size)]
    shown.append(filter_.finish(cut_off=cut_off))
    return "".join(shown), [(c.name, dict(c.arguments)) for c in filter_.calls]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "count_resources", "arguments": {"kind": "servers"}}',
        '{"name": "count_resources", "parameters": {"kind": "servers"}}',
        '{"name": "count_resources", "arguments": "{\\"kind\\": \\"servers\\"}"}',
        '{"type": "function", "function": {"name": "count_resources", '
        '"arguments": {"kind": "servers"}}}',
        '[{"name": "count_resources", "arguments": {"kind": "servers"}}]',
        'functions.count_resources:{"kind": "servers"}',
    ],
    ids=["arguments", "parameters", "arguments-as-string", "openai-shape", "list", "prefix"],
)
def test_each_shape_of_a_call_to_our_tool_is_a_call(text: str) -> None:
    calls = parse_calls(text, TOOLS)
    assert calls is not None
    assert [(c.name, dict(c.arguments)) for c in calls] == [
        ("count_resources", {"kind": "servers"})
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "web-1", "status": "running"}',  # data with a name
        '{"name": "drop_database", "arguments": {}}',  # not one of our tools
        '{"name": "count_resources", "arguments": ["servers"]}',  # arguments not an object
        '{"name": "count_resources", "arguments": {}, "extra": true}',
        "[]",
    ],
)
def test_anything_else_is_not_a_call(text: str) -> None:
    assert parse_calls(text, TOOLS) is None


@pytest.mark.parametrize("size", [1, 3, 8, 1000])
def test_what_is_shown_does_not_depend_on_how_the_text_was_cut(size: int) -> None:
    call = json.dumps({"name": "find_problems", "arguments": {}})
    text = f"Checking.\n<tool_call>\n{call}\n</tool_call>\nDone."
    assert streamed(text, size) == ("Checking.\n\nDone.", [("find_problems", {})])


@pytest.mark.parametrize(
    "text",
    [
        "```python\nprint({'a': 1})\n```\nDone.",
        "- [ ] check backups\n[docs](https://example.com)\nok",
        "Use {braces} freely.\n{ not json }\nok",
        "3 < 4 and <b>bold</b>",
        '```json\n{"servers": 8}\n```',
    ],
)
def test_prose_and_other_code_reach_the_person_whole(text: str) -> None:
    assert streamed(text, 3) == (text, [])


def test_a_call_to_our_tool_with_broken_json_is_never_shown() -> None:
    text = 'Sure.\n{"name": "count_resources", "arguments": {"kind": "servers"}, "oops"}'
    assert streamed(text, 4) == ("Sure.", [])


def test_half_a_call_at_a_cut_off_is_dropped() -> None:
    text = 'I will look.\n```json\n{"name": "count_resou'
    assert streamed(text, 4, cut_off=True) == ("I will look.", [])
