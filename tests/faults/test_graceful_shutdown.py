"""SIGTERM to a `stackdock-assistant slack` worker always takes the graceful path: while it is
answering, it stops taking events at once, finishes the answer under way well within 25 s,
records it, and exits 0; while it is still connecting to Slack, it is not ready, and exits 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from adapters.store import open_store
from tests.fakes.services.openai_server import FakeOpenAI, Reply
from tests.fakes.services.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlackApi,
    event_envelope,
    mention,
)
from tests.harness.slack_harness import SLACK_USERS

ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def cli(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_sigterm_finishes_the_answer_under_way(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with FakeSlackApi(SLACK_USERS) as api, FakeOpenAI() as model:
        # About 3 s of streaming: SIGTERM lands in the middle of it.
        model.push(Reply(text=[f"part {n} " for n in range(15)], chunk_delay_s=0.2))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI", "AI_"))}
        env |= {
            "DATABASE_URL": db_url,
            "AI_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-test-term-0123456789abcdef",
            "OPENAI_BASE_URL": model.base_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api.url,
            "PYTHONPATH": str(ROOT),
        }
        bind = await cli(env, "bind", "slack:T1", "org_acme")
        assert await bind.wait() == 0
        port = free_port()
        proc = await cli(env, "slack", "--port", str(port))
        url = f"http://127.0.0.1:{port}/slack/events"
        async with aiohttp.ClientSession() as session:
            for _ in range(200):  # 20 s at most
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            status, _, _ = await api.post_event(
                url, event_envelope(mention("Status?", user="UADMIN", ts="5.1"))
            )
            assert status == 200
            await api.wait_for(lambda: model.first_token_at, within_s=15)
            proc.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            await asyncio.sleep(0.3)
            refused = False
            try:
                await api.post_event(url, event_envelope(mention("Late?", user="UADMIN", ts="5.2")))
            except aiohttp.ClientError:
                refused = True
            _, stderr = await asyncio.wait_for(proc.communicate(), GRACE_S + 5)
            took = time.monotonic() - stopped_at
    assert proc.returncode == 0, stderr.decode()
    assert took < GRACE_S
    assert refused, "a new event was taken after SIGTERM"
    answer = api.thread_text("C1", "5.1")
    assert "part 14" in answer and not any(m.stream_open for m in api.bot_messages("C1", "5.1"))
    assert api.bot_messages("C1", "5.2") == []
    store = await open_store(db_url)
    try:
        rows = [row async for row in store.audit.iter()]
    finally:
        await store.close()
    assert [(r.question, r.result.value) for r in rows] == [("Status?", "answered")]


@contextlib.asynccontextmanager
async def unanswering_server() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word: Slack behind a dead route."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in held:
            writer.transport.abort()


async def test_sigterm_while_socket_mode_is_still_connecting_is_graceful(tmp_path: Path) -> None:
    async with unanswering_server() as silent:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AI_"))}
        env |= {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "AI_PROVIDER": "offline",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": f"http://127.0.0.1:{silent}/api/",
            "PYTHONPATH": str(ROOT),
        }
        port = free_port()
        proc = await cli(env, "slack", "--port", str(port))
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(200):  # 20 s at most
                    assert proc.returncode is None, "the bot gave up instead of connecting"
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                            if resp.status == 200:
                                break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("no health endpoint while connecting")
                async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    ready = resp.status, json.loads(await resp.text())
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), 15)
    assert ready[0] == 503 and "not connected to Slack" in ready[1]["problems"], ready
    assert proc.returncode == 0, stderr.decode()
