"""The Anthropic provider through the real anthropic SDK against a fake server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from adapters.llm.anthropic import AnthropicProvider
from core.models import ProviderError, ToolResult, TurnEnd
from core.providers.loop import run_tool_loop
from tests.fakes.ports.tool_runner import FakeToolRunner
from tests.fakes.services.anthropic_server import (
    Fail,
    FakeAnthropic,
    FakeToolCall,
    FakeUsage,
    Reply,
)
from tests.integration.provider_cases import (
    API_KEY,
    QUESTION,
    ProviderContract,
    expect_failure,
    one_turn,
)


@pytest.fixture
async def server() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as fake:
        yield fake


def make_anthropic(server, *, model: str = "claude-sonnet-5", **options) -> AnthropicProvider:
    return AnthropicProvider(model=model, api_key=API_KEY, base_url=server.base_url, **options)


@pytest.fixture
def make():
    return make_anthropic


class TestAnthropicContract(ProviderContract):
    pass


async def test_parallel_tool_use_blocks_are_assembled(server) -> None:
    server.push(
        Reply(
            text=["Let me look."],
            tool_calls=[
                FakeToolCall("count_resources", {"kind": "servers"}, id="toolu_a"),
                FakeToolCall("find_problems", {}, id="toolu_b"),
            ],
        )
    )
    end = (await one_turn(make_anthropic(server)))[-1]
    assert isinstance(end, TurnEnd)
    assert end.stop_reason == "tool_use"
    assert [(c.id, c.name, dict(c.arguments)) for c in end.tool_calls] == [
        ("toolu_a", "count_resources", {"kind": "servers"}),
        ("toolu_b", "find_problems", {}),
    ]


async def test_usage_includes_cache_reads_and_writes(server) -> None:
    server.push(
        Reply(
            text=["hi"],
            usage=FakeUsage(1_000, 500, cache_read_tokens=10_000, cache_write_tokens=2_000),
        )
    )
    end = (await one_turn(make_anthropic(server)))[-1]
    assert isinstance(end, TurnEnd)
    usage = end.usage
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    ) == (
        13_000,  # every prompt token processed: Anthropic's 1,000 plus the cache's
        500,
        10_000,
        2_000,
    )


async def test_tool_results_go_back_as_one_user_message_and_cost_adds_up(server) -> None:
    server.push(
        Reply(
            tool_calls=[
                FakeToolCall("count_resources", {"kind": "servers"}, id="toolu_a"),
                FakeToolCall("find_problems", {}, id="toolu_b"),
            ],
            usage=FakeUsage(1_000, 100, cache_write_tokens=2_000),
        ),
        Reply(text=["12 servers."], usage=FakeUsage(1_500, 50, cache_read_tokens=2_000)),
    )
    tools = FakeToolRunner(
        {
            "count_resources": ToolResult({"count": 12}, "Counted 12"),
            "find_problems": ToolResult({"problems": []}, "None"),
        }
    )
    events = [e async for e in run_tool_loop([make_anthropic(server)], "sys", QUESTION, tools)]
    body = server.requests[1].body
    assert body["system"][0]["text"] == "sys"
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert [b["type"] for b in body["messages"][1]["content"]] == ["tool_use", "tool_use"]
    results = body["messages"][2]["content"]
    assert [(b["type"], b["tool_use_id"], b["content"]) for b in results] == [
        ("tool_result", "toolu_a", '{"count":12}'),
        ("tool_result", "toolu_b", '{"problems":[]}'),
    ]
    usage = events[-1].outcome.usage
    # input 2500*2 + output 150*10 + cache read 2000*0.2 + cache write 2000*2.5, per million
    assert usage.cost_usd == Decimal("0.0119")


async def test_an_overload_inside_the_stream_is_busy_and_keeps_the_spent_input(server) -> None:
    server.push(Fail("stream_error"))
    err, events = await expect_failure(make_anthropic(server, max_retries=0))
    assert err.kind == "busy"
    assert err.usage is not None and err.usage.input_tokens == 50
    assert len(events) == 1  # the text that arrived before the overload


async def test_a_long_retry_after_is_not_waited_for(server) -> None:
    server.push(Fail("status", 429, retry_after="3600"))
    started = time.perf_counter()
    err, _ = await expect_failure(make_anthropic(server, max_retries=2))
    assert (err.kind, err.retry_after_s) == ("busy", 3600.0)
    assert len(server.requests) == 1
    assert time.perf_counter() - started < 5


async def test_the_base_url_is_honoured(server) -> None:
    server.push(Reply(text=["ok"]))
    await one_turn(make_anthropic(server))
    assert server.requests[0].path == "/v1/messages"
    assert API_KEY in " ".join(server.requests[0].headers.values())


async def test_every_failure_is_a_provider_error_never_an_sdk_one(server) -> None:
    server.push(Fail("status", 400))
    with pytest.raises(ProviderError) as raised:
        await one_turn(make_anthropic(server, max_retries=0))
    assert raised.value.kind == "bad_response"


async def test_the_last_turn_without_tools_gets_the_earlier_calls_as_text(server) -> None:
    # The Messages API refuses tool blocks in a request that offers no tools.
    server.push(
        Reply(tool_calls=[FakeToolCall("count_resources", {"kind": "servers"}, id="toolu_a")]),
        Reply(text=["12 servers."]),
    )
    tools = FakeToolRunner({"count_resources": ToolResult({"count": 12}, "Counted 12")})
    events = [
        e
        async for e in run_tool_loop([make_anthropic(server)], "sys", QUESTION, tools, max_steps=1)
    ]
    last = server.requests[-1].body
    assert "tools" not in last
    blocks = [b for m in last["messages"] for b in m["content"]]
    assert {b["type"] for b in blocks} == {"text"}
    assert events[-1].outcome.text == "12 servers."
