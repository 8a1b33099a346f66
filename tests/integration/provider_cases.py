"""Failure cases both SDK providers must handle the same way, run against their fake servers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from core.models import ChatMessage, ProviderError, TextDelta, ToolSpec, TurnEnd
from core.ports import Provider
from tests.fakes.services.model_server import Fail, ModelServer, Reply

API_KEY = "sk-test-very-secret-key-0123456789"
QUESTION = [ChatMessage(role="user", content="How many servers?")]
TOOLS = [
    ToolSpec("count_resources", "Counts resources", {"type": "object", "properties": {}}),
    ToolSpec("find_problems", "Finds problems", {"type": "object", "properties": {}}),
]

MakeProvider = Callable[..., Provider]


async def one_turn(provider: Provider) -> list[TextDelta | TurnEnd]:
    return [event async for event in provider.turn("You are StackDock.", QUESTION, TOOLS)]


async def expect_failure(provider: Provider) -> tuple[ProviderError, list[TextDelta | TurnEnd]]:
    events: list[TextDelta | TurnEnd] = []
    with pytest.raises(ProviderError) as raised:
        async for event in provider.turn("You are StackDock.", QUESTION, TOOLS):
            events.append(event)
    return raised.value, events


FAILURES = [
    pytest.param(Fail("status", 500), "server", id="500"),
    pytest.param(Fail("hang"), "timeout", id="hang"),
    pytest.param(Fail("stall"), "timeout", id="stall-mid-stream"),
    pytest.param(Fail("truncate"), "bad_response", id="truncated"),
    pytest.param(Fail("disconnect"), "bad_response", id="disconnected"),
    pytest.param(Fail("invalid_json"), "bad_response", id="invalid-json"),
    pytest.param(Fail("status", 529), "busy", id="529"),
]


class ProviderContract:
    """Subclassed once per SDK with `server` and `make` fixtures."""

    @pytest.mark.parametrize(("fail", "kind"), FAILURES)
    async def test_failures_map_to_a_kind(
        self, server: ModelServer, make: MakeProvider, fail: Fail, kind: str
    ) -> None:
        server.push(fail)
        err, _ = await expect_failure(make(server, timeout_s=0.3, max_retries=0))
        assert err.kind == kind
        assert err.provider == make(server).name

    async def test_429_is_busy_with_the_servers_retry_hint(
        self, server: ModelServer, make: MakeProvider
    ) -> None:
        server.push(Fail("status", 429, retry_after="7"))
        err, _ = await expect_failure(make(server, max_retries=0))
        assert (err.kind, err.retry_after_s) == ("busy", 7.0)

    async def test_the_sdk_retries_a_429_then_succeeds(
        self, server: ModelServer, make: MakeProvider
    ) -> None:
        server.push(Fail("status", 429, retry_after="0.01"), Reply(text=["Twelve."]))
        events = await one_turn(make(server, max_retries=1))
        assert events[0] == TextDelta("Twelve.")
        assert len(server.requests) == 2

    @pytest.mark.parametrize("status", [401, 403])
    async def test_a_rejected_key_tells_the_operator_and_never_shows_the_key(
        self, server: ModelServer, make: MakeProvider, status: int, caplog
    ) -> None:
        server.push(Fail("status", status))
        with caplog.at_level(logging.DEBUG):
            err, _ = await expect_failure(make(server, max_retries=0))
        assert err.kind == "auth"
        assert API_KEY not in str(err) and API_KEY not in repr(err.args)
        assert API_KEY not in caplog.text
        assert f"the {make(server).name} API key was rejected" in caplog.text

    async def test_text_streams_before_the_turn_ends(
        self, server: ModelServer, make: MakeProvider
    ) -> None:
        server.push(Reply(text=["One ", "two ", "three."], chunk_delay_s=0.15))
        provider = make(server)
        seen: list[tuple[float, TextDelta | TurnEnd]] = []
        async for event in provider.turn("s", QUESTION, TOOLS):
            seen.append((time.perf_counter(), event))
        kinds = [type(event).__name__ for _, event in seen]
        assert kinds == ["TextDelta", "TextDelta", "TextDelta", "TurnEnd"]
        # The first piece arrived while the server was still pausing between the others.
        assert seen[-1][0] - seen[0][0] >= 0.25

    async def test_the_api_key_and_tools_reach_the_server(
        self, server: ModelServer, make: MakeProvider
    ) -> None:
        server.push(Reply(text=["ok"]))
        await one_turn(make(server))
        request = server.requests[0]
        assert API_KEY in " ".join(request.headers.values())
        assert request.body["stream"] is True
        assert len(request.body["tools"]) == 2
