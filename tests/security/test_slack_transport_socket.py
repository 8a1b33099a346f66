"""Issue 11, item 13: a real `stackdock-assistant slack` process in Socket Mode when Slack is
unreachable or turns the websocket away.

Not connected is not ready: /readyz says 503 (and why) until the websocket is up, and again
once it drops, while /healthz keeps answering. SIGTERM is always graceful: exit 0, the answer
under way finished, even while the process is still trying to connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.services.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    FakeSlackApi,
    event_envelope,
    message,
)
from tests.fakes.services.slack_socket import FakeSocketMode
from tests.harness.slack_harness import SLACK_USERS
from tests.harness.slack_process import ROOT, free_port

NOT_CONNECTED = "not connected to Slack"


@dataclass
class Bot:
    proc: asyncio.subprocess.Process
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        timeout = aiohttp.ClientTimeout(total=2)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"http://127.0.0.1:{self.port}{path}") as resp,
        ):
            return resp.status, await resp.json()

    async def terminate(self, within_s: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), within_s)


@contextlib.asynccontextmanager
async def socket_bot(tmp_path: Path, api_url: str) -> AsyncIterator[Bot]:
    """`slack` with SLACK_APP_TOKEN set and the Web API at `api_url`, its log in a file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI", "AI_"))}
    env |= {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "AI_PROVIDER": "offline",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": api_url,
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
    }
    cli = [sys.executable, "-m", "bot.cli"]
    bind = await asyncio.create_subprocess_exec(
        *cli, "bind", "slack:T1", "org_acme", cwd=ROOT, env=env
    )
    assert await bind.wait() == 0
    port = free_port()
    log_path = tmp_path / "slack.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *cli, "slack", "--port", str(port), cwd=ROOT, env=env, stderr=log
        )
    bot = Bot(proc, port, log_path)
    try:
        await until(lambda: _healthy(bot), within_s=30, what="/healthz to answer")
        yield bot
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _healthy(bot: Bot) -> bool:
    assert bot.proc.returncode is None, bot.log()[-2000:]
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        return (await bot.get("/healthz"))[0] == 200
    return False


async def until(check: Callable[[], Awaitable[bool]], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def assert_not_ready_for(bot: Bot, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, body = await bot.get("/readyz")
        assert (status, body.get("problems")) == (503, [NOT_CONNECTED]), body
        assert (await bot.get("/healthz"))[0] == 200
        await asyncio.sleep(0.2)


async def test_slack_down_at_start_is_alive_but_not_ready_and_sigterm_is_graceful(tmp_path):
    nothing_there = f"http://127.0.0.1:{free_port()}/api/"
    async with socket_bot(tmp_path, nothing_there) as bot:
        await assert_not_ready_for(bot, 3.0)
        assert await bot.terminate() == 0
    log = bot.log()
    assert "stopping" in log
    assert "Traceback" not in log, log[-3000:]  # Slack being down is one line per attempt
    assert APP_TOKEN not in log and BOT_TOKEN not in log


async def test_a_refused_websocket_is_not_ready_until_it_connects_and_again_once_it_drops(
    tmp_path,
):
    api = FakeSlackApi(SLACK_USERS)
    sock = FakeSocketMode(api)
    sock.refusing = True
    async with api:
        sock.install()
        async with socket_bot(tmp_path, api.url) as bot:
            await until(lambda: _refused(sock), within_s=10, what="a refused connection")
            await assert_not_ready_for(bot, 2.0)

            sock.refusing = False  # Slack is back: the bot retries on its own
            await until(lambda: _ready(bot), within_s=30, what="ready once connected")
            assert sock.connections == 1

            sock.refusing = True
            await sock.drop()
            await until(lambda: _not_ready(bot), within_s=5, what="not ready once dropped")
            assert await bot.terminate() == 0
    log = bot.log()
    assert "Traceback" not in log, log[-3000:]


async def test_sigterm_while_connected_finishes_the_answer_under_way(tmp_path):
    api = FakeSlackApi(SLACK_USERS)
    sock = FakeSocketMode(api)
    async with api:
        sock.install()
        async with socket_bot(tmp_path, api.url) as bot:
            await sock.wait_connected(within_s=30)
            await until(lambda: _ready(bot), within_s=10, what="ready")
            api.delays["chat.startStream"] = 2.0  # the answer is still being written at SIGTERM
            dm = message(
                "List my servers", user="UADMIN", channel="D1", ts="5.1", channel_type="im"
            )
            await sock.wait_ack(await sock.send("events_api", event_envelope(dm)))
            await api.wait_for(lambda: api.calls_of("chat.startStream"))
            assert await bot.terminate() == 0
        assert "acme-web-1" in api.thread_text("D1", "5.1")
    assert "Traceback" not in bot.log()


async def _refused(sock: FakeSocketMode) -> bool:
    return sock.refused > 0


async def _ready(bot: Bot) -> bool:
    return (await bot.get("/readyz"))[0] == 200


async def _not_ready(bot: Bot) -> bool:
    status, body = await bot.get("/readyz")
    return status == 503 and body.get("problems") == [NOT_CONNECTED]
