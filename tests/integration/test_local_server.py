"""The OpenAI provider and the tool loop against a local model server (llama.cpp, Ollama) and
what small models do there, through the real openai SDK and, last, the `ask` command."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.llm.openai import OpenAIProvider
from core.models import ChatMessage, ProviderError, TextDelta, ToolResult, ToolSpec, TurnEnd
from core.providers.loop import (
    ANSWER_TIMEOUT,
    LAST_TURN_PROMPT,
    REPEAT_NOTE,
    STOPPED_EARLY,
    STOPPED_EARLY_NOTE,
    TIMED_OUT_NOTE,
    LoopDone,
    LoopOutcome,
    run_tool_loop,
)
from core.tools import tool_specs
from tests.fakes.ports.tool_runner import FakeToolRunner
from tests.fakes.services.local_server import (
    QWEN,
    LocalServer,
    Said,
    bare,
    fenced,
    prefixed,
    tagged,
)
from tests.fakes.services.model_server import FakeToolCall

_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
QUESTION = [ChatMessage(role="user", content="How many servers do I have?")]
SERVERS = ToolResult({"kind": "servers", "total": 12}, "Counted 12 servers")
COUNT = ("count_resources", {"kind": "servers"})


class RealTools(FakeToolRunner):
    """Canned results behind the real tool definitions, which are most of a prompt's size."""

    def specs(self) -> list[ToolSpec]:
        return list(tool_specs(50))


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    async with LocalServer() as fake:
        yield fake


def local(server: LocalServer, **options: Any) -> OpenAIProvider:
    return OpenAIProvider(model=None, api_key="none", base_url=server.base_url, **options)


async def answer(
    provider: OpenAIProvider, tools: FakeToolRunner | None = None, **options: Any
) -> tuple[list[Any], LoopOutcome]:
    runner = tools if tools is not None else RealTools({"count_resources": SERVERS})
    events = [e async for e in run_tool_loop([provider], "sys", QUESTION, runner, **options)]
    assert isinstance(events[-1], LoopDone)
    return events[:-1], events[-1].outcome


def shown(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# ---- text-form calls ----


@pytest.mark.parametrize(
    "shape", [fenced, bare, tagged, prefixed], ids=["fenced", "bare", "tags", "functions-prefix"]
)
async def test_a_call_written_as_text_runs_and_its_text_never_reaches_the_person(
    server: LocalServer, shape: Callable[[str, dict[str, Any]], str]
) -> None:
    server.push(Said(f"Let me check.\n{shape(*COUNT)}\n"), Said("You have 12 servers."))
    tools = RealTools({"count_resources": SERVERS})
    events, outcome = await answer(local(server), tools)

    assert tools.calls == [COUNT]
    assert shown(events) == outcome.text == "Let me check.\n\nYou have 12 servers."
    # The call goes back to the server in the API's own shape, with its result.
    sent = server.chats[1].body["messages"]
    call = sent[-2]["tool_calls"][0]
    assert (call["function"]["name"], json.loads(call["function"]["arguments"])) == COUNT
    assert sent[-2]["content"] == "Let me check."
    assert (sent[-1]["role"], sent[-1]["tool_call_id"]) == ("tool", call["id"])
    assert json.loads(sent[-1]["content"]) == {"kind": "servers", "total": 12}


@pytest.mark.parametrize(
    "shape", [fenced, bare, tagged, prefixed], ids=["fenced", "bare", "tags", "functions-prefix"]
)
async def test_a_call_to_a_made_up_tool_runs_and_its_text_never_reaches_the_person(
    server: LocalServer, shape: Callable[[str, dict[str, Any]], str]
) -> None:
    server.push(
        Said(f"Let me check.\n{shape('get_servers', {})}\n"),
        Said(tagged(*COUNT)),
        Said("You have 12 servers."),
    )
    tools = RealTools({"count_resources": SERVERS})
    events, outcome = await answer(local(server), tools)

    assert tools.calls == [("get_servers", {}), COUNT]
    assert shown(events) == outcome.text == "Let me check.\n\nYou have 12 servers."
    # The made-up call goes back in the API's shape, answered with the runner's error.
    sent = server.chats[1].body["messages"]
    assert sent[-2]["tool_calls"][0]["function"]["name"] == "get_servers"
    assert json.loads(sent[-1]["content"]) == {"error": "no tool named get_servers"}


async def test_json_data_in_an_answer_reaches_the_person(server: LocalServer) -> None:
    data = '{"name": "web-1", "status": "running"}'
    server.push(Said(f"Here is the server:\n{data}\nIt is up."))
    tools = RealTools({"count_resources": SERVERS})
    events, outcome = await answer(local(server), tools)
    assert tools.calls == []
    assert shown(events) == outcome.text == f"Here is the server:\n{data}\nIt is up."


async def test_prose_is_not_held_back(server: LocalServer) -> None:
    server.push(Said("You have 12 servers across three providers.", piece_delay_s=0.05))
    provider = local(server)
    seen: list[float] = []
    loop = asyncio.get_running_loop()
    async for event in run_tool_loop([provider], "sys", QUESTION, FakeToolRunner()):
        if isinstance(event, TextDelta):
            seen.append(loop.time())
    # Pieces arrive as the server sends them, not all at the end of the turn.
    assert len(seen) >= 8 and seen[-1] - seen[0] >= 0.3


async def test_repeating_the_same_call_gets_the_earlier_result_not_a_new_run(
    server: LocalServer,
) -> None:
    server.push(Said(bare(*COUNT)), Said(tagged(*COUNT)), Said("You have 12 servers."))
    tools = RealTools({"count_resources": SERVERS})
    _, outcome = await answer(local(server), tools)
    assert tools.calls == [COUNT]
    repeat = json.loads(server.chats[2].body["messages"][-1]["content"])
    assert repeat == {
        "note": REPEAT_NOTE.format(name="count_resources"),
        "earlier_result": {"kind": "servers", "total": 12},
    }
    assert outcome.text == "You have 12 servers."


async def test_at_the_step_limit_the_last_turn_is_asked_without_tools(
    server: LocalServer,
) -> None:
    server.push(
        Said(fenced("count_resources", {"kind": "servers"})),
        Said(fenced("count_resources", {"kind": "domains"})),
        Said("You have 12 servers."),
    )
    tools = RealTools({"count_resources": SERVERS})
    _, outcome = await answer(local(server), tools, max_steps=2)
    last = server.chats[-1].body
    assert "tools" not in last and "tool_choice" not in last
    assert last["messages"][-1] == {"role": "user", "content": LAST_TURN_PROMPT}
    assert outcome.text == "You have 12 servers." and len(tools.calls) == 1


# ---- caps, length stops and runaway streams ----


async def test_every_turn_is_capped_and_tools_are_offered_with_tool_choice_auto(
    server: LocalServer,
) -> None:
    server.push(Said(tagged(*COUNT)), Said("12."))
    await answer(local(server, max_tokens=512))
    for request in server.chats:
        assert request.body["max_tokens"] == 512
        assert request.body["tool_choice"] == "auto" and request.body["tools"]


async def test_a_server_that_refuses_max_tokens_gets_max_completion_tokens(
    server: LocalServer,
) -> None:
    server.rejects = ("max_tokens",)
    server.push(Said(tagged(*COUNT)), Said("12."))
    _, outcome = await answer(local(server))
    assert outcome.text == "12."
    capped = [r.body.get("max_tokens", r.body.get("max_completion_tokens")) for r in server.chats]
    assert capped == [2048, 2048, 2048]  # refused once, then asked again and kept
    assert [("max_tokens" in r.body) for r in server.chats] == [True, False, False]


async def test_an_endless_stream_stops_at_the_cap_as_an_honest_partial_answer(
    server: LocalServer,
) -> None:
    server.push(Said("All servers are up. ", endless=True))
    events, outcome = await answer(local(server, max_tokens=30))
    assert outcome.stopped == STOPPED_EARLY
    assert shown(events) == outcome.text
    assert outcome.text.startswith("All servers are up.")
    assert outcome.text.endswith(f"\n\n{STOPPED_EARLY_NOTE}")


async def test_a_length_stop_in_the_middle_of_a_call_is_a_clear_failure(
    server: LocalServer,
) -> None:
    server.push(Said(fenced(*COUNT)[:40], finish="length"))
    events: list[Any] = []
    with pytest.raises(ProviderError) as raised:
        async for event in run_tool_loop(
            [local(server)], "s", QUESTION, RealTools({"count_resources": SERVERS})
        ):
            events.append(event)
    assert raised.value.kind == "cut_off"
    assert events == []  # not a character of the half call


async def test_an_answer_over_its_time_budget_is_stopped_and_the_stream_closed(
    server: LocalServer,
) -> None:
    server.push(Said("Still going. ", endless=True, piece_delay_s=0.01))
    started = asyncio.get_running_loop().time()
    events, outcome = await answer(local(server, max_tokens=1_000_000), answer_timeout_s=0.5)
    assert asyncio.get_running_loop().time() - started < 3
    assert outcome.stopped == ANSWER_TIMEOUT
    assert outcome.text.endswith(TIMED_OUT_NOTE) and shown(events) == outcome.text
    for _ in range(100):  # the server notices the closed stream on its next write
        if server.disconnects:
            break
        await asyncio.sleep(0.02)
    assert server.disconnects == 1


# ---- the model's identity, its usage and its cost ----


async def test_without_ai_model_the_server_is_asked_which_model_it_serves(
    server: LocalServer,
) -> None:
    server.push(Said("Hi."), Said("Again."))
    provider = local(server)
    await answer(provider)
    await answer(provider)
    assert [r.path for r in server.requests].count("/v1/models") == 1  # asked once
    assert [r.body["model"] for r in server.chats] == [QWEN, QWEN]


async def test_a_server_with_no_model_list_is_sent_a_neutral_name() -> None:
    async with LocalServer(list_models=False).push(Said("Hi.")) as server:
        await answer(local(server))
    assert server.chats[0].body["model"] == "default"


async def test_the_model_recorded_is_the_one_the_server_says_and_its_cost_is_unknown(
    server: LocalServer,
) -> None:
    server.push(Said("Hi."))
    # A paid model's name sent to a local server does not make its answer cost money.
    provider = OpenAIProvider(model="gpt-4o-mini", api_key="none", base_url=server.base_url)
    _, outcome = await answer(provider)
    assert server.chats[0].body["model"] == "gpt-4o-mini"
    assert outcome.model == QWEN
    assert outcome.usage is not None
    assert (outcome.usage.model, outcome.usage.cost_usd) == (QWEN, None)
    assert outcome.usage.input_tokens is not None  # the server reported them


async def test_a_server_that_sends_no_usage_leaves_tokens_unknown(server: LocalServer) -> None:
    server.push(Said("Hi.", usage=False))
    events = [e async for e in local(server).turn("sys", QUESTION, [])]
    end = events[-1]
    assert isinstance(end, TurnEnd)
    assert (end.usage.input_tokens, end.usage.output_tokens, end.usage.model) == (
        None,
        None,
        QWEN,
    )


# ---- a conversation longer than the window, and tools the server drops ----


async def test_a_context_error_is_told_apart_and_names_the_setting(caplog) -> None:
    async with LocalServer(context_window=300).push(Said("unused")) as server:
        with caplog.at_level(logging.WARNING), pytest.raises(ProviderError) as raised:
            await answer(local(server))
    assert raised.value.kind == "context_exceeded"
    assert "AI_CONTEXT_WINDOW=300" in caplog.text
    assert "refused a prompt of" in caplog.text


async def test_a_server_that_drops_tools_is_reported_once_from_its_props(caplog) -> None:
    async with LocalServer(ignore_tools=True).push(Said("8."), Said("8.")) as server:
        provider = local(server)
        with caplog.at_level(logging.WARNING):
            await answer(provider)
            await answer(provider)
    warnings = [r for r in caplog.records if "drop the tools" in r.getMessage()]
    assert len(warnings) == 1
    assert "GET /props" in warnings[0].getMessage()


async def test_a_server_that_drops_tools_shows_it_in_the_prompt_tokens(caplog) -> None:
    async with LocalServer(ignore_tools=True, props=False) as server:
        server.push(Said("8."), Said("8."))
        provider = local(server)
        with caplog.at_level(logging.WARNING):
            await answer(provider)
            await answer(provider)
    warnings = [r for r in caplog.records if "drop the tools" in r.getMessage()]
    assert len(warnings) == 1
    assert "prompt tokens" in warnings[0].getMessage()


async def test_a_server_that_keeps_tools_is_not_reported(caplog) -> None:
    async with LocalServer(props=False).push(Said("8.")) as server:
        with caplog.at_level(logging.WARNING):
            await answer(local(server))
    assert "drop the tools" not in caplog.text


async def test_api_tool_calls_from_a_local_server_still_work(server: LocalServer) -> None:
    server.push(Said(tool_calls=[FakeToolCall(*COUNT)]), Said("You have 12 servers."))
    tools = RealTools({"count_resources": SERVERS})
    _, outcome = await answer(local(server), tools)
    assert tools.calls == [COUNT] and outcome.text == "You have 12 servers."


# ---- `ask` with OPENAI_BASE_URL and no AI_MODEL, as a person would run it ----


async def cli(tmp_path, *args: str, stdin: str = "", **env: str) -> tuple[int, str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "AI_", "SLACK_", "DISCORD_", "CONVEX_"))
    }
    environ.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'local.db'}", **env)
    # The fake server runs on this event loop, so the command must not block it.
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        env=environ,
        cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def ask_locally(tmp_path, server: LocalServer, **env: str) -> tuple[int, str, str]:
    return await cli(
        tmp_path,
        "ask",
        "How many servers do I have?",
        "--as",
        "email:ada@acme.example",
        AI_PROVIDER="openai",
        OPENAI_API_KEY="none",
        OPENAI_BASE_URL=server.base_url,
        **env,
    )


async def audit_rows(tmp_path) -> list[dict[str, Any]]:
    code, out, err = await cli(tmp_path, "audit", "export")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def reads_the_count(body: dict[str, Any]) -> Said:
    """A small model that states the count its tool result gave it."""
    result = json.loads(body["messages"][-1]["content"])
    return Said(f"You have {result['total']} servers.")


async def test_ask_through_a_local_server_answers_right_and_records_an_unknown_cost(
    tmp_path, server: LocalServer
) -> None:
    server.push(Said(fenced(*COUNT)), reads_the_count)
    code, out, err = await ask_locally(tmp_path, server)
    assert code == 0, err
    assert out.strip() == "You have 8 servers."  # the demo org's count, and no JSON
    assert all(not r.body["model"].startswith("gpt") for r in server.chats)
    (row,) = await audit_rows(tmp_path)
    assert (row["result"], row["reason"], row["model"], row["cost_usd"]) == (
        "answered",
        None,
        QWEN,
        None,
    )
    code, report, err = await cli(tmp_path, "usage", "--format", "json")
    assert code == 0, err
    total = json.loads(report)["total"]
    assert (total["cost_usd"], total["unpriced_questions"]) == (None, 1)
    code, table, _ = await cli(tmp_path, "usage")
    assert "unknown" in next(line for line in table.splitlines() if line.startswith("total"))


def corrects_a_made_up_call(body: dict[str, Any]) -> Said:
    """A small model that reads the error its made-up call got and calls a tool it names."""
    error = json.loads(body["messages"][-1]["content"])["error"]
    return Said(fenced(*COUNT) if "count_resources" in error else "I could not look that up.")


async def test_ask_with_a_made_up_tool_lets_the_model_correct_itself(
    tmp_path, server: LocalServer
) -> None:
    server.push(Said(fenced("get_servers", {})), corrects_a_made_up_call, reads_the_count)
    code, out, err = await ask_locally(tmp_path, server)
    assert code == 0, err
    assert out.strip() == "You have 8 servers."
    told = json.loads(server.chats[1].body["messages"][-1]["content"])["error"]
    assert told.startswith("Unknown tool 'get_servers'. Available tools:")
    (row,) = await audit_rows(tmp_path)
    assert (row["result"], row["reason"]) == ("answered", None)


async def test_ask_records_a_cut_off_answer_as_partial(tmp_path, server: LocalServer) -> None:
    server.push(Said("You have 8 servers: web-1, ", endless=True))
    code, out, err = await ask_locally(tmp_path, server, AI_MAX_OUTPUT_TOKENS="64")
    assert code == 0, err
    assert out.rstrip().endswith(STOPPED_EARLY_NOTE)
    assert server.chats[0].body["max_tokens"] == 64
    (row,) = await audit_rows(tmp_path)
    assert (row["result"], row["reason"]) == ("answered", STOPPED_EARLY)


async def test_ask_with_too_long_a_conversation_says_so_plainly(tmp_path) -> None:
    async with LocalServer(context_window=600).push(Said("unused")) as server:
        code, out, err = await ask_locally(tmp_path, server)
    assert code == 5
    assert "too long for the model; start a new thread" in out
    assert "try again in a minute" not in out
    assert "AI_CONTEXT_WINDOW=600" in err
    (row,) = await audit_rows(tmp_path)
    assert (row["result"], row["reason"]) == ("failed", "provider_context_exceeded")


@pytest.mark.parametrize(("setting", "last_exit"), [(None, 5), ("2048", 0)])
async def test_ai_context_window_fits_the_history_to_a_small_server(
    tmp_path, setting: str | None, last_exit: int
) -> None:
    # One thread of twelve questions: its history outgrows a 2,048-token server unless the
    # setting tells the bot the window (a name like "default" says nothing about it).
    questions = "".join(f"Question {n}?\n" for n in range(12))
    window = {"AI_CONTEXT_WINDOW": setting} if setting else {}
    async with LocalServer(context_window=2048) as server:
        server.push(*(Said(f"Answer {n}: " + "detail " * 60) for n in range(12)))
        code, out, err = await cli(
            tmp_path,
            "console",
            "--as",
            "email:ada@acme.example",
            stdin=questions,
            AI_PROVIDER="openai",
            OPENAI_API_KEY="none",
            OPENAI_BASE_URL=server.base_url,
            **window,
        )
    assert code == last_exit, err
    answered = sum(line.startswith("Answer ") for line in out.splitlines())
    assert answered == 12 if setting else 0 < answered < 12
