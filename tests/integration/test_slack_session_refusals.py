"""Web API calls an answer no longer repeats (issue 17, the loop's CPU per answer): an install
that Slack refused agent sessions is not asked for one on every answer, while what people see
stays as it was. Against the fake Slack over real sockets, through the real app."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from tests.fakes.services.slack_api import FakeSlackApi, event_envelope, mention, message
from tests.harness.slack_harness import SLACK_USERS, Harness, slack_app

SESSIONS = "agents.sessions.setStatus"


def dm(text: str, ts: str, user: str = "UADMIN") -> dict[str, Any]:
    return event_envelope(message(text, user=user, channel="D1", ts=ts, channel_type="im"))


async def ask(h: Harness, event: dict[str, Any]) -> None:
    status, _, _ = await h.send(event)
    assert status == 200
    await h.settle()


def answered(h: Harness, channel: str, thread_ts: str) -> bool:
    """One finished answer with text in the thread, as Slack shows it."""
    [answer] = h.api.bot_messages(channel, thread_ts)
    return bool(answer.text.strip()) and not answer.stream_open


async def test_an_install_without_agent_sessions_is_asked_once_not_on_every_answer(sqlite_url):
    api = FakeSlackApi(SLACK_USERS, agent_app=False)  # still on the assistant experience
    async with api, slack_app(sqlite_url, api=api) as h:
        await ask(h, dm("How many servers do I have?", "4.2"))
        await ask(h, dm("List my domains", "4.3"))
        await ask(h, dm("Any problems?", "4.4"))
        assert len(api.calls_of(SESSIONS)) == 1, "refused once: not asked again"
        # What people see is what a refused session always gave: the answer, and the
        # assistant thread's title.
        assert api.sessions == {}
        for ts, title in (("4.2", "How many servers do I have?"), ("4.3", "List my domains")):
            assert answered(h, "D1", ts)
            assert api.titles[("D1", ts)] == title

        # Sessions in channels are another question to Slack: asked there once too.
        await ask(h, event_envelope(mention("How many servers?", user="UADMIN", ts="6.1")))
        await ask(h, event_envelope(mention("Any problems?", user="UADMIN", ts="6.2")))
        assert len(api.calls_of(SESSIONS)) == 2
        assert answered(h, "C1", "6.1") and answered(h, "C1", "6.2")


async def test_a_refusal_about_one_thread_does_not_stop_the_next_answers_session(sqlite_url):
    async with slack_app(sqlite_url) as h:
        h.api.fail(SESSIONS, "invalid_arguments")  # about this call, not the install
        await ask(h, dm("How many servers do I have?", "5.1"))
        await ask(h, dm("List my domains", "5.2"))
        # Refused, then asked again: processing (the stream's end sets it active).
        assert len(h.api.calls_of(SESSIONS)) == 2
        assert ("D1", "5.1") not in h.api.sessions
        assert h.api.sessions[("D1", "5.2")]["status"] == "active"
        assert answered(h, "D1", "5.2")


async def test_an_agent_app_still_opens_a_session_for_every_answer(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await ask(h, dm("How many servers do I have?", "7.1"))
        await ask(h, dm("List my domains", "7.2"))
        opened = [c.args["thread_ts"] for c in h.api.calls_of(SESSIONS)
                  if c.args["status"] == "processing"]  # fmt: skip
        assert opened == ["7.1", "7.2"]
        assert all(h.api.sessions[("D1", ts)]["status"] == "active" for ts in ("7.1", "7.2"))


async def test_the_asker_is_admitted_while_slack_opens_the_session(sqlite_url):
    """The session call is on the way to the model no longer: the core looks the asker up and
    takes their slot while Slack answers it (under a burst it took 60 ms at the median)."""
    async with slack_app(sqlite_url) as h:
        h.api.delays[SESSIONS] = 1.0  # Slack is slow to open the session
        status, _, _ = await h.send(dm("How many servers do I have?", "8.1"))
        assert status == 200
        hits = sa.text("SELECT count(*) FROM rate_limit_hits")
        admitted_first = None
        for _ in range(400):
            async with h.rt.store.engine.connect() as conn:
                admitted = (await conn.scalar(hits)) > 0
            opened = ("D1", "8.1") in h.api.sessions
            if admitted or opened:
                admitted_first = admitted and not opened
                break
            await asyncio.sleep(0.01)
        assert admitted_first is True, "the question waited for the session to open"
        await h.settle()
        assert answered(h, "D1", "8.1")
        assert h.api.sessions[("D1", "8.1")]["status"] == "active", "opened, then closed"
