"""The real Bolt app over signed HTTP, the real core, and the fake Slack Web API."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import sqlalchemy as sa

from adapters.store.database import open_store
from adapters.store.tables import audit_feedback
from tests.fakes.services.slack_api import (
    BOT_TOKEN,
    BOT_USER,
    SIGNING_SECRET,
    TEAM,
    FakeSlackApi,
    event_envelope,
    mention,
    message,
)
from tests.harness.slack_harness import SLACK_USERS, UNKNOWN_USER, slack_app


async def test_mention_is_acked_then_streamed_into_its_thread(sqlite_url, caplog):
    caplog.set_level(logging.DEBUG)
    async with slack_app(sqlite_url) as h:
        status, _, seconds = await h.send(
            event_envelope(mention("List my servers", user="UADMIN", ts="100.1"))
        )
        assert status == 200
        assert seconds < 1.0
        await h.settle()

        methods = [c.method for c in h.api.calls]
        assert methods.index("assistant.threads.setStatus") < methods.index("chat.startStream")
        start = h.api.calls_of("chat.startStream")[0].args
        assert (start["channel"], start["thread_ts"]) == ("C1", "100.1")
        assert (start["recipient_team_id"], start["recipient_user_id"]) == (TEAM, "UADMIN")
        [answer] = h.api.bot_messages("C1", "100.1")
        assert answer.streamed and not answer.stream_open
        assert "8 servers" in answer.text and "acme-web-1" in answer.text
        assert any(c["type"] == "task_update" for c in answer.chunks)  # the tool step
        [feedback] = [b for b in answer.blocks if b["type"] == "context_actions"]
        up = feedback["elements"][0]["positive_button"]["value"]
        rows = [r async for r in h.rt.store.audit.iter()]
        assert up == f"up:{rows[-1].id}"
        assert rows[-1].result.value == "answered"
    # Secrets never reach the logs, whatever the level.
    assert BOT_TOKEN not in caplog.text and SIGNING_SECRET not in caplog.text


async def test_bad_or_stale_signatures_get_401_and_no_answer(sqlite_url):
    async with slack_app(sqlite_url) as h:
        payload = event_envelope(mention("List my servers", user="UADMIN", ts="100.2"))
        status, _, _ = await h.send(payload, secret="not-the-secret")
        assert status == 401
        stale = int(time.time()) - 60 * 10
        status, _, _ = await h.send(payload, timestamp=stale)
        assert status == 401
        await h.settle()
        assert h.api.calls_of("chat.startStream") == []
        assert [r async for r in h.rt.store.audit.iter()] == []


async def test_redelivered_event_is_answered_once(sqlite_url):
    async with slack_app(sqlite_url) as h:
        payload = event_envelope(mention("How many servers do I have?", user="UADMIN", ts="100.3"))
        first = await h.send(payload)
        again = await h.send(payload, retry_num=1)
        await h.send(payload, retry_num=2)
        assert first[0] == again[0] == 200
        await h.settle()
        assert len(h.api.calls_of("chat.startStream")) == 1
        assert len([r async for r in h.rt.store.audit.iter()]) == 1


async def test_thread_replies_are_answered_only_where_the_bot_talks(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await h.send(event_envelope(mention("List my servers", user="UADMIN", ts="200.1")))
        await h.settle()
        follow_up = message(
            "and my domains?", user="UADMIN", channel="C1", ts="200.2", thread_ts="200.1"
        )
        elsewhere = message("unrelated", user="UADMIN", channel="C1", ts="300.2", thread_ts="300.1")
        top_level = message("List my servers", user="UADMIN", channel="C1", ts="400.1")
        for event in (follow_up, elsewhere, top_level):
            assert (await h.send(event_envelope(event)))[0] == 200
        await h.settle()
        threads = [c.args["thread_ts"] for c in h.api.calls_of("chat.startStream")]
        assert threads == ["200.1", "200.1"]
        assert "domain" in h.api.bot_messages("C1", "200.1")[1].text


async def test_a_mention_inside_a_thread_gets_one_answer(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await h.send(event_envelope(mention("List my servers", user="UADMIN", ts="500.1")))
        await h.settle()
        text = f"<@{BOT_USER}> List my domains"
        twin = message(text, user="UADMIN", channel="C1", ts="500.2", thread_ts="500.1")
        await h.send(event_envelope(twin))
        await h.send(
            event_envelope(mention("List my domains", user="UADMIN", ts="500.2", thread_ts="500.1"))
        )
        await h.settle()
        assert len(h.api.calls_of("chat.startStream")) == 2


async def test_dm_is_answered_in_the_dm_without_a_binding(sqlite_url):
    async with slack_app(sqlite_url, bind_channel=False) as h:
        dm = message("List my servers", user="UADMIN", channel="D1", ts="600.1", channel_type="im")
        await h.send(event_envelope(dm))
        await h.settle()
        [answer] = h.api.bot_messages("D1", "600.1")
        assert "acme-web-1" in answer.text
        assert h.api.calls_of("users.info")[0].args["user"] == "UADMIN"


async def test_own_bot_edit_and_join_messages_are_ignored(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await h.send(event_envelope(mention("List my servers", user="UADMIN", ts="700.1")))
        await h.settle()
        calls_before = len(h.api.calls)
        ignored = [
            message(
                "mine", user=BOT_USER, channel="C1", ts="700.2", thread_ts="700.1", bot_id="BBOT"
            ),
            message(
                "beep", user="UOTHER", channel="C1", ts="700.3", thread_ts="700.1", bot_id="B2"
            ),
            message(
                "x",
                user="UADMIN",
                channel="C1",
                ts="700.4",
                thread_ts="700.1",
                subtype="message_changed",
            ),
            message("joined", user="UADMIN", channel="C1", ts="700.5", subtype="channel_join"),
            message(
                "hi",
                user="UADMIN",
                channel="D1",
                ts="700.6",
                channel_type="im",
                subtype="bot_message",
            ),
        ]
        for event in ignored:
            assert (await h.send(event_envelope(event)))[0] == 200
        await h.settle()
        assert h.api.calls[calls_before:] == []


async def test_unknown_user_is_told_how_to_link(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await h.send(event_envelope(mention("List my servers", user=UNKNOWN_USER, ts="800.1")))
        await h.settle()
        [reply] = h.api.bot_messages("C1", "800.1")
        assert "link" in reply.text
        assert f"slack:{TEAM}:{UNKNOWN_USER}" in reply.text
        assert h.api.calls_of("chat.startStream") == []
        [row] = [r async for r in h.rt.store.audit.iter()]
        assert row.reason == "unknown_user"


async def test_denied_user_gets_the_reason(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await h.send(event_envelope(mention("List my servers", user="UAUDREY", ts="810.1")))
        await h.settle()
        [reply] = h.api.bot_messages("C1", "810.1")
        assert "ai:read" in reply.text
        assert h.api.calls_of("chat.startStream") == []


async def test_unbound_channel_is_refused_with_how_to_bind(sqlite_url):
    async with slack_app(sqlite_url, bind_channel=False) as h:
        await h.send(event_envelope(mention("List my servers", user="UADMIN", ts="820.1")))
        await h.settle()
        [reply] = h.api.bot_messages("C1", "820.1")
        assert f"bind slack:{TEAM}:C1" in reply.text


async def test_health_readiness_and_metrics(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await h.send(event_envelope(mention("List my servers", user="UADMIN", ts="900.1")))
        await h.settle()
        async with aiohttp.ClientSession() as session:
            async with session.get(h.url("/healthz")) as resp:
                assert resp.status == 200
                health = await resp.json()
            # The demo snapshot is loaded as of now, so the mirror is seconds old.
            assert health["mirror_as_of"] and 0 <= health["mirror_age_s"] < 600
            async with session.get(h.url("/readyz")) as resp:
                assert resp.status == 200
                assert (await resp.json())["status"] == "ready"
            async with session.get(h.url("/metrics")) as resp:
                text = await resp.text()
        assert 'stackdock_ack_seconds_count{platform="slack"}' in text
        assert 'stackdock_questions_total{platform="slack",result="answered"}' in text


async def test_feedback_press_is_stored_against_the_answer(sqlite_url):
    from tests.fakes.services.slack_api import block_action

    async with slack_app(sqlite_url) as h:
        await h.send(event_envelope(mention("List my servers", user="UADMIN", ts="950.1")))
        await h.settle()
        [answer] = h.api.bot_messages("C1", "950.1")
        buttons = answer.blocks[-1]["elements"][0]
        press = {
            "type": "feedback_buttons",
            "action_id": buttons["action_id"],
            "block_id": "b1",
            "value": buttons["negative_button"]["value"],
        }
        status, _, _ = await h.send(
            block_action(press, user="UADMIN", message_ts=answer.ts), form=True
        )
        assert status == 200
        await h.settle()
        async with h.rt.store.engine.connect() as conn:
            rows = (await conn.execute(sa.select(audit_feedback))).mappings().all()
        assert [(r["identity"], r["value"]) for r in rows] == [(f"slack:{TEAM}:UADMIN", -1)]


async def test_redelivery_to_another_worker_is_not_answered_twice(db_url):
    if db_url.startswith("postgresql"):
        await (await open_store(db_url, upgrade=True)).close()
    api = FakeSlackApi(SLACK_USERS)
    async with api, slack_app(db_url, api=api) as one, slack_app(db_url, api=api) as two:
        payload = event_envelope(mention("How many servers do I have?", user="UADMIN", ts="990.1"))
        acks = await asyncio.gather(one.send(payload), two.send(payload, retry_num=1))
        assert [a[0] for a in acks] == [200, 200]
        await asyncio.gather(one.settle(), two.settle())
        assert len(api.calls_of("chat.startStream")) == 1
        assert len([r async for r in one.rt.store.audit.iter()]) == 1
