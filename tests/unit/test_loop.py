"""The shared tool loop, driven by the in-memory ScriptedProvider and FakeToolRunner."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from core.models import (
    ChatMessage,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
    ToolStep,
    TurnEnd,
    Usage,
)
from core.providers.loop import (
    ANSWER_TIMEOUT,
    LAST_TURN_PROMPT,
    REPEAT_NOTE,
    STEP_LIMIT,
    STOPPED_EARLY,
    STOPPED_EARLY_NOTE,
    TIMED_OUT_NOTE,
    LoopDone,
    LoopOutcome,
    run_tool_loop,
    step_limit_text,
)
from tests.fakes.ports.scripted_provider import ScriptedProvider, ScriptedTurn
from tests.fakes.ports.tool_runner import FakeToolRunner

QUESTION = [ChatMessage(role="user", content="How many servers do I have?")]
SERVERS = ToolResult({"count": 12}, "Counted 12 servers")
PROBLEMS = ToolResult({"problems": []}, "Found no problems")


async def run(providers, tools=None, max_steps=6) -> tuple[list, LoopOutcome]:
    events = [
        e
        async for e in run_tool_loop(
            providers,
            "You are StackDock.",
            QUESTION,
            tools or FakeToolRunner(),
            max_steps=max_steps,
        )
    ]
    assert isinstance(events[-1], LoopDone)
    return events[:-1], events[-1].outcome


def count_call(call_id: str = "c1") -> ToolCall:
    return ToolCall(call_id, "count_resources", {"kind": "servers"})


async def test_text_streams_in_pieces_then_the_outcome() -> None:
    provider = ScriptedProvider([ScriptedTurn(text=["You have ", "12 servers."])])
    events, outcome = await run([provider])
    assert events == [TextDelta("You have "), TextDelta("12 servers.")]
    assert outcome.text == "You have 12 servers."
    assert outcome.new_messages == [ChatMessage(role="assistant", content="You have 12 servers.")]
    assert (outcome.provider, outcome.model, outcome.steps) == ("scripted", "scripted-1", 1)
    assert outcome.attempts == ["scripted:ok"]
    assert provider.calls[0].system == "You are StackDock."


async def test_parallel_tool_calls_run_concurrently_and_go_back_to_the_model() -> None:
    provider = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[count_call("c1"), ToolCall("c2", "find_problems", {})]),
            ScriptedTurn(text=["12 servers, no problems."]),
        ]
    )
    tools = FakeToolRunner({"count_resources": SERVERS, "find_problems": PROBLEMS}, rendezvous=2)
    events, outcome = await run([provider], tools)

    assert tools.max_in_flight == 2
    assert events == [
        ToolStep("count_resources", {"kind": "servers"}, "Counted 12 servers"),
        ToolStep("find_problems", {}, "Found no problems"),
        TextDelta("12 servers, no problems."),
    ]
    second = provider.calls[1].messages
    assert second[0] == QUESTION[0]
    assert second[1].tool_calls == (count_call("c1"), ToolCall("c2", "find_problems", {}))
    assert [(m.role, m.tool_call_id, m.name) for m in second[2:]] == [
        ("tool", "c1", "count_resources"),
        ("tool", "c2", "find_problems"),
    ]
    assert json.loads(second[2].content) == {"count": 12}
    assert second[2].content == '{"count":12}'  # compact
    assert outcome.tools_called == ["count_resources", "find_problems"]
    final = ChatMessage("assistant", "12 servers, no problems.")
    assert outcome.new_messages == [*second[1:], final]
    assert outcome.steps == 2


async def test_a_tool_that_raises_becomes_an_error_result_for_the_model() -> None:
    provider = ScriptedProvider(
        [ScriptedTurn(tool_calls=[count_call()]), ScriptedTurn(text=["That lookup failed."])]
    )
    tools = FakeToolRunner({"count_resources": RuntimeError("database gone: password=hunter2")})
    events, outcome = await run([provider], tools)

    step = events[0]
    assert isinstance(step, ToolStep) and step.is_error and step.name == "count_resources"
    sent_back = provider.calls[1].messages[-1]
    assert sent_back.role == "tool"
    assert "error" in json.loads(sent_back.content)
    assert "hunter2" not in sent_back.content
    assert outcome.text == "That lookup failed."


async def test_an_error_result_from_the_runner_is_passed_on_not_raised() -> None:
    denied = ToolResult(
        {"error": "your role may not read docks"}, "Not allowed: docks", is_error=True
    )
    provider = ScriptedProvider(
        [ScriptedTurn(tool_calls=[count_call()]), ScriptedTurn(text=["You may not see docks."])]
    )
    events, _ = await run([provider], FakeToolRunner({"count_resources": denied}))
    assert events[0] == ToolStep("count_resources", {"kind": "servers"}, "Not allowed: docks", True)
    assert json.loads(provider.calls[1].messages[-1].content) == {
        "error": "your role may not read docks"
    }


async def test_at_the_step_limit_the_model_is_asked_once_without_tools() -> None:
    kinds = ["servers", "domains", "docks", "buckets"]
    provider = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[ToolCall(f"c{i}", "count_resources", {"kind": k})])
            for i, k in enumerate(kinds[:3])
        ]
        + [ScriptedTurn(text=["From what I found: 12 servers."])]
    )
    tools = FakeToolRunner({"count_resources": SERVERS})
    _, outcome = await run([provider], tools, max_steps=3)

    assert len(provider.calls) == 4
    assert len(tools.calls) == 2  # the third turn's calls would never be read by a model
    last = provider.calls[-1]
    assert last.tools == []
    assert last.messages[-1] == ChatMessage(role="user", content=LAST_TURN_PROMPT)
    assert outcome.text == "From what I found: 12 servers."
    assert (outcome.stopped, outcome.steps) == (STEP_LIMIT, 4)
    assert LAST_TURN_PROMPT not in [m.content for m in outcome.new_messages]
    assert all(not m.tool_calls or m.tool_calls[0].id != "c2" for m in outcome.new_messages)


async def test_the_step_limit_ends_a_runaway_loop_honestly_when_no_answer_comes() -> None:
    provider = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[ToolCall(f"c{i}", "count_resources", {"kind": k})])
            for i, k in enumerate(["servers", "domains", "docks", "buckets"])
        ]
    )
    tools = FakeToolRunner({"count_resources": SERVERS})
    events, outcome = await run([provider], tools, max_steps=3)

    assert len(provider.calls) == 4  # the last one's calls are ignored, not run
    assert len(tools.calls) == 2
    assert outcome.text == step_limit_text(2)
    assert "stopped after 2 lookups" in outcome.text
    assert events[-1] == TextDelta(step_limit_text(2))
    last = outcome.new_messages[-1]
    assert last.role == "assistant" and last.tool_calls == ()
    assert outcome.stopped == STEP_LIMIT


async def test_a_repeated_identical_call_gets_the_earlier_result_and_a_nudge() -> None:
    provider = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[count_call("c1")]),
            ScriptedTurn(tool_calls=[ToolCall("c2", "count_resources", {"kind": "servers"})]),
            ScriptedTurn(text=["You have 12 servers."]),
        ]
    )
    tools = FakeToolRunner({"count_resources": SERVERS})
    events, outcome = await run([provider], tools)

    assert len(tools.calls) == 1
    assert [e for e in events if isinstance(e, ToolStep)] == [
        ToolStep("count_resources", {"kind": "servers"}, "Counted 12 servers")
    ]
    repeat = provider.calls[2].messages[-1]
    assert (repeat.role, repeat.tool_call_id) == ("tool", "c2")
    sent = json.loads(repeat.content)
    assert sent["earlier_result"] == {"count": 12}
    assert sent["note"] == REPEAT_NOTE.format(name="count_resources")
    assert outcome.tools_called == ["count_resources"]
    assert outcome.text == "You have 12 servers."


async def test_the_same_call_twice_in_one_turn_runs_once() -> None:
    twice = [count_call("c1"), ToolCall("c2", "count_resources", {"kind": "servers"})]
    provider = ScriptedProvider([ScriptedTurn(tool_calls=twice), ScriptedTurn(text=["12."])])
    tools = FakeToolRunner({"count_resources": SERVERS})
    await run([provider], tools)
    assert len(tools.calls) == 1
    results = [m for m in provider.calls[1].messages if m.role == "tool"]
    assert [m.tool_call_id for m in results] == ["c1", "c2"]
    assert json.loads(results[1].content)["earlier_result"] == {"count": 12}


async def test_text_of_successive_turns_is_kept_apart() -> None:
    provider = ScriptedProvider(
        [
            ScriptedTurn(text=["Let me check."], tool_calls=[count_call()]),
            ScriptedTurn(text=["You have 12."]),
        ]
    )
    events, outcome = await run([provider], FakeToolRunner({"count_resources": SERVERS}))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert outcome.text == "".join(deltas) == "Let me check.\n\nYou have 12."


async def test_each_turn_is_priced_and_summed() -> None:
    provider = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[count_call()], input_tokens=1_000, output_tokens=100),
            ScriptedTurn(
                text=["12."], input_tokens=2_000, output_tokens=200, cache_read_tokens=1_000
            ),
        ],
        name="anthropic",
        model="claude-sonnet-5",
    )
    _, outcome = await run([provider], FakeToolRunner({"count_resources": SERVERS}))
    usage = outcome.usage
    assert usage is not None, "two priced turns sum to a usage"
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.calls) == (
        3_000,
        300,
        1_000,
        2,
    )
    # input counts the cached 1,000 too; 2,000 fresh: (2000*2 + 300*10 + 1000*0.2) / 1e6
    assert usage.cost_usd == Decimal("0.0072")


async def test_unknown_token_counts_stay_unknown() -> None:
    provider = ScriptedProvider([ScriptedTurn(text=["hi"], input_tokens=None, output_tokens=None)])
    _, outcome = await run([provider])
    assert outcome.usage is not None
    assert outcome.usage.input_tokens is None and outcome.usage.cost_usd is None


async def test_failover_before_any_text_hands_the_question_on() -> None:
    spent = ProviderError("busy", "busy", provider="primary", retry_after_s=7)
    primary = ScriptedProvider([spent], name="primary")
    fallback = ScriptedProvider([ScriptedTurn(text=["Answered."])], name="fallback", model="fb-1")
    _, outcome = await run([primary, fallback])
    assert outcome.attempts == ["primary:busy", "fallback:ok"]
    assert (outcome.provider, outcome.model, outcome.text) == ("fallback", "fb-1", "Answered.")
    assert fallback.calls[0].messages == QUESTION


async def test_failover_keeps_tool_results_and_counts_the_failed_attempts_tokens() -> None:
    broken = ProviderError("bad_response", "cut off", provider="primary")
    primary = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[count_call()], input_tokens=100, output_tokens=10),
            ScriptedTurn(error=broken),
        ],
        name="primary",
    )
    fallback = ScriptedProvider(
        [ScriptedTurn(text=["12 servers."], input_tokens=300, output_tokens=30)], name="fallback"
    )
    tools = FakeToolRunner({"count_resources": SERVERS})
    _, outcome = await run([primary, fallback], tools)

    assert len(tools.calls) == 1  # not run again by the fallback
    handed = fallback.calls[0].messages
    assert [m.role for m in handed] == ["user", "assistant", "tool"]
    assert outcome.usage is not None
    assert (outcome.usage.input_tokens, outcome.usage.output_tokens, outcome.usage.calls) == (
        400,
        40,
        2,
    )
    assert outcome.usage.provider == "fallback"
    assert outcome.attempts == ["primary:bad_response", "fallback:ok"]


async def test_no_failover_once_the_person_has_seen_text() -> None:
    cut = ProviderError("bad_response", "cut off", provider="primary")
    primary = ScriptedProvider([ScriptedTurn(text=["Half an ans"], error=cut)], name="primary")
    fallback = ScriptedProvider([ScriptedTurn(text=["unused"])], name="fallback")
    events = []
    with pytest.raises(ProviderError) as raised:
        async for event in run_tool_loop([primary, fallback], "s", QUESTION, FakeToolRunner()):
            events.append(event)
    assert events == [TextDelta("Half an ans")]
    assert fallback.calls == []
    assert raised.value.attempts == ["primary:bad_response"]


async def test_when_every_provider_fails_the_last_error_carries_attempts_and_usage() -> None:
    with_tokens = ProviderError(
        "timeout", "slow", provider="b", usage=Usage("b", "m", input_tokens=50, output_tokens=0)
    )
    a = ScriptedProvider([ProviderError("busy", "busy", provider="a", retry_after_s=3)], name="a")
    b = ScriptedProvider([with_tokens], name="b")
    with pytest.raises(ProviderError) as raised:
        await run([a, b])
    err = raised.value
    assert err.kind == "timeout"
    assert err.attempts == ["a:busy", "b:timeout"]
    assert err.usage is not None and err.usage.input_tokens == 50


async def test_a_provider_list_must_not_be_empty() -> None:
    with pytest.raises(ValueError):
        await run([])


# ---- what small local models do: text-form calls, length stops, runaway streams ----


@dataclass(frozen=True)
class Wire:
    """One turn as a server streams it: text pieces, then how it stopped."""

    pieces: Sequence[str] = ()
    stop: str = "stop"
    pause_s: float = 0.0
    endless: bool = False  # the pieces again and again, until the caller stops reading
    served_by: str = "qwen2.5-1.5b-instruct-q4_k_m.gguf"


@dataclass
class WireProvider:
    """A Provider that streams scripted text with any stop reason, as a local server would."""

    turns: list[Wire]
    name: str = "local"
    model: str = "default"
    calls: list[tuple[list[ChatMessage], list[ToolSpec]]] = field(default_factory=list)
    closed: int = 0

    async def turn(self, system, messages, tools) -> AsyncIterator[TextDelta | TurnEnd]:
        self.calls.append((list(messages), list(tools)))
        wire = self.turns.pop(0)
        try:
            pieces = itertools.cycle(wire.pieces) if wire.endless else iter(wire.pieces)
            for piece in pieces:
                await asyncio.sleep(wire.pause_s)
                yield TextDelta(piece)
            yield TurnEnd((), Usage(self.name, wire.served_by, 100, 20), stop_reason=wire.stop)
        finally:
            self.closed += 1


def chopped(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


CALL = json.dumps({"name": "count_resources", "arguments": {"kind": "servers"}})
COUNT_CALL = ("count_resources", {"kind": "servers"})
TEXT_CALLS = [
    pytest.param(f"```json\n{CALL}\n```", id="fenced"),
    pytest.param(CALL, id="bare"),
    pytest.param(f"<tool_call>\n{CALL}\n</tool_call>", id="tags"),
    pytest.param('functions.count_resources:{"kind": "servers"}', id="functions-prefix"),
]


@pytest.mark.parametrize("written", TEXT_CALLS)
async def test_a_call_written_as_text_runs_and_is_never_shown(written: str) -> None:
    provider = WireProvider(
        [Wire(chopped(f"Let me check.\n{written}\n")), Wire(chopped("You have 12 servers."))]
    )
    tools = FakeToolRunner({"count_resources": SERVERS})
    events, outcome = await run([provider], tools)

    assert tools.calls == [("count_resources", {"kind": "servers"})]
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown == outcome.text == "Let me check.\n\nYou have 12 servers."
    asked = outcome.new_messages[0]
    assert asked.content == "Let me check."
    assert [(c.name, dict(c.arguments)) for c in asked.tool_calls] == [
        ("count_resources", {"kind": "servers"})
    ]
    result = provider.calls[1][0][-1]
    assert (result.role, result.tool_call_id) == ("tool", asked.tool_calls[0].id)


async def test_prose_streams_at_once_while_a_possible_call_is_held_back() -> None:
    provider = WireProvider(
        [Wire(["You have ", "12 servers.", "\n```", "json\n", '{"a": 1}', "\n```"])]
    )
    events, outcome = await run([provider])
    assert events[:2] == [TextDelta("You have "), TextDelta("12 servers.")]
    # Not a call after all: released, whole, once the block closed.
    assert events[2:] == [TextDelta('\n```json\n{"a": 1}\n```')]
    assert outcome.text == 'You have 12 servers.\n```json\n{"a": 1}\n```'


async def test_a_call_to_a_tool_we_do_not_have_runs_so_the_model_hears_it_is_unknown() -> None:
    made_up = json.dumps({"name": "get_servers", "arguments": {"kind": "servers"}})
    provider = WireProvider(
        [
            Wire(chopped(f"```json\n{made_up}\n```")),
            Wire(chopped(CALL)),  # corrected, after the error
            Wire(["You have 12 servers."]),
        ]
    )
    tools = FakeToolRunner({"count_resources": SERVERS})
    events, outcome = await run([provider], tools)

    assert tools.calls == [("get_servers", {"kind": "servers"}), COUNT_CALL]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "You have 12 servers."
    assert outcome.text == "You have 12 servers."
    error = provider.calls[1][0][-1]  # what the model read before correcting itself
    assert (error.role, error.name) == ("tool", "get_servers")
    assert json.loads(error.content) == {"error": "no tool named get_servers"}
    steps = [e for e in events if isinstance(e, ToolStep)]
    assert [(s.name, s.is_error) for s in steps] == [
        ("get_servers", True),
        ("count_resources", False),
    ]


async def test_json_in_an_answer_that_is_not_a_call_is_shown_and_runs_nothing() -> None:
    data = json.dumps({"name": "web-1", "status": "running", "arguments": {"cpu": 2}})
    provider = WireProvider([Wire(chopped(f"The server:\n```json\n{data}\n```"))])
    tools = FakeToolRunner({"count_resources": SERVERS})
    _, outcome = await run([provider], tools)
    assert tools.calls == [] and outcome.text == f"The server:\n```json\n{data}\n```"


async def test_a_length_stop_after_some_text_is_an_honest_partial_answer() -> None:
    provider = WireProvider([Wire(["You have 12 servers: web-1, web-2, "], stop="length")])
    events, outcome = await run([provider])
    assert events[-1] == TextDelta(STOPPED_EARLY_NOTE)
    assert outcome.text == f"You have 12 servers: web-1, web-2, \n\n{STOPPED_EARLY_NOTE}"
    assert outcome.stopped == STOPPED_EARLY
    assert outcome.new_messages[-1].content.endswith(STOPPED_EARLY_NOTE)


async def test_a_length_stop_with_nothing_usable_is_a_clear_failure_and_shows_no_json() -> None:
    half_a_call = f"```json\n{CALL[:30]}"
    provider = WireProvider([Wire(chopped(half_a_call), stop="length")])
    events = []
    with pytest.raises(ProviderError) as raised:
        async for event in run_tool_loop([provider], "s", QUESTION, FakeToolRunner()):
            events.append(event)
    assert raised.value.kind == "cut_off"
    assert events == []


async def test_a_length_stop_after_complete_calls_runs_them() -> None:
    # A runaway turn: the same call written again and again until the output cap.
    runaway = "\n".join([CALL] * 3) + '\n{"name": "count_res'
    provider = WireProvider([Wire(chopped(runaway), stop="length"), Wire(["12 servers."])])
    tools = FakeToolRunner({"count_resources": SERVERS})
    _, outcome = await run([provider], tools)
    assert len(tools.calls) == 1  # the copies get the first one's result
    assert outcome.text == "12 servers." and outcome.stopped is None


async def test_an_answer_over_its_time_budget_is_stopped_and_kept_as_partial() -> None:
    provider = WireProvider([Wire(["All good, ", "and "], pause_s=0.02, endless=True)])
    events = [
        e
        async for e in run_tool_loop(
            [provider], "s", QUESTION, FakeToolRunner(), answer_timeout_s=0.3
        )
    ]
    assert isinstance(events[-1], LoopDone)
    outcome = events[-1].outcome
    assert outcome.text.startswith("All good, and ")
    assert outcome.text.endswith(f"\n\n{TIMED_OUT_NOTE}")
    assert outcome.stopped == ANSWER_TIMEOUT
    assert provider.closed == 1  # the stream was closed, not left running
    assert outcome.usage is not None and outcome.usage.input_tokens is None  # unknown


async def test_an_answer_with_nothing_shown_by_its_deadline_fails_without_failover() -> None:
    # A call that never ends: held back, so the person has seen nothing when time is up.
    opened = '<tool_call>{"name": "count_resources", "arguments": {"kind": "'
    silent = WireProvider([Wire([opened], pause_s=0.05, endless=True)])
    fallback = ScriptedProvider([ScriptedTurn(text=["unused"])], name="fallback")
    with pytest.raises(ProviderError) as raised:
        async for _ in run_tool_loop(
            [silent, fallback], "s", QUESTION, FakeToolRunner(), answer_timeout_s=0.3
        ):
            pass
    assert raised.value.kind == "timeout"
    assert fallback.calls == []  # no time left for it
    assert raised.value.attempts == ["local:timeout"]


async def test_the_model_recorded_is_the_one_the_server_says_answered() -> None:
    provider = WireProvider([Wire(["Hi."], served_by="llama-3.2-1b-instruct")])
    _, outcome = await run([provider])
    assert outcome.model == "llama-3.2-1b-instruct"
    assert outcome.usage is not None and outcome.usage.model == "llama-3.2-1b-instruct"
