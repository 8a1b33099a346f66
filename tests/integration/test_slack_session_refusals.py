"""Web API calls an answer no longer repeats (issue 17, the loop's CPU per answer): an install
that Slack refused agent sessions is not asked for one on every answer, while what people see
stays as it was. Against the fake Slack over real sockets, through the real app."""

from __future__ import annotations

from typing import Any

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
