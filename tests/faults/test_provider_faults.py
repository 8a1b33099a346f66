"""The model provider is down, slow, or answers garbage: the person gets a plain reply, the
question and its audit row are kept, and the next question is answered once it recovers."""

from __future__ import annotations

import socket

import pytest

from core.models import ErrorReply, Final, Outcome
from tests.fakes.services.openai_server import Fail, FakeOpenAI, Reply
from tests.faults.support import ask, audit_rows, fault_runtime, reply_text


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on return: connections are refused


def openai_settings(base_url: str) -> dict[str, object]:
    return {
        "ai_provider": "openai",
        "openai_api_key": "sk-test-fault-0123456789abcdef",
        "openai_base_url": base_url,
        "ai_timeout_s": 0.5,
        "ai_max_retries": 0,
    }


async def test_provider_down_then_back(sqlite_url: str) -> None:
    down = f"http://127.0.0.1:{closed_port()}/v1"
    async with fault_runtime(sqlite_url, **openai_settings(down)) as rt:
        events = await ask(rt, "How many servers do I have?")
        rows = await audit_rows(rt)
    assert isinstance(events[-1], ErrorReply)
    assert "AI provider" in reply_text(events)
    assert [(r.result, r.question) for r in rows] == [
        (Outcome.FAILED, "How many servers do I have?")
    ]
    assert rows[0].reason and rows[0].reason.startswith("provider_")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        pytest.param(Fail("hang"), "provider_timeout", id="slow"),
        pytest.param(Fail("stall"), "provider_timeout", id="stalls-mid-answer"),
        pytest.param(Fail("invalid_json"), "provider_bad_response", id="garbage"),
        pytest.param(Fail("status", 500), "provider_server", id="500"),
    ],
)
async def test_provider_fault_then_recovery(sqlite_url: str, fault: Fail, reason: str) -> None:
    async with FakeOpenAI(hang_s=3) as server:
        server.push(fault, Reply(text=["You have ", "servers."]))
        async with fault_runtime(sqlite_url, **openai_settings(server.base_url)) as rt:
            failed = await ask(rt, "first question")
            recovered = await ask(rt, "second question")
            rows = await audit_rows(rt)
    assert isinstance(failed[-1], ErrorReply) and failed[-1].reason == reason
    assert "try again" in reply_text(failed)
    assert isinstance(recovered[-1], Final) and reply_text(recovered) == "You have servers."
    assert [(r.question, r.result) for r in rows] == [
        ("first question", Outcome.FAILED),
        ("second question", Outcome.ANSWERED),
    ]
