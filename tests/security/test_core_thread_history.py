"""Role bypass through thread history (issue 11, item 5), through the real `stackdock-assistant
slack` process: signed events from the fake Slack API, answers from the fake OpenAI server.

An admin asks about docks in a channel thread; a developer, whose role may not read docks,
replies in the same thread. The model answering the developer must not be sent the admin's
dock results, although the thread's history is otherwise carried.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from adapters.stackdock.demo import DEMO_DIR, DEMO_ORGS, DEMO_USERS
from core.access import can_read, effective_permissions
from tests.fakes.services.model_server import FakeToolCall, Reply
from tests.fakes.services.openai_server import FakeOpenAI
from tests.fakes.services.slack_api import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlackApi,
    event_envelope,
    mention,
)

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-test-0123456789abcdefghijklmnopqrstuv"
USERS = {"UADMIN": DEMO_USERS["admin"], "UDEV": DEMO_USERS["developer"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(tmp_path: Path, api: FakeSlackApi, model: FakeOpenAI) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "OPENAI_", "ANTHROPIC_", "AI_", "DISCORD_", "CONVEX_"))
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        AI_PROVIDER="openai",
        AI_MODEL="gpt-4o-mini",
        OPENAI_BASE_URL=model.base_url,
        OPENAI_API_KEY=KEY,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api.url,
        PYTHONPATH=str(ROOT),
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


def acme_dock_names() -> list[str]:
    path = DEMO_DIR / "docks" / "documents.jsonl"
    docs = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    return [d["name"] for d in docs if d["orgId"] == DEMO_ORGS["acme"]]


def developer_may_read_docks() -> bool:
    path = DEMO_DIR / "roles" / "documents.jsonl"
    roles = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    (developer,) = [
        r for r in roles if r["orgId"] == DEMO_ORGS["acme"] and r["name"] == "Developer"
    ]
    return can_read("docks", effective_permissions(developer["permissions"]))


async def test_a_developer_replying_in_an_admins_thread_gets_none_of_its_dock_results(tmp_path):
    docks = acme_dock_names()
    assert docks and not developer_may_read_docks(), "the demo's roles are the premise"
    async with FakeSlackApi(USERS) as api, FakeOpenAI() as model:
        model.push(
            Reply(tool_calls=[FakeToolCall("list_resources", {"kind": "docks"})]),
            Reply(text=["Your docks are listed above."]),
            Reply(text=["I can only tell you what your role may read."]),
        )
        env = environment(tmp_path, api, model)
        bind = await run_cli(env, "bind", "slack:T1", DEMO_ORGS["acme"])
        assert await bind.wait() == 0
        port = free_port()
        proc = await run_cli(env, "slack", "--port", str(port))
        try:
            await wait_healthy(port, proc)
            url = f"http://127.0.0.1:{port}/slack/events"
            asked = mention("List my docks", user="UADMIN", ts="1.1")
            assert (await api.post_event(url, event_envelope(asked, "Ev1")))[0] == 200
            await api.wait_for(lambda: len(model.requests) == 2)
            await api.wait_for(
                lambda: any(not m.stream_open and m.text for m in api.bot_messages("C1", "1.1"))
            )
            reply = mention("which of them failed?", user="UDEV", ts="1.2", thread_ts="1.1")
            assert (await api.post_event(url, event_envelope(reply, "Ev2")))[0] == 200
            await api.wait_for(lambda: len(model.requests) == 3, within_s=20)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), 20)
        requests = list(model.requests)

    # The admin's own lookup went to the model, with the dock names (the test's premise).
    admin_sent = json.dumps(requests[1].body)
    assert any(name in admin_sent for name in docks)

    developer_sent = requests[2].body["messages"]
    history = json.dumps(developer_sent)
    assert "List my docks" in history, "the thread's history is carried"
    for name in docks:
        assert name not in history, f"{name} reached the model for the developer"
    (result,) = [m for m in developer_sent if m["role"] == "tool"]
    assert "withheld" in result["content"]
    assert KEY not in stderr.decode()
