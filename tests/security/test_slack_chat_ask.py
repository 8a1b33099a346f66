"""`/stackdock ask` and suggested-prompt buttons against hostile askers, over signed HTTP.

Nothing is posted in a channel on someone's behalf before the core has resolved them and said
they may ask there; a refusal goes back privately (and is audited). What is echoed publicly is
scrubbed by the core and cannot mention, broadcast to, or hide a link from anyone.
"""

from __future__ import annotations

import re

from tests.fake_secrets import slack_token
from tests.fakes.services.slack_api import TEAM, block_action, slash_command
from tests.harness.slack_harness import UNKNOWN_USER, Harness, slack_app

PASTED = slack_token("xoxb", "1234567890", "abcdefghijklmnop")
HOSTILE = (
    "<!channel> <!here> <!everyone> <@UDEV> <!subteam^S0123|@oncall> "
    "<https://evil.example/login|https://stackdock.example> @here "
    f"my token is {PASTED}, which servers are down?"
)
PING = re.compile(r"<[!@#]|<https?:|@(channel|here|everyone)\b", re.IGNORECASE)


async def ask_command(h: Harness, text: str, user: str, channel: str = "C1") -> None:
    payload = slash_command(text, user=user, channel=channel, response_url=h.api.response_url())
    status, body, _ = await h.send(payload, form=True)
    assert status == 200 and not body, "the command is acked at once, with nothing shown yet"
    await h.settle()


def posted_in(h: Harness, channel: str) -> list[str]:
    return [
        c.args["text"] for c in h.api.calls_of("chat.postMessage") if c.args["channel"] == channel
    ]


async def audited(h: Harness) -> list[tuple[str, str | None, str]]:
    return [(r.result.value, r.reason, r.identity) async for r in h.rt.store.audit.iter()]


async def test_an_unlinked_person_gets_a_private_refusal_and_nothing_is_posted(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await ask_command(h, "ask " + HOSTILE, user=UNKNOWN_USER)
        assert posted_in(h, "C1") == [], "nothing may be posted for someone not yet resolved"
        assert h.api.calls_of("chat.startStream") == []
        [reply] = h.api.responses
        assert reply["response_type"] == "ephemeral"
        assert f"slack:{TEAM}:{UNKNOWN_USER}" in reply["text"], "told how to get linked"
        assert await audited(h) == [("denied", "unknown_user", f"slack:{TEAM}:{UNKNOWN_USER}")]


async def test_a_member_without_the_assistant_is_refused_privately(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await ask_command(h, "ask " + HOSTILE, user="UAUDREY")  # ai is "none" for this role
        assert posted_in(h, "C1") == []
        [reply] = h.api.responses
        assert reply["response_type"] == "ephemeral" and "ai:read" in reply["text"]


async def test_nothing_is_posted_in_a_channel_no_org_vouches_for(sqlite_url):
    async with slack_app(sqlite_url, bind_channel=False) as h:
        await ask_command(h, "ask " + HOSTILE, user="UADMIN")
        assert posted_in(h, "C1") == []
        [reply] = h.api.responses
        assert reply["response_type"] == "ephemeral" and f"bind slack:{TEAM}:C1" in reply["text"]


async def test_a_pressed_prompt_from_a_refused_person_posts_nothing_either(sqlite_url):
    async with slack_app(sqlite_url) as h:
        press = {"type": "button", "action_id": "ask_prompt_0", "value": HOSTILE}
        payload = block_action(press, user=UNKNOWN_USER, message_ts="5.1")  # no response_url
        assert (await h.send(payload, form=True))[0] == 200
        await h.settle()
        assert posted_in(h, "C1") == []
        [private] = h.api.calls_of("chat.postEphemeral")
        assert private.args["user"] == UNKNOWN_USER and "link" in private.args["text"]


async def test_the_echo_of_an_allowed_question_pings_nobody_and_repeats_no_secret(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await ask_command(h, "ask " + HOSTILE, user="UADMIN")
        [echo] = h.api.calls_of("chat.postMessage")
        text = echo.args["text"]
        assert text.startswith("<@UADMIN> asked: "), "the asker is named as the one asking"
        said = text.removeprefix("<@UADMIN> asked: ")
        assert not PING.search(said), f"the echo could ping or mislead someone: {said!r}"
        assert "evil.example" not in said, "a link's hidden target is not repeated"
        assert PASTED not in said and "[redacted]" in said
        assert "\n" not in said
        assert "@oncall" in said and "which servers are down?" in said
        for flag in ("unfurl_links", "unfurl_media"):
            assert echo.args.get(flag) in (False, "false", "0", 0), flag
        question = h.api.bot_messages("C1")[0]
        assert question.text == text
        assert h.api.bot_messages("C1", question.ts), "the answer lives in the echo's thread"
        [row] = [r async for r in h.rt.store.audit.iter()]
        assert row.result.value == "answered" and PASTED not in (row.question or "")
