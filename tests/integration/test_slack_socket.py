"""The real Bolt app in Socket Mode, over a local websocket that checks the acks."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator

from adapters.slack.transport import TimedSocketModeHandler
from tests.fakes.services.slack_api import (
    APP_TOKEN,
    FakeSlackApi,
    event_envelope,
    mention,
    slash_command,
)
from tests.fakes.services.slack_socket import FakeSocketMode
from tests.harness.slack_harness import SLACK_USERS, Harness, slack_app


@contextlib.asynccontextmanager
async def socket_app(database_url: str) -> AsyncIterator[tuple[Harness, FakeSocketMode]]:
    api = FakeSlackApi(SLACK_USERS)
    socket = FakeSocketMode(api)  # mounts /link before the server starts
    async with api, slack_app(database_url, api=api) as h:
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


async def test_events_are_acked_over_the_socket_then_answered(sqlite_url):
    async with socket_app(sqlite_url) as (h, socket):
        [opened] = h.api.calls_of("apps.connections.open")
        assert opened.token == APP_TOKEN
        payload = event_envelope(mention("List my servers", user="UADMIN", ts="1.1"))
        envelope = await socket.send("events_api", payload)
        ack = await socket.wait_ack(envelope)
        assert ack.seconds < 1.0
        await h.settle()
        [answer] = h.api.bot_messages("C1", "1.1")
        assert "acme-web-1" in answer.text and not answer.stream_open
        assert socket.unknown_acks == []


async def test_socket_retries_are_acked_but_answered_once(sqlite_url):
    async with socket_app(sqlite_url) as (h, socket):
        payload = event_envelope(mention("How many servers do I have?", user="UADMIN", ts="2.1"))
        first = await socket.send("events_api", payload)
        again = await socket.send("events_api", payload, retry_attempt=1)
        await socket.wait_ack(first)
        await socket.wait_ack(again)
        await h.settle()
        assert len(h.api.calls_of("chat.startStream")) == 1


async def test_slash_command_ack_carries_the_help_payload(sqlite_url):
    async with socket_app(sqlite_url) as (h, socket):
        command = slash_command("help", user="UADMIN", response_url=h.api.response_url())
        envelope = await socket.send("slash_commands", command, accepts_response_payload=True)
        ack = await socket.wait_ack(envelope)
        assert ack.payload is not None
        assert "`usage`" in json.dumps(ack.payload)


async def test_an_envelope_no_listener_could_read_is_acked_and_ignored(sqlite_url, caplog):
    caplog.set_level(logging.INFO)
    async with socket_app(sqlite_url) as (h, socket):
        # Bolt itself would index actions[0] here, raise, and leave the envelope unacked.
        odd = {"type": "block_actions", "user": {"id": "UADMIN"}, "actions": []}
        ack = await socket.wait_ack(await socket.send("interactive", odd))
        assert ack.payload is None
        payload = event_envelope(mention("List my servers", user="UADMIN", ts="3.1"))
        await socket.wait_ack(await socket.send("events_api", payload))
        await h.settle()
        assert "acme-web-1" in h.api.thread_text("C1", "3.1")
    assert "ignored a Socket Mode envelope: payload.actions is empty" in caplog.text
    assert "Traceback" not in caplog.text
