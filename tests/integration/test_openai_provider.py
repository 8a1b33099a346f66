"""The OpenAI provider through the real openai SDK against a fake server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from adapters.llm.openai import OpenAIProvider
from core.models import TextDelta, ToolResult, ToolStep, TurnEnd, Usage
from core.providers.loop import LoopDone, run_tool_loop
from tests.fakes.ports.tool_runner import FakeToolRunner
from tests.fakes.services.anthropic_server import FakeAnthropic
from tests.fakes.services.openai_server import Fail, FakeOpenAI, FakeToolCall, FakeUsage, Reply
from tests.integration.provider_cases import API_KEY, QUESTION, ProviderContract, one_turn


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


def make_openai(server, *, model: str = "gpt-4o-mini", **options) -> OpenAIProvider:
    return OpenAIProvider(model=model, api_key=API_KEY, base_url=server.base_url, **options)


@pytest.fixture
def make():
    return make_openai


class TestOpenAIContract(ProviderContract):
    pass


async def test_parallel_tool_calls_are_assembled_from_interleaved_fragments(server) -> None:
    server.push(
        Reply(
            tool_calls=[
                FakeToolCall(
                    "count_resources", {"kind": "servers", "group_by": "provider"}, id="call_a"
                ),
                FakeToolCall("find_problems", {}, id="call_b"),
            ]
        )
    )
    events = await one_turn(make_openai(server))
    end = events[-1]
    assert isinstance(end, TurnEnd)
    assert [(c.id, c.name, dict(c.arguments)) for c in end.tool_calls] == [
        ("call_a", "count_resources", {"kind": "servers", "group_by": "provider"}),
        ("call_b", "find_problems", {}),
    ]
    assert server.requests[0].body["stream_options"] == {"include_usage": True}


async def test_prompt_tokens_are_kept_as_processed_with_cache_reads_beside_them(server) -> None:
    server.push(
        Reply(
            text=["hi"],
            usage=FakeUsage(input_tokens=1_000, output_tokens=1_000, cache_read_tokens=2_000),
        )
    )
    end = (await one_turn(make_openai(server)))[-1]
    assert isinstance(end, TurnEnd)
    # prompt_tokens 3,000 of which 2,000 were cached: 3,000 processed, not 1,000.
    assert (end.usage.input_tokens, end.usage.cache_read_tokens, end.usage.output_tokens) == (
        3_000,
        2_000,
        1_000,
    )


async def test_a_server_that_reports_no_usage_leaves_tokens_unknown(server) -> None:
    server.push(Reply(text=["hi"], usage=None))
    end = (await one_turn(make_openai(server, model="llama3.1:8b")))[-1]
    assert isinstance(end, TurnEnd)
    assert end.usage == Usage("openai", "llama3.1:8b")  # tokens None, never invented


async def test_a_question_answered_through_a_tool_call_with_cost(server) -> None:
    server.push(
        Reply(
            text=["Checking."],
            tool_calls=[
                FakeToolCall("count_resources", {"kind": "servers"}),
                FakeToolCall("find_problems", {}),
            ],
            usage=FakeUsage(1_000, 100),
        ),
        Reply(
            text=["You have ", "12 servers."], usage=FakeUsage(1_000, 200, cache_read_tokens=1_000)
        ),
    )
    tools = FakeToolRunner(
        {
            "count_resources": ToolResult({"count": 12}, "Counted 12 servers"),
            "find_problems": ToolResult({"problems": []}, "No problems"),
        }
    )
    events = [e async for e in run_tool_loop([make_openai(server)], "sys", QUESTION, tools)]
    steps = [e for e in events if isinstance(e, ToolStep)]
    assert [s.summary for s in steps] == ["Counted 12 servers", "No problems"]
    outcome = events[-1].outcome
    assert isinstance(events[-1], LoopDone)
    assert outcome.text == "Checking.\n\nYou have 12 servers."
    assert [e.text for e in events if isinstance(e, TextDelta)][-2:] == ["You have ", "12 servers."]

    sent = server.requests[1].body["messages"]
    assert sent[0] == {"role": "system", "content": "sys"}
    assert sent[2]["role"] == "assistant" and len(sent[2]["tool_calls"]) == 2
    assert [(m["role"], m["tool_call_id"], m["content"]) for m in sent[3:]] == [
        ("tool", "call_fake_0", '{"count":12}'),
        ("tool", "call_fake_1", '{"problems":[]}'),
    ]
    # (2000*0.15 + 300*0.6 + 1000*0.075) / 1e6
    assert outcome.usage.cost_usd == Decimal("0.000555")
    assert (outcome.usage.input_tokens, outcome.usage.output_tokens) == (3_000, 300)


async def test_a_busy_openai_fails_over_to_anthropic(server) -> None:
    server.push(Fail("status", 429, retry_after="20"))
    async with FakeAnthropic().push(Reply(text=["From Claude."])) as claude:
        from adapters.llm.anthropic import AnthropicProvider

        fallback = AnthropicProvider(
            model="claude-sonnet-5", api_key="ak", base_url=claude.base_url
        )
        events = [
            e
            async for e in run_tool_loop(
                [make_openai(server, max_retries=0), fallback], "s", QUESTION, FakeToolRunner()
            )
        ]
    outcome = events[-1].outcome
    assert outcome.attempts == ["openai:busy", "anthropic:ok"]
    assert (outcome.provider, outcome.text) == ("anthropic", "From Claude.")
