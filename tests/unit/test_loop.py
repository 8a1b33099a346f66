"""The shared tool loop, driven by the in-memory ScriptedProvider and FakeToolRunner."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.models import (
    ChatMessage,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolStep,
    Usage,
)
from core.providers.loop import LoopDone, LoopOutcome, run_tool_loop, step_limit_text
from tests.fakes.scripted_provider import ScriptedProvider, ScriptedTurn
from tests.fakes.tool_runner import FakeToolRunner

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


async def test_the_step_limit_ends_a_runaway_loop_honestly() -> None:
    provider = ScriptedProvider([ScriptedTurn(tool_calls=[count_call(f"c{i}")]) for i in range(10)])
    tools = FakeToolRunner({"count_resources": SERVERS})
    events, outcome = await run([provider], tools, max_steps=3)

    assert len(provider.calls) == 3
    assert len(tools.calls) == 2  # the third turn's calls would never be read by a model
    assert outcome.text == step_limit_text(2)
    assert "stopped after 2 lookups" in outcome.text
    assert events[-1] == TextDelta(step_limit_text(2))
    last = outcome.new_messages[-1]
    assert last.role == "assistant" and last.tool_calls == ()
    assert outcome.steps == 3


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
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.calls) == (
        3_000,
        300,
        1_000,
        2,
    )
    # (3000*2 + 300*10 + 1000*0.2) / 1e6
    assert usage.cost_usd == Decimal("0.0092")


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
