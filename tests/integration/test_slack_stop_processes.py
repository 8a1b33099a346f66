"""Stop through real `stackdock-assistant slack` processes, with the model a slow fake OpenAI
server: the answering process stops at once, and a Stop that reaches another worker sharing
the database stops it within its next look at the store (about a second)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from bench.workers import ROOT, cli, drop_database, free_port, fresh_database, post, wait_ready
from bench.workers import worker_env as bench_env
from tests.fakes.services.model_server import FakeToolCall, FakeUsage, Reply
from tests.fakes.services.openai_server import FakeOpenAI
from tests.fakes.services.slack_api import FakeSlackApi, event_envelope, message
from tests.harness.slack_harness import SLACK_USERS

STOPPED = "Stopped."
SHOWN = "your servers"
SLOW = Reply(text=["Counting\n", "your servers\n", *["and more\n"] * 60], chunk_delay_s=0.5)
LOOKUP = Reply(
    tool_calls=[FakeToolCall("count_resources", {"kind": "servers"}, id="call_1")],
    usage=FakeUsage(input_tokens=100, output_tokens=20),
)


@contextlib.asynccontextmanager
async def workers(db_url: str, count: int, tmp: Path) -> AsyncIterator[tuple[FakeSlackApi, list]]:
    """`count` slack workers in HTTP mode on one database; yields the fake Slack and their
    events URLs. The model answers each question with a lookup, then text that never ends."""
    procs: list[asyncio.subprocess.Process] = []
    async with FakeSlackApi(SLACK_USERS) as api, FakeOpenAI() as model:
        model.push(*[LOOKUP, SLOW] * 4)
        env = bench_env(db_url, api, model) | {"LOG_LEVEL": "INFO"}
        await cli(env, "db", "upgrade")
        await cli(env, "bind", "slack:T1", "org_acme")
        ports = [free_port() for _ in range(count)]
        try:
            for n, port in enumerate(ports):
                command = [sys.executable, "-m", "bot.cli", "slack", "--port", str(port)]
                with (tmp / f"worker{n}.log").open("wb") as log:
                    procs.append(
                        await asyncio.create_subprocess_exec(
                            *command, cwd=ROOT, env=env, stderr=log
                        )
                    )
            async with aiohttp.ClientSession() as session:
                await asyncio.gather(*(wait_ready(session, port) for port in ports))
            yield api, [f"http://127.0.0.1:{port}/slack/events" for port in ports]
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                await asyncio.wait_for(proc.wait(), 40)


async def audit_rows(env_db: str, api: FakeSlackApi) -> list[dict]:
    env = bench_env(env_db, api, FakeOpenAI())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "audit", "export", "--format", "jsonl",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


async def ask_then_stop(api: FakeSlackApi, ask_url: str, stop_url: str, ts: str) -> float:
    """Asks in a DM, waits for the answer to show, presses Slack's Stop; returns the seconds
    from the Stop to "Stopped." under what was shown."""
    question = event_envelope(
        message("How many servers?", user="UADMIN", channel="D1", ts=ts, channel_type="im")
    )
    async with aiohttp.ClientSession() as session:
        assert await post(session, ask_url, json.dumps(question), retry=False) == 200
        await api.wait_for(lambda: SHOWN in api.thread_text("D1", ts), within_s=30)
        started = time.perf_counter()
        stop = event_envelope(api.stop_session("D1", ts, "UADMIN"))
        assert await post(session, stop_url, json.dumps(stop), retry=False) == 200
        await api.wait_for(lambda: STOPPED in api.thread_text("D1", ts), within_s=5)
        return time.perf_counter() - started


def assert_cancelled_with_tokens(rows: list[dict]) -> None:
    [row] = [r for r in rows if r.get("action") == "ai.chat"]
    assert (row["result"], row["reason"]) == ("cancelled", "stopped")
    assert row["input_tokens"] and row["output_tokens"], "the finished lookup turn's tokens"
    assert row["answer"].endswith(STOPPED) and SHOWN in row["answer"]


async def test_stop_in_the_answering_process_stops_within_a_second(tmp_path):
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with workers(db_url, 1, tmp_path) as (api, [url]):
        seconds = await ask_then_stop(api, url, url, "1.1")
        assert seconds < 1.0, seconds
        # Out of processing once the reply is written (Slack won't do it by itself).
        await api.wait_for(lambda: api.sessions[("D1", "1.1")]["status"] == "active", 5)
        rows = await audit_rows(db_url, api)
    assert_cancelled_with_tokens(rows)


async def test_stop_reaching_another_worker_stops_the_answer_through_the_store(pg_url, tmp_path):
    # pg_url proves PostgreSQL is there (skipping outside CI only); the run makes its own database.
    name, db_url = await fresh_database()
    try:
        async with workers(db_url, 2, tmp_path) as (api, [first, second]):
            seconds = await ask_then_stop(api, first, second, "2.1")
            # The answering worker looks for a Stop left in the store about once a second.
            assert seconds < 1.6, seconds
            rows = await audit_rows(db_url, api)
        assert_cancelled_with_tokens(rows)
    finally:
        await drop_database(name)
