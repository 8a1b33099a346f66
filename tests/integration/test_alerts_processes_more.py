"""More of alerts through the real processes on PostgreSQL (test_alerts_processes.py has the
rest): the Explain and Mute 24 h buttons pressed on a real `slack` process, signed as Slack
signs them; a real `discord` process next to a `slack` worker posting a Discord channel's
alert exactly once; and a problem that comes back within 15 minutes of resolving reopening
its alert rather than posting a second one. Detection is `sync --once` against the fake
Convex export; time is real (the 15-minute window and the 24-hour mute hold for the few
seconds a test takes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.slack.transport import EVENTS_PATH
from adapters.stackdock.demo import DEMO_DIR, DEMO_USERS
from tests.fakes.services.convex_api import FakeConvex
from tests.fakes.services.discord_api import BOT_TOKEN as DISCORD_TOKEN
from tests.fakes.services.discord_api import FakeDiscord, buttons_of, text_of
from tests.fakes.services.slack_api import FakeSlackApi, Message, block_action
from tests.harness.slack_process import free_port
from tests.integration.test_alerts_processes import CLI, ROOT, World, monitor, seed

# Slack people, by the demo's Acme users: an admin (ai:full) and a developer (ai read).
SLACK_PEOPLE = {"UADMIN": DEMO_USERS["admin"], "UDEV": DEMO_USERS["developer"]}
ACME_PEOPLE = {
    "users": {"usr_ada", "usr_devon"},
    "roles": {"role_acme_admin", "role_acme_developer"},
}


def seed_people(convex: FakeConvex) -> None:
    """Acme's admin and developer, with their memberships and roles, from the demo export."""
    for table in ("users", "memberships", "roles"):
        for line in (DEMO_DIR / table / "documents.jsonl").read_text().splitlines():
            doc = json.loads(line)
            keep = (
                doc.get("userId") in ACME_PEOPLE["users"] and doc.get("orgId") == "org_acme"
                if table == "memberships"
                else doc["_id"] in ACME_PEOPLE[table]
            )
            if keep:
                convex.put(table, doc)


@pytest.fixture
async def world(tmp_path: Path, pg_url: str) -> AsyncIterator[World]:
    async with FakeConvex(page_size=50) as convex, FakeSlackApi(SLACK_PEOPLE) as slack:
        seed(convex)
        seed_people(convex)
        made = World(tmp_path, pg_url, convex, slack)
        assert (await made.cli("db", "upgrade"))[0] == 0
        yield made


async def audit_rows(world: World) -> list[dict[str, Any]]:
    code, out, err = await world.cli("audit", "export", "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


async def subscribed_alert(world: World) -> Message:
    """Subscribes slack:T1:C1 with nothing open, then takes Checkout API down: its alert."""
    await world.sync()
    assert (await world.cli("bind", "slack:T1", "org_acme"))[0] == 0
    assert (await world.cli("alerts", "subscribe", "slack:T1:C1"))[0] == 0
    await world.wait(world.top_level)  # the "subscribed" message: delivery works
    world.convex.put("monitors", monitor("m1", "down", "Checkout API"))
    await world.sync()
    [alert] = await world.wait(lambda: world.top_level()[1:])
    assert "Critical · monitor · Checkout API" in alert.text
    return alert


async def press(world: World, alert: Message, action_id: str, user: str) -> None:
    """A signed block_actions request for a button of the alert, as Slack sends it."""
    [button] = [
        e
        for b in alert.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]
    action = {"type": "button", "block_id": "b", "action_id": action_id, "value": button["value"]}
    payload = block_action(
        action, user=user, message_ts=alert.ts, response_url=world.slack.response_url(user)
    )
    url = f"http://127.0.0.1:{world.slack_port}{EVENTS_PATH}"
    status, _, _ = await world.slack.post_event(url, payload, form=True)
    assert status == 200


async def test_explain_and_mute_pressed_on_a_slack_process(world: World) -> None:
    async with world.slack_process():
        alert = await subscribed_alert(world)

        # Explain, by the developer: asked and answered in the alert's thread, as them.
        await press(world, alert, "alert_explain", "UDEV")
        thread = await world.wait(
            lambda: (t := world.replies(alert.ts)) and len(t) >= 2 and not t[-1].stream_open and t
        )
        assert thread[0].text.startswith("<@UDEV> asked: Explain this alert")
        assert "Checkout API" in thread[0].text and thread[-1].text.strip()
        chats = [r for r in await audit_rows(world) if r["action"] == "ai.chat"]
        assert [(r["identity"], r["org_id"]) for r in chats] == [("slack:T1:UDEV", "org_acme")]

        # Mute, by the developer: refused privately, audited, the alert untouched.
        await press(world, alert, "alert_mute", "UDEV")
        await world.wait(lambda: any(r["key"] == "UDEV" for r in world.slack.responses))
        [refusal] = [r for r in world.slack.responses if r["key"] == "UDEV"]
        assert "needs ai:full" in refusal["text"]
        assert "muted" not in world.slack.messages[("C1", alert.ts)].text

        # Mute, by the admin: the alert says so.
        await press(world, alert, "alert_mute", "UADMIN")
        await world.wait(lambda: "🔕 muted until" in world.slack.messages[("C1", alert.ts)].text)
        [done] = [r for r in world.slack.responses if r["key"] == "UADMIN"]
        assert done["text"].startswith("Muted: no more messages")

        # The problem resolves and comes back: nothing is said, anywhere in the channel.
        updates = len(world.slack.calls_of("chat.update"))
        posts = len(world.slack.calls_of("chat.postMessage"))
        world.convex.put("monitors", monitor("m1", "up", "Checkout API"))
        await world.sync()
        world.convex.put("monitors", monitor("m1", "down", "Checkout API"))
        await world.sync()
        await asyncio.sleep(3)  # more than delivery needs: anything (wrongly) said is said
        assert len(world.slack.calls_of("chat.update")) == updates
        assert len(world.slack.calls_of("chat.postMessage")) == posts
        assert "🔕 muted until" in world.slack.messages[("C1", alert.ts)].text

    rows = await audit_rows(world)
    muted = [
        r for r in rows if r["action"] == "alert.muted" and r["identity"] != "stackdock-assistant"
    ]
    assert sorted((r["identity"], r["result"]) for r in muted) == [
        ("slack:T1:UADMIN", "answered"),
        ("slack:T1:UDEV", "denied"),
    ]
    assert all(r["org_id"] == "org_acme" for r in muted)
    assert not [r for r in rows if r["action"] in ("alert.resolved", "alert.reopened")]
    assert [r["action"] for r in rows if r["action"] == "alert.sent"] == ["alert.sent"]


async def test_a_problem_back_within_15_minutes_reopens_its_alert(world: World) -> None:
    async with world.slack_process():
        alert = await subscribed_alert(world)
        world.convex.put("monitors", monitor("m1", "up", "Checkout API"))
        await world.sync()
        [resolved] = await world.wait(lambda: world.replies(alert.ts))
        assert resolved.text.startswith("✅ Resolved after")
        assert "✅ Resolved after" in world.slack.messages[("C1", alert.ts)].text

        world.convex.put("monitors", monitor("m1", "down", "Checkout API"))
        await world.sync()
        replies = await world.wait(lambda: (r := world.replies(alert.ts))[1:] and r)
        assert replies[1].text.startswith("🔁 It is back,") and "open again" in replies[1].text
        await world.wait(lambda: "Resolved" not in world.slack.messages[("C1", alert.ts)].text)
        reopened = world.slack.messages[("C1", alert.ts)]
        assert "Critical · monitor · Checkout API" in reopened.text
        assert [e["text"]["text"] for e in reopened.blocks[-1]["elements"]] == [
            "Explain",
            "Mute 24 h",
        ]
        await asyncio.sleep(2)  # time for a second alert to (wrongly) arrive
        assert [m.ts for m in world.top_level()[1:]] == [alert.ts]
        assert len(world.replies(alert.ts)) == 2

    rows = await audit_rows(world)
    assert [r["action"] for r in rows if r["action"] == "alert.sent"] == ["alert.sent"]
    reopened_rows = [r for r in rows if r["action"] == "alert.reopened"]
    assert len(reopened_rows) == 2  # the edit and the thread reply
    assert {r["metadata"]["target"] for r in reopened_rows} == {"slack:T1:C1"}


@contextlib.asynccontextmanager
async def discord_process(world: World, fake: FakeDiscord) -> AsyncIterator[Path]:
    """A real `stackdock-assistant discord` process against the fake Discord."""
    log = world.tmp / "discord.log"
    env = world.env | {
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "PORT": str(port := free_port()),
    }
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(*CLI, "discord", cwd=ROOT, env=env, stderr=sink)
    try:
        await fake.wait_connected(within_s=30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                assert proc.returncode is None, log.read_text()[-2000:]
                await asyncio.sleep(0.1)
        yield log
        assert proc.returncode is None, "the discord process died: " + log.read_text()[-2000:]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 40)
    assert proc.returncode == 0, log.read_text()[-2000:]


async def test_a_discord_process_beside_a_slack_worker_posts_once(world: World) -> None:
    fake = FakeDiscord()
    await fake.start()
    try:
        guild = fake.add_guild()
        channel = guild.channel_id
        await world.sync()
        assert (await world.cli("bind", f"discord:{guild.id}", "org_acme"))[0] == 0
        assert (await world.cli("bind", "slack:T1", "org_acme"))[0] == 0
        for target in (f"discord:{guild.id}:{channel}", "slack:T1:C1"):
            assert (await world.cli("alerts", "subscribe", target))[0] == 0

        def shown() -> list[dict[str, Any]]:
            return [
                m
                for m in fake.messages.values()
                if m["channel_id"] == channel and m["author"]["id"] == fake.bot["id"]
            ]

        async with discord_process(world, fake), world.slack_process():
            [notice] = await fake.wait_for(shown, 30, what="the subscribed message")
            assert "Subscribed" in notice["content"] and buttons_of(notice) == []
            await world.wait(world.top_level)

            world.convex.put("monitors", monitor("m1", "down", "Checkout API"))
            await world.sync()
            alert = await fake.wait_for(
                lambda: next((m for m in shown() if buttons_of(m)), None), 20, what="the alert"
            )
            assert "Critical · monitor · Checkout API" in text_of(alert)
            await world.wait(lambda: world.top_level()[1:])
            await asyncio.sleep(3)  # more than a lease: a second post would have arrived
            assert [m["id"] for m in shown()] == [notice["id"], alert["id"]]
            posts = fake.calls_to("POST", rf"/channels/{channel}/messages$")
            assert len(posts) == 2
            [slack_alert] = world.top_level()[1:]
            assert "Checkout API" in slack_alert.text

    finally:
        await fake.stop()

    sent = [r for r in await audit_rows(world) if r["action"] == "alert.sent"]
    assert sorted(r["metadata"]["target"] for r in sent) == sorted(
        [f"discord:{guild.id}:{channel}", "slack:T1:C1"]
    )
    discord_sent = [r for r in sent if r["platform"] == "discord"]
    assert [r["metadata"]["message"] for r in discord_sent] == [alert["id"]]
