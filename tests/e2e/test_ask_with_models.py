"""`stackdock-assistant ask` through real model SDKs, against fake servers on 127.0.0.1.

The model asks for a tool, gets the org's real count, and answers; the console streams it and
the database records tokens and cost. Also: a rejected key, and failover to the fallback.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.store import open_store
from tests.fakes.services.anthropic_server import FakeAnthropic
from tests.fakes.services.model_server import Fail, FakeToolCall, FakeUsage, Reply
from tests.fakes.services.openai_server import FakeOpenAI

_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
KEY = "sk-test-0123456789abcdefghijklmnopqrstuv"


async def ask(tmp_path: Path, question: str, **env: str) -> tuple[int, str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "AI_", "SLACK_", "DISCORD_", "CONVEX_"))
    }
    environ.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'models.db'}", **env)
    # The fake server runs on this event loop, so the CLI must not block it.
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "ask",
        question,
        "--as",
        "email:ada@acme.example",
        env=environ,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def usage_rows(tmp_path: Path) -> list:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'models.db'}")
    try:
        return [row async for row in store.usage.iter()]
    finally:
        await store.close()


def json_documents(value: object):
    """Every JSON object found in a request body's strings (tool results travel as text)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from json_documents(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_documents(item)
    elif isinstance(value, str) and value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return
        if isinstance(parsed, dict):
            yield parsed


def tool_then_answer() -> tuple[Reply, Reply]:
    return (
        Reply(
            tool_calls=[FakeToolCall("count_resources", {"kind": "servers"})],
            usage=FakeUsage(1200, 30),
        ),
        Reply(text=["You have ", "8 servers."], usage=FakeUsage(1300, 12, cache_read_tokens=1000)),
    )


@pytest.mark.parametrize(
    ("provider", "fake_cls", "env_prefix", "base_suffix", "model"),
    [
        ("openai", FakeOpenAI, "OPENAI", "", "gpt-4o-mini"),
        ("anthropic", FakeAnthropic, "ANTHROPIC", "", "claude-sonnet-4-5"),
    ],
)
async def test_ask_answers_through_a_tool_call_and_records_cost(
    tmp_path, provider, fake_cls, env_prefix, base_suffix, model
):
    async with fake_cls() as fake:
        fake.push(*tool_then_answer())
        code, out, err = await ask(
            tmp_path,
            "How many servers do I have?",
            AI_PROVIDER=provider,
            AI_MODEL=model,
            **{f"{env_prefix}_BASE_URL": fake.base_url + base_suffix, f"{env_prefix}_API_KEY": KEY},
        )
        requests = list(fake.requests)
    assert code == 0, err
    assert "You have 8 servers." in out
    assert "Counted" in err and "servers" in err  # the tool step, shown as it happened
    # The tool's result that went back to the model is the org's real count.
    results = list(json_documents(requests[1].body))
    assert {"kind": "servers", "total": 8} in [
        {k: r.get(k) for k in ("kind", "total")} for r in results
    ]
    (row,) = await usage_rows(tmp_path)
    assert row.usage.provider == provider and row.usage.model == model
    assert row.usage.input_tokens is not None and row.usage.input_tokens > 0
    assert row.usage.output_tokens == 42
    assert row.usage.cost_usd is not None and row.usage.cost_usd > Decimal(0)
    assert KEY not in out + err


async def test_a_rejected_key_tells_the_person_plainly_and_the_operator_why(tmp_path):
    async with FakeOpenAI() as fake:
        fake.push(Fail("status", status=401))
        code, out, err = await ask(
            tmp_path,
            "How many servers do I have?",
            AI_PROVIDER="openai",
            OPENAI_BASE_URL=fake.base_url,
            OPENAI_API_KEY=KEY,
        )
    assert code == 5
    assert "misconfigured; an admin has been told" in out
    assert "API key was rejected" in err or "rejected its API key" in err
    assert KEY not in out + err


async def test_a_busy_provider_fails_over_to_the_fallback(tmp_path):
    async with FakeOpenAI() as primary, FakeAnthropic() as fallback:
        for _ in range(4):  # the SDK's own retries see 529/429 too
            primary.push(Fail("status", status=429, retry_after="0"))
        fallback.push(*tool_then_answer())
        code, out, err = await ask(
            tmp_path,
            "How many servers do I have?",
            AI_PROVIDER="openai",
            AI_FALLBACK_PROVIDER="anthropic",
            AI_MAX_RETRIES="1",
            OPENAI_BASE_URL=primary.base_url,
            OPENAI_API_KEY=KEY,
            ANTHROPIC_BASE_URL=fallback.base_url,
            ANTHROPIC_API_KEY=KEY,
        )
    assert code == 0, out + err
    assert "You have 8 servers." in out
    (row,) = await usage_rows(tmp_path)
    assert row.usage.provider == "anthropic"
