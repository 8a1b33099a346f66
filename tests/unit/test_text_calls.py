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
    calls = parse_calls(text, TOOLS) or ()
    assert [(c.name, dict(c.arguments)) for c in calls] == [
        ("count_resources", {"kind": "servers"})
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "web-1", "status": "running"}',  # data with a name
        '{"name": "count_resources", "arguments": ["servers"]}',  # arguments not an object
        '{"name": "count_resources", "arguments": {}, "extra": true}',
        # A name we don't have must come in the strict shape: only a name and object arguments.
        '{"name": "get_servers"}',
        '{"name": "get_servers", "arguments": {}, "type": "function"}',
        '{"name": "get_servers", "arguments": ["servers"]}',
        '{"name": "Ada Lovelace", "arguments": {"role": "admin"}}',  # not a tool's name
        "[]",
    ],
)
def test_anything_else_is_not_a_call(text: str) -> None:
    assert parse_calls(text, TOOLS) is None


@pytest.mark.parametrize(
    ("text", "marked"),
    [
        ('{"name": "get_servers", "arguments": {"kind": "servers"}}', False),
        ('{"tool": "get_servers", "parameters": "{\\"kind\\": \\"servers\\"}"}', False),
        ('{"type": "function", "function": {"name": "get_servers", "arguments": {}}}', False),
        ('functions.get_servers:{"kind": "servers"}', False),
        # Inside <tool_call> tags the tag says it is a call: the loose shape is enough.
        ('{"name": "get_servers", "type": "function"}', True),
    ],
)
def test_a_call_to_a_tool_we_do_not_have_is_still_a_call(text: str, marked: bool) -> None:
    calls = parse_calls(text, TOOLS, marked=marked)
    assert calls is not None, "a call to an unknown tool must still be taken for a call"
    assert [c.name for c in calls] == ["get_servers"]
    assert dict(calls[0].arguments) in ({"kind": "servers"}, {})


MADE_UP = json.dumps({"name": "get_servers", "arguments": {"kind": "servers"}})


@pytest.mark.parametrize(
    "written",
    [
        f"```json\n{MADE_UP}\n```",
        MADE_UP,
        f"<tool_call>\n{MADE_UP}\n</tool_call>",
        '<tool_call>\n{"name": "get_servers"}\n</tool_call>',
        'functions.get_servers:{"kind": "servers"}',
        f"[{MADE_UP}]",
    ],
    ids=["fenced", "bare", "tags", "tags-no-arguments", "prefix", "list"],
)
@pytest.mark.parametrize("size", [1, 5, 1000])
def test_a_made_up_tool_call_is_taken_as_a_call_and_never_shown(written: str, size: int) -> None:
    text, calls = streamed(f"Let me look.\n{written}\nOne moment.", size)
    assert text == "Let me look.\n\nOne moment."
    assert [name for name, _ in calls] == ["get_servers"]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "web-1", "status": "running", "arguments": {}}',
        '{"name": "web-1", "arguments": {"cpu": 2}, "status": "running"}',
        '```json\n{"name": "web-1", "arguments": {"cpu": 2}, "region": "eu"}\n```',
        '```json\n[{"name": "web-1", "status": "running"}, {"name": "db-1"}]\n```',
        '{"name": "Ada Lovelace", "arguments": {"role": "admin"}}',
        '{"name": "get_servers"}',
        "functions.py is where the helpers live.",
    ],
)
def test_json_in_an_answer_that_is_not_shaped_like_a_call_is_shown(text: str) -> None:
    assert streamed(f"Here it is:\n{text}\nThat's all.", 3) == (
        f"Here it is:\n{text}\nThat's all.",
        [],
    )


@pytest.mark.parametrize(
    "broken",
    [
        '{"name": "get_servers", "arguments": {"kind": "servers"}, "oops"}',
        '```json\n{"name": "get_servers", "arguments": {"kind": }}\n```',
        '{"name": "get_servers", "arguments": ["servers"]}',
        'functions.get_servers:{"kind": servers}',
        '<tool_call>\n{"name": "get servers", "arguments": {}}\n</tool_call>',
    ],
)
def test_a_broken_call_to_a_made_up_tool_is_neither_shown_nor_run(broken: str) -> None:
    assert streamed(f"Sure.\n{broken}", 4) == ("Sure.", [])


def test_an_unfinished_made_up_call_at_the_end_of_a_turn_is_not_shown() -> None:
    assert streamed('Sure.\n{"name": "get_servers", "arguments": {"kind": "serv', 4) == (
        "Sure.",
        [],
    )


def test_prose_before_a_made_up_call_is_released_at_once_and_the_call_held() -> None:
    filter_ = TextCallFilter(TOOLS)
    assert filter_.feed("You have servers. ") == "You have servers. "
    assert filter_.feed('\n{"name": "get_ser') == ""
    assert filter_.feed('vers", "arguments": {}}') == ""
    assert filter_.finish() == ""
    assert [c.name for c in filter_.calls] == ["get_servers"]


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
        "Small models write a <tool_call> tag when they mean to call a tool.",
        "Wrap it as <tool_call>your call</tool_call> and stop.",
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
