"""`stackdock-assistant slack` as a real process, against the fake Slack API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.fakes.services.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlackApi,
    event_envelope,
    mention,
)
from tests.fakes.services.slack_socket import FakeSocketMode
from tests.harness.slack_harness import SLACK_USERS

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(tmp_path: Path, api: FakeSlackApi, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI", "ANTHROPIC"))
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        AI_PROVIDER="offline",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api.url,
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


async def run_cli(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


async def wait_healthy(port: int, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            if proc.returncode is not None:
                raise AssertionError(f"the bot exited early: {(await proc.stderr.read()).decode()}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the bot never became healthy")


async def stop(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, stderr.decode()
    return stderr.decode()


async def test_http_bot_answers_a_signed_mention_and_stops_cleanly(tmp_path):
    async with FakeSlackApi(SLACK_USERS) as api:
        env = cli_env(tmp_path, api)
        bind = await run_cli(env, "bind", "slack:T1", "org_acme")
        assert await bind.wait() == 0
        port = free_port()
        proc = await run_cli(env, "slack", "--port", str(port))
        try:
            await wait_healthy(port, proc)
            url = f"http://127.0.0.1:{port}/slack/events"
            status, _, _ = await api.post_event(
                url, event_envelope(mention("List my servers", user="UADMIN", ts="1.1"))
            )
            assert status == 200
            bad, _, _ = await api.post_event(
                url, event_envelope(mention("x", user="UADMIN", ts="1.2")), secret="wrong"
            )
            assert bad == 401
            await api.wait_for(
                lambda: any(not m.stream_open and m.text for m in api.bot_messages("C1", "1.1"))
            )
            assert "acme-web-1" in api.thread_text("C1", "1.1")
            assert api.bot_messages("C1", "1.2") == []
        finally:
            stderr = await stop(proc)
        assert BOT_TOKEN not in stderr and SIGNING_SECRET not in stderr


async def test_socket_mode_bot_connects_and_answers(tmp_path):
    api = FakeSlackApi(SLACK_USERS)
    sock = FakeSocketMode(api)
    async with api:
        sock.install()
        env = cli_env(tmp_path, api, SLACK_APP_TOKEN=APP_TOKEN)
        port = free_port()
        proc = await run_cli(env, "slack", "--port", str(port))
        try:
            await wait_healthy(port, proc)
            await sock.wait_connected()
            dm = event_envelope(
                {"type": "message", "user": "UADMIN", "text": "List my servers", "ts": "2.1",
                 "channel": "D1", "channel_type": "im", "team": "T1", "event_ts": "2.1"}
            )  # fmt: skip
            envelope = await sock.send("events_api", dm)
            await sock.wait_ack(envelope)
            await api.wait_for(lambda: "acme-web-1" in api.thread_text("D1", "2.1"))
        finally:
            stderr = await stop(proc)
        assert APP_TOKEN not in stderr and BOT_TOKEN not in stderr
