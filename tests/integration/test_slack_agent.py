"""Slack's agent messaging experience against the fake Slack: the manifest, the Messages tab,
agent sessions and their Stop, our own Stop where Slack has none, and the work shown as Slack
shows it (loading messages, titles, tool steps as task updates)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adapters.slack.render import LOADING_MESSAGES, STOP_ACTION
from adapters.slack.transport import TimedSocketModeHandler
from core.models import Outcome
from core.prompts import all_prompts
from core.stopping import STOPPED_TEXT
from tests.fakes.ports.slow_provider import SlowProvider
from tests.fakes.services.slack_api import (
    APP_TOKEN,
    FakeSlackApi,
    block_action,
    event_envelope,
    mention,
    message,
)
from tests.fakes.services.slack_socket import FakeSocketMode
from tests.harness.slack_harness import SLACK_USERS, Harness, slack_app
from tests.manifest_reader import read_manifest

MANIFEST = Path(__file__).resolve().parents[2] / "slack-app-manifest.yml"
SHOWN = "your servers"  # of SlowProvider's text, on screen before it goes silent


def dm(text: str, ts: str, user: str = "UADMIN") -> dict[str, Any]:
    return event_envelope(message(text, user=user, channel="D1", ts=ts, channel_type="im"))


async def rows(h: Harness) -> list:
    return [row async for row in h.rt.store.audit.iter()]


# ---- the manifest ----


def test_the_manifest_declares_the_agent_messaging_experience():
    manifest = read_manifest(MANIFEST)
    features = manifest["features"]
    assert "assistant_view" not in features, "new apps can only use agent_view"
    agent = features["agent_view"]
    assert set(agent) <= {"agent_description", "suggested_prompts", "actions"}
    assert isinstance(agent["agent_description"], str)
    assert 0 < len(agent["agent_description"]) <= 300
    prompts = agent["suggested_prompts"]
    assert 0 < len(prompts) <= 4
    assert all(set(p) == {"title", "message"} and p["title"] for p in prompts)
    assert {p["message"] for p in prompts} <= set(all_prompts()), "prompts the core offers"
    home = features["app_home"]
    assert home["messages_tab_enabled"] is True, "agent conversations live in the Messages tab"
    assert home["messages_tab_read_only_enabled"] is False

    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert len(events) == len(set(events))
    # The Messages tab opening (in place of assistant_thread_started), the context event
    # (in place of assistant_thread_context_changed), and the session's Stop.
    assert {"app_home_opened", "app_context_changed", "agent_session_stopped"} <= set(events)
    assert {"message.im", "app_mention"} <= set(events)
    assert not [e for e in events if e.startswith("assistant_thread_")]
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert {"assistant:write", "chat:write", "im:history", "users:read.email"} <= set(scopes)


# ---- prompts ----


async def test_an_agent_apps_messages_tab_gets_prompts_without_a_thread(sqlite_url):
    async with slack_app(sqlite_url) as h:
        opened = {"type": "app_home_opened", "user": "UADMIN", "channel": "D1", "tab": "messages"}
        status, _, _ = await h.send(event_envelope(opened))
        assert status == 200
        await h.settle()
        [call] = h.api.calls_of("assistant.threads.setSuggestedPrompts")
        assert "thread_ts" not in call.args  # Slack drops an agent app's prompts that have one
        assert h.api.prompts_dropped == []
        shown = h.api.prompts_shown["D1"]
        assert 0 < len(shown) <= 4 and all(p["message"] in all_prompts() for p in shown)


async def test_an_assistant_app_still_gets_prompts_in_its_panel_thread(sqlite_url):
    api = FakeSlackApi(SLACK_USERS, agent_app=False)
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {"user_id": "UADMIN", "channel_id": "D1", "thread_ts": "3.1"},
    }
    async with api, slack_app(sqlite_url, api=api) as h:
        await h.send(event_envelope(started))
        await h.settle()
        [call] = h.api.calls_of("assistant.threads.setSuggestedPrompts")
        assert call.args["thread_ts"] == "3.1"
        assert h.api.prompts_shown["D1"]


async def test_context_changes_are_acknowledged_and_change_nothing(sqlite_url):
    changed = {
        "type": "app_context_changed",
        "user": "UADMIN",
        "context": {"entities": [{"type": "slack#/types/channel_id", "value": "C1"}]},
    }
    async with slack_app(sqlite_url) as h:
        status, _, seconds = await h.send(event_envelope(changed))
        await h.settle()
        assert status == 200 and seconds < 1.0
        assert [c.method for c in h.api.calls if c.method != "auth.test"] == []


# ---- the work, shown as Slack shows it ----


async def test_an_agent_dm_answer_shows_its_work_as_slack_does(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await h.send(dm("List my domains", "4.1"))
        await h.settle()
        first_status = h.api.calls_of("assistant.threads.setStatus")[0].args
        assert first_status["loading_messages"] == list(LOADING_MESSAGES)
        # Slack's session: processing (with the question as its title) while answering, active
        # once the stream stopped.
        sessions = h.api.calls_of("agents.sessions.setStatus")
        assert sessions[0].args["status"] == "processing"
        assert sessions[0].args["title"] == "List my domains"
        assert h.api.sessions[("D1", "4.1")]["status"] == "active"
        [answer] = h.api.bot_messages("D1", "4.1")
        tasks = [c for c in answer.chunks if c["type"] == "task_update"]
        assert [t["status"] for t in tasks] == ["in_progress", "complete"]
        assert tasks[0]["id"] == tasks[1]["id"] and tasks[0]["title"] == "Listing domains…"
        assert tasks[1]["output"] == "Looked up 6 domains"  # what the tool found
        assert "acme.dev" in answer.text and not answer.stream_open


async def test_an_assistant_thread_gets_a_title_where_there_is_no_session(sqlite_url):
    api = FakeSlackApi(SLACK_USERS, agent_app=False)
    async with api, slack_app(sqlite_url, api=api) as h:
        await h.send(dm("How many servers do I have?", "4.2"))
        await h.settle()
        assert h.api.sessions == {}  # Slack refused a session: an assistant_view install
        assert h.api.titles[("D1", "4.2")] == "How many servers do I have?"


# ---- Stop ----


async def test_slacks_stop_cancels_the_answer_within_a_second(sqlite_url):
    provider = SlowProvider()
    async with slack_app(sqlite_url, providers=[provider]) as h:
        await h.send(dm("How many servers?", "5.1"))
        await h.api.wait_for(lambda: SHOWN in h.api.thread_text("D1", "5.1"))
        assert h.api.sessions[("D1", "5.1")]["status"] == "processing"

        started = time.perf_counter()
        status, _, _ = await h.send(event_envelope(h.api.stop_session("D1", "5.1", "UADMIN")))
        assert status == 200
        await h.api.wait_for(lambda: STOPPED_TEXT in h.api.thread_text("D1", "5.1"), 1.0)
        assert time.perf_counter() - started < 1.0
        assert provider.closed.is_set()  # the model call itself was cancelled
        await h.settle()

        shown = h.api.thread_text("D1", "5.1")
        assert shown.index(SHOWN) < shown.index(STOPPED_TEXT), "what was shown stays, then Stopped"
        [row] = await rows(h)
        assert (row.result, row.reason) == (Outcome.CANCELLED, "stopped")
        assert (row.input_tokens, row.output_tokens) == (120, 30)  # the finished model turn
        assert h.api.sessions[("D1", "5.1")]["status"] == "active"  # out of processing


async def test_a_stop_for_nothing_under_way_leaves_the_session_active(sqlite_url):
    async with slack_app(sqlite_url) as h:
        h.api.sessions[("D1", "7.1")] = {"status": "processing", "title": "x", "initiator": None}
        await h.send(event_envelope(h.api.stop_session("D1", "7.1", "UADMIN")))
        await h.settle()
        assert h.api.sessions[("D1", "7.1")]["status"] == "active"
        assert await rows(h) == []


async def test_our_own_stop_where_slack_has_no_session_and_only_for_the_asker(sqlite_url):
    provider = SlowProvider()
    api = FakeSlackApi(SLACK_USERS, agent_app=False)
    async with api, slack_app(sqlite_url, api=api, providers=[provider]) as h:
        await h.send(event_envelope(mention("How many servers?", user="UADMIN", ts="6.1")))
        await h.api.wait_for(lambda: SHOWN in h.api.thread_text("C1", "6.1"))
        # Our Stop goes up once the answer has run a moment (a quick one never shows it).
        [stop] = await h.api.wait_for(
            lambda: [m for m in h.api.bot_messages("C1", "6.1") if _stop_button(m) is not None]
        )
        button = _stop_button(stop)
        assert button is not None and button["value"] == "6.1:UADMIN"

        def press(user: str, key: str) -> dict[str, str]:
            action = {"action_id": STOP_ACTION, "block_id": "stop", "type": "button", **button}
            return block_action(
                action,
                user=user,
                channel="C1",
                message_ts=stop.ts,
                thread_ts="6.1",
                response_url=h.api.response_url(key),
            )

        await h.api.post_event(h.events_url, press("UDEV", "bystander"), form=True)
        await h.api.wait_for(lambda: h.api.responses)
        assert "Only <@UADMIN> can stop" in h.api.responses[0]["text"]
        assert h.api.responses[0]["response_type"] == "ephemeral"
        await asyncio.sleep(0.2)
        assert not provider.closed.is_set(), "a bystander's press stops nothing"

        started = time.perf_counter()
        await h.api.post_event(h.events_url, press("UADMIN", "asker"), form=True)
        await h.api.wait_for(lambda: STOPPED_TEXT in h.api.thread_text("C1", "6.1"), 1.0)
        assert time.perf_counter() - started < 1.0
        await h.settle()
        assert ("C1", stop.ts) not in h.api.messages, "our Stop goes with the answer"
        [row] = await rows(h)
        assert row.result is Outcome.CANCELLED and row.input_tokens == 120


async def test_a_quick_answer_never_flashes_our_stop_button(sqlite_url):
    api = FakeSlackApi(SLACK_USERS, agent_app=False)
    async with api, slack_app(sqlite_url, api=api) as h:
        await h.send(
            event_envelope(mention("How many servers do I have?", user="UADMIN", ts="6.2"))
        )
        await h.settle()
        assert "servers" in h.api.thread_text("C1", "6.2")
        posted = [c.args for c in h.api.calls_of("chat.postMessage")]
        assert not [a for a in posted if STOP_ACTION in str(a.get("blocks"))]
        assert h.api.calls_of("chat.delete") == []


def _stop_button(message: Any) -> dict[str, Any] | None:
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == STOP_ACTION:
                return {"value": element["value"]}
    return None


@contextlib.asynccontextmanager
async def socket_app(
    database_url: str, provider: SlowProvider
) -> AsyncIterator[tuple[Harness, FakeSocketMode]]:
    api = FakeSlackApi(SLACK_USERS)
    socket = FakeSocketMode(api)
    async with api, slack_app(database_url, api=api, providers=[provider]) as h:
        socket.install()
        handler = TimedSocketModeHandler(
            h.bot.app, APP_TOKEN, web_client=h.bot.client, tasks=h.bot.tasks
        )
        await handler.connect_async()
        try:
            await socket.wait_connected()
            yield h, socket
        finally:
            await handler.close_async()


async def test_slacks_stop_over_socket_mode(sqlite_url):
    provider = SlowProvider()
    async with socket_app(sqlite_url, provider) as (h, socket):
        await socket.wait_ack(await socket.send("events_api", dm("How many servers?", "8.1")))
        await h.api.wait_for(lambda: SHOWN in h.api.thread_text("D1", "8.1"))
        started = time.perf_counter()
        stopped = event_envelope(h.api.stop_session("D1", "8.1", "UADMIN"))
        await socket.wait_ack(await socket.send("events_api", stopped))
        await h.api.wait_for(lambda: STOPPED_TEXT in h.api.thread_text("D1", "8.1"), 1.0)
        assert time.perf_counter() - started < 1.0
        await h.settle()
        [row] = await rows(h)
        assert row.result is Outcome.CANCELLED and row.input_tokens == 120
