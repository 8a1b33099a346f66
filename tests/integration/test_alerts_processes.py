"""Alerts through the real processes on PostgreSQL: `sync --once` against the fake Convex
export detects, a real `slack` process against the fake Slack Web API delivers, and the CLI
subscribes. A new problem is one alert; another org's problem and one below the threshold are
none; a recovery edits the alert and says so in its thread; a slack process killed with -9
while it holds an alert leaves it to the next process, which posts it once; two processes
running side by side post each alert once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.services.convex_api import DEPLOY_KEY, FakeConvex
from tests.fakes.services.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlackApi, Message
from tests.harness.slack_process import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "bot.cli"]


def seed(convex: FakeConvex) -> None:
    convex.put("organizations", {"_id": "org_acme", "name": "Acme", "ownerId": "u1"})
    convex.put("organizations", {"_id": "org_globex", "name": "Globex", "ownerId": "u2"})
    convex.put("monitors", monitor("m1", "up", "Checkout API"))
    convex.put("monitors", monitor("g1", "up", "Globex API", org="org_globex"))


def monitor(doc_id: str, status: str, name: str, org: str = "org_acme") -> dict[str, Any]:
    return {"_id": doc_id, "orgId": org, "name": name, "status": status, "provider": "better-stack"}


class World:
    def __init__(self, tmp: Path, pg_url: str, convex: FakeConvex, slack: FakeSlackApi) -> None:
        self.tmp, self.convex, self.slack = tmp, convex, slack
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AI_"))}
        self.env |= {
            "DATABASE_URL": pg_url,
            "CONVEX_URL": convex.url,
            "CONVEX_DEPLOY_KEY": DEPLOY_KEY,
            "AI_PROVIDER": "offline",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.url,
            "MIRROR_REFRESH_S": "0.5",
            "ALERTS_LEASE_S": "3",
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT),
        }
        self.logs: list[Path] = []
        self.slack_port = 0  # the HTTP port of the slack process started last

    async def cli(self, *args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            *args,
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def sync(self) -> None:
        code, _, err = await self.cli("sync", "--once")
        assert code == 0, err

    @contextlib.asynccontextmanager
    async def slack_process(self) -> AsyncIterator[asyncio.subprocess.Process]:
        port = self.slack_port = free_port()
        log = self.tmp / f"slack-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                *CLI, "slack", "--port", str(port), cwd=ROOT, env=self.env, stderr=sink
            )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for _ in range(300):
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    assert proc.returncode is None, log.read_text()[-2000:]
                    await asyncio.sleep(0.1)
            yield proc
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 40)

    def top_level(self, channel: str = "C1") -> list[Message]:
        return [m for m in self.slack.bot_messages(channel) if m.thread_ts is None]

    def replies(self, ts: str, channel: str = "C1") -> list[Message]:
        return self.slack.bot_messages(channel, ts)

    async def wait(self, what: Callable[[], Any], within_s: float = 20.0) -> Any:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if value := what():
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out; slack calls: {[c.method for c in self.slack.calls]}")


@pytest.fixture
async def world(tmp_path: Path, pg_url: str) -> AsyncIterator[World]:
    async with FakeConvex(page_size=50) as convex, FakeSlackApi() as slack:
        seed(convex)
        made = World(tmp_path, pg_url, convex, slack)
        assert (await made.cli("db", "upgrade"))[0] == 0
        yield made


async def test_subscribing_needs_a_bound_channel_and_a_channel_target(world: World) -> None:
    await world.sync()
    assert (await world.cli("bind", "slack:T1:C1", "org_acme"))[0] == 0
    code, _, err = await world.cli("alerts", "subscribe", "slack:T1:C9")
    assert code == 2 and "slack:T1:C9 is not bound to a StackDock org" in err
    code, _, err = await world.cli("alerts", "subscribe", "slack:T1")
    assert code == 2 and "slack:TEAM:CHANNEL" in err
    code, _, err = await world.cli("alerts", "subscribe", "slack:T1:C1", "--digest", "9am")
    assert code == 2 and "HH:MM" in err
    # A workspace's binding covers its channels.
    assert (await world.cli("bind", "slack:T2", "org_globex"))[0] == 0
    code, out, _ = await world.cli("alerts", "subscribe", "slack:T2:C7", "--digest", "09:00")
    assert code == 0 and "subscribed slack:T2:C7 (Globex) to high and above" in out
    assert "digest at 09:00 UTC" in out
    code, out, _ = await world.cli("alerts", "list")
    assert code == 0 and out.splitlines() == [
        "slack:T2:C7\torg_globex\thigh and above\tdigest 09:00 UTC"
    ]
    code, out, _ = await world.cli("alerts", "unsubscribe", "slack:T2:C7")
    assert code == 0 and out.strip() == "unsubscribed slack:T2:C7"
    assert (await world.cli("alerts", "unsubscribe", "slack:T2:C7"))[0] == 1


async def test_alerts_from_a_convex_change_to_a_slack_channel(world: World) -> None:
    convex = world.convex
    convex.put("monitors", monitor("m0", "down", "Old outage"))
    await world.sync()
    assert (await world.cli("bind", "slack:T1:C1", "org_acme"))[0] == 0
    code, out, err = await world.cli(
        "alerts", "subscribe", "slack:T1:C1", "--min-severity", "critical"
    )
    assert code == 0, err
    assert out.strip().endswith("1 problem open now")

    async with world.slack_process():
        [notice] = await world.wait(world.top_level)
        assert "Subscribed" in notice.text and "1 problem is open now" in notice.text

        # Acme's monitor goes down; Globex's too (another org); an Acme alert of high
        # severity opens (below this channel's critical).
        convex.put("monitors", monitor("m1", "down", "Checkout API"))
        convex.put("monitors", monitor("g1", "down", "Globex API", org="org_globex"))
        convex.put(
            "issues",
            {
                "_id": "i1",
                "orgId": "org_acme",
                "title": "TypeError",
                "severity": "high",
                "status": "open",
                "project": "web",
            },
        )
        await world.sync()
        alerts = await world.wait(lambda: world.top_level()[1:])
        await asyncio.sleep(2)  # time for anything else to (wrongly) arrive
        [alert] = world.top_level()[1:]
        assert "Critical · monitor · Checkout API" in alert.text
        assert "What is wrong: monitor is down" in alert.text
        assert "Globex" not in alert.text and "TypeError" not in alert.text
        actions = [b for b in alert.blocks if b["type"] == "actions"]
        assert [e["text"]["text"] for e in actions[0]["elements"]] == ["Explain", "Mute 24 h"]
        assert alerts == [alert]

        convex.put("monitors", monitor("m1", "up", "Checkout API"))
        await world.sync()
        [reply] = await world.wait(lambda: world.replies(alert.ts))
        assert reply.text.startswith("✅ Resolved after")
        edited = world.slack.messages[("C1", alert.ts)]
        assert "✅ Resolved after" in edited.text and "Checkout API" in edited.text

    code, out, _ = await world.cli("audit", "export", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    sent = [r for r in rows if r["action"] == "alert.sent"]
    assert len(sent) == 1 and sent[0]["org_id"] == "org_acme"
    assert sent[0]["metadata"]["target"] == "slack:T1:C1"
    assert sent[0]["metadata"]["message"] == alert.ts
    assert [r["action"] for r in rows if r["action"] == "alert.resolved"] == ["alert.resolved"] * 2


async def test_a_process_killed_holding_an_alert_leaves_it_to_the_next_one(world: World) -> None:
    convex = world.convex
    await world.sync()
    assert (await world.cli("bind", "slack:T1", "org_acme"))[0] == 0
    assert (await world.cli("alerts", "subscribe", "slack:T1:C1"))[0] == 0
    async with world.slack_process() as first:
        await world.wait(world.top_level)  # the "subscribed" message: delivery works
        # Slack makes the next post wait 30 s; the process is killed while it waits, holding
        # the alert under its lease.
        world.slack.ratelimit("chat.postMessage", retry_after=30)
        posts_before = len(world.slack.calls_of("chat.postMessage"))
        convex.put("monitors", monitor("m1", "down", "Checkout API"))
        await world.sync()
        await world.wait(lambda: len(world.slack.calls_of("chat.postMessage")) > posts_before)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert len(world.top_level()) == 1  # nothing but the "subscribed" message yet

    async with world.slack_process():
        [alert] = await world.wait(lambda: world.top_level()[1:])  # after the lease expired
        assert "Checkout API" in alert.text
        await asyncio.sleep(4)  # longer than a lease: nothing is posted again
        assert len(world.top_level()) == 2
    # Restarted as two workers: nothing is posted again, and the next alert exactly once.
    async with world.slack_process(), world.slack_process():
        await asyncio.sleep(3)
        assert len(world.top_level()) == 2
        convex.put("monitors", monitor("m2", "down", "Search API"))
        await world.sync()
        await world.wait(lambda: len(world.top_level()) == 3)
        await asyncio.sleep(2)
        [latest] = world.top_level()[2:]
        assert "Search API" in latest.text and len(world.top_level()) == 3
