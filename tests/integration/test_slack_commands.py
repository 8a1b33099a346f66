"""/stackdock, suggested-prompt buttons, the App Home tab and the assistant panel."""

from __future__ import annotations

import json

from core.identities import email_identity
from core.prompts import suggested_prompts
from tests.fakes.services.slack_api import (
    BOT_USER,
    TEAM,
    block_action,
    event_envelope,
    message,
    slash_command,
)
from tests.harness.slack_harness import ACME as ACME_ORG
from tests.harness.slack_harness import slack_app


async def command(h, text: str, user: str = "UADMIN", channel: str = "C1") -> tuple[int, dict]:
    payload = slash_command(text, user=user, channel=channel, response_url=h.api.response_url())
    status, body, seconds = await h.send(payload, form=True)
    assert seconds < 1.0
    if not body:
        return status, {}
    # Bolt answers a text-only ack as plain text, which Slack shows as an ephemeral message.
    return status, json.loads(body) if body.startswith("{") else {"text": body}


async def test_help_and_usage_errors_get_ephemeral_help(sqlite_url):
    async with slack_app(sqlite_url) as h:
        for text in ("", "help", "frobnicate", "ask", "prompts nonsense", "link"):
            status, body = await command(h, text)
            assert status == 200
            assert "prompts [servers|web-services|domains|databases|problems]" in body["text"], text
            assert body.get("response_type", "ephemeral") == "ephemeral"


async def test_prompts_come_as_buttons_and_a_press_asks_in_a_thread(sqlite_url):
    async with slack_app(sqlite_url) as h:
        status, body = await command(h, "prompts servers")
        assert status == 200
        buttons = [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert [b["value"] for b in buttons] == suggested_prompts("servers")

        press = {"type": "button", "block_id": "suggested_prompts", **buttons[1]}
        payload = block_action(
            press, user="UDEV", message_ts="10.1", response_url=h.api.response_url()
        )
        status, _, seconds = await h.send(payload, form=True)
        assert status == 200 and seconds < 1.0
        await h.settle()
        question = h.api.calls_of("chat.postMessage")[0].args
        assert question["text"] == f"<@UDEV> asked: {buttons[1]['value']}"
        thread = h.api.bot_messages("C1")[0].ts
        [answer] = h.api.bot_messages("C1", thread)
        assert "provider" in answer.text.lower()
        [row] = [r async for r in h.rt.store.audit.iter()]
        assert row.identity == f"slack:{TEAM}:UDEV"


async def test_ask_command_posts_the_question_and_answers_in_its_thread(sqlite_url):
    async with slack_app(sqlite_url) as h:
        status, body = await command(h, "ask List my domains")
        assert status == 200 and body == {}
        await h.settle()
        question = h.api.bot_messages("C1")[0]
        assert question.text == "<@UADMIN> asked: List my domains"
        [answer] = h.api.bot_messages("C1", question.ts)
        assert "domain" in answer.text


async def test_ask_where_the_bot_cannot_post_answers_privately(sqlite_url):
    async with slack_app(sqlite_url) as h:
        h.api.fail("chat.postMessage", "not_in_channel")
        await command(h, "ask List my domains")
        await h.settle()
        [response] = h.api.responses
        assert response["response_type"] == "ephemeral"
        assert "domain" in response["text"]


async def test_usage_and_link_answer_privately(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await command(h, "usage")
        await command(h, "link <@UNEW|newbie> <mailto:devon@acme.example|devon@acme.example>")
        await h.settle()
        texts = [r["text"] for r in h.api.responses]
        assert any("Your usage this month" in t for t in texts)
        assert any(t.startswith(f"Linked slack:{TEAM}:UNEW") for t in texts)
        assert await h.rt.store.links.get(f"slack:{TEAM}:UNEW")


async def test_link_needs_ai_full(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await command(h, "link <@UNEW> devon@acme.example", user="UDEV")
        await h.settle()
        assert "ai:full" in h.api.responses[0]["text"]
        assert await h.rt.store.links.get(f"slack:{TEAM}:UNEW") is None


async def test_home_tab_shows_usage_and_prompt_buttons(sqlite_url):
    async with slack_app(sqlite_url) as h:
        opened = {"type": "app_home_opened", "user": "UADMIN", "channel": "D1", "tab": "home"}
        assert (await h.send(event_envelope(opened)))[0] == 200
        await h.settle()
        [publish] = h.api.calls_of("views.publish")
        view = (
            json.loads(publish.args["view"])
            if isinstance(publish.args["view"], str)
            else publish.args["view"]
        )
        assert publish.args["user_id"] == "UADMIN"
        assert any(
            "Your usage this month" in (b.get("text") or {}).get("text", "") for b in view["blocks"]
        )

        press = {"type": "button", "action_id": "ask_prompt_0", "value": "List my databases"}
        payload = block_action(
            press, user="UADMIN", channel=None, view={"id": "V1", "type": "home"}
        )
        await h.send(payload, form=True)
        await h.settle()
        assert h.api.calls_of("conversations.open")[0].args["users"] == "UADMIN"
        question = h.api.bot_messages("DADMIN")[0]
        [answer] = h.api.bot_messages("DADMIN", question.ts)
        assert "database" in answer.text


async def test_assistant_panel_sets_prompts_and_answers_its_thread(sqlite_url):
    async with slack_app(sqlite_url, bind_channel=False) as h:
        started = {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": "UADMIN",
                "context": {"channel_id": "C1", "team_id": TEAM},
                "channel_id": "D1",
                "thread_ts": "20.1",
            },
            "event_ts": "20.2",
        }
        await h.send(event_envelope(started))
        await h.settle()
        [prompts] = h.api.calls_of("assistant.threads.setSuggestedPrompts")
        assert (prompts.args["channel_id"], prompts.args["thread_ts"]) == ("D1", "20.1")
        assert prompts.args["title"] and len(prompts.args["prompts"]) == 3

        asked = message(
            "List my servers",
            user="UADMIN",
            channel="D1",
            ts="20.3",
            thread_ts="20.1",
            channel_type="im",
        )
        await h.send(event_envelope(asked))
        await h.settle()
        [status] = h.api.calls_of("assistant.threads.setStatus")
        assert status.args["thread_ts"] == "20.1"
        [answer] = h.api.bot_messages("D1", "20.1")
        assert "acme-web-1" in answer.text


async def test_messages_tab_of_the_agent_experience_gets_prompts(sqlite_url):
    async with slack_app(sqlite_url) as h:
        opened = {"type": "app_home_opened", "user": "UADMIN", "channel": "D1", "tab": "messages"}
        await h.send(event_envelope(opened))
        await h.settle()
        [prompts] = h.api.calls_of("assistant.threads.setSuggestedPrompts")
        assert prompts.args["channel_id"] == "D1" and "thread_ts" not in prompts.args
        assert h.api.calls_of("views.publish") == []


async def test_bots_own_panel_messages_are_not_answered(sqlite_url):
    async with slack_app(sqlite_url) as h:
        own = message(
            "hi",
            user=BOT_USER,
            channel="D1",
            ts="30.2",
            thread_ts="30.1",
            channel_type="im",
            bot_id="BBOT",
        )
        await h.send(event_envelope(own))
        await h.settle()
        assert [c.method for c in h.api.calls if c.method != "auth.test"] == []


async def test_usage_for_an_admin_sends_the_chart_to_their_dm_only(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await command(h, "usage", user="UADMIN", channel="C1")
        await h.settle()
        [upload] = h.api.uploads.values()
        assert upload["content"].startswith(b"\x89PNG\r\n\x1a\n")
        assert upload["channel"] == "DADMIN"  # the asker's DM, not the channel C1
        assert upload["filename"].endswith(".png")


async def test_usage_for_a_member_has_no_org_chart(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await command(h, "usage", user="UDEV")
        await h.settle()
        assert any("Your usage this month" in r["text"] for r in h.api.responses)
        assert h.api.uploads == {}


async def test_budget_notice_reaches_admins_as_a_slack_dm(sqlite_url):
    async with slack_app(sqlite_url) as h:
        # An admin by email, one with no account in this workspace, and one on Discord.
        ids = [
            email_identity("ada@acme.example"),
            email_identity("nobody@elsewhere.example"),
            "discord:G1:U1",
        ]
        await h.rt.notifiers.notify_budget(ACME_ORG, ids, "Acme has used 80% of its budget")
        sent = [c.args for c in h.api.calls_of("chat.postMessage")]
        assert [(a["channel"], a["text"]) for a in sent] == [
            ("DADMIN", "Acme has used 80% of its budget")
        ]
