"""Tool calls are announced as they start, so a chat can show a step in progress."""

from __future__ import annotations

from adapters.stackdock.demo import DEMO_USERS
from core.models import Status, ToolCall, ToolStep, tool_step_key
from core.tool_starts import starting_text
from tests.fakes.ports.scripted_provider import ScriptedProvider, ScriptedTurn

ADMIN = f"email:{DEMO_USERS['admin']}"


async def test_each_tool_step_is_preceded_by_its_start(kit):
    calls = [
        ToolCall("c1", "count_resources", {"kind": "servers"}),
        ToolCall("c2", "find_problems", {}),
    ]
    kit.providers = [ScriptedProvider([ScriptedTurn(tool_calls=calls), ScriptedTurn(["Done."])])]
    events = await kit.ask("How are my servers?", ADMIN)
    starts = [e for e in events if isinstance(e, Status) and e.step]
    steps = [e for e in events if isinstance(e, ToolStep)]
    assert [s.text for s in starts] == ["Counting servers…", "Looking for problems…"]
    assert [s.step for s in starts] == [s.key for s in steps]
    for step in steps:  # the start comes before the step it names
        start = next(s for s in starts if s.step == step.key)
        assert events.index(start) < events.index(step)


def test_start_words_are_scrubbed_and_short():
    text = starting_text("get_resource", {"id_or_name": "db password=hunter2 " + "x" * 200})
    assert "hunter2" not in text and len(text) < 120 and text.startswith("Looking up ")
    assert starting_text("future_tool", {}) == "Running future tool…"
    assert tool_step_key("a", {"b": 1, "c": 2}) == tool_step_key("a", {"c": 2, "b": 1})
