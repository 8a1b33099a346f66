"""`/stackdock` commands, their autocomplete, and the buttons: against the fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.stackdock.demo import DEMO_ORGS, DEMO_USERS
from adapters.store.database import create_engine
from adapters.store.tables import audit_feedback
from core.instructions import MAX_INSTRUCTIONS_CHARS
from core.models import MAX_QUESTION_CHARS, Inbound
from core.prompts import HELP_TEXT, TOPICS, suggested_prompts
from tests.fakes.services.discord_api import RestCall, button_of, buttons_of, text_of
from tests.harness.discord_world import DiscordWorld, discord_world

EPHEMERAL = 64


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[DiscordWorld]:
    async with discord_world(sqlite_url) as w:
        w.edit_interval = 0.25  # pacing has its own tests; these need not wait a second
        await w.start_bot()
        yield w


def command(sub: str, options: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    return {
        "id": "1",
        "name": "stackdock",
        "type": 1,
        "options": [{"name": sub, "type": 1, "options": options or []}],
        **extra,
    }


def text_option(name: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": 3, "value": value, **extra}


def callback(world: DiscordWorld, interaction: dict) -> RestCall:
    [call] = world.fake.calls_to(
        "POST", rf"/interactions/{interaction['id']}/{interaction['token']}/callback"
    )
    assert call.query == {"with_response": "1"}
    return call


def followups(world: DiscordWorld, interaction: dict) -> list[RestCall]:
    return world.fake.calls_to("POST", rf"/webhooks/\d+/{interaction['token']}")


def original_edits(world: DiscordWorld, interaction: dict) -> list[RestCall]:
    return world.fake.calls_to("PATCH", rf"/webhooks/\d+/{interaction['token']}/messages/@original")


async def run_command(
    world: DiscordWorld, who: str, data: dict, channel: str | None = None
) -> tuple[dict, RestCall]:
    """Uses a command and waits for its one follow-up."""
    interaction = await world.fake.interact(
        world.people[who], channel or world.guild.channel_id, type=2, data=data
    )
    [sent] = await world.fake.wait_for(lambda: followups(world, interaction), what="a follow-up")
    return interaction, sent


async def test_ask_defers_then_answers_in_a_thread_on_a_message_showing_the_question(
    world: DiscordWorld,
) -> None:
    fake, channel = world.fake, world.guild.channel_id
    question = "How many servers do I have?"
    interaction = await fake.interact(
        world.people["admin"],
        channel,
        type=2,
        data=command("ask", [text_option("question", question)]),
    )
    pointer = await fake.wait_for(
        lambda: [
            e for e in original_edits(world, interaction) if "Answering in" in e.body["content"]
        ],
        what="the pointer to the thread",
    )
    deferred = callback(world, interaction).body
    assert deferred == {"type": 5, "data": {"flags": EPHEMERAL}}
    [starter] = world.bot_messages(channel)
    assert starter["content"] == f"<@{world.people['admin']['id']}> asked: {question}"
    assert pointer[0].body["content"] == f"Answering in <#{starter['id']}>."
    shown = await world.wait_answered(starter["id"])
    assert "8" in text_of(shown[-1])
    assert fake.calls_to(
        "PUT", rf"/channels/{starter['id']}/thread-members/{world.people['admin']['id']}"
    )
    history = await world.rt.store.conversations.history(f"discord:thread:{starter['id']}", 4)
    assert history[0].content == question


async def test_ask_refusal_is_ephemeral_and_leaves_the_channel_untouched(
    world: DiscordWorld,
) -> None:
    interaction = await world.fake.interact(
        world.people["stranger"],
        world.guild.channel_id,
        type=2,
        data=command("ask", [text_option("question", "List my servers")]),
    )
    [edit] = await world.fake.wait_for(lambda: original_edits(world, interaction), what="a refusal")
    assert callback(world, interaction).body["data"]["flags"] == EPHEMERAL
    assert world.identity("stranger") in edit.body["content"] and "link" in edit.body["content"]
    assert not world.fake.calls_to("POST", r"/channels/\d+/messages")
    assert not world.fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")
    assert [r.reason async for r in world.rt.store.audit.iter()] == ["unknown_user"]


async def test_a_rate_limited_ask_is_refused_privately_and_its_shown_question_removed(
    sqlite_url: str,
) -> None:
    async with discord_world(sqlite_url, rate_limit_per_hour=1) as world:
        world.edit_interval = 0.2
        await world.start_bot()
        ask = command("ask", [text_option("question", "List my servers")])
        first = await world.fake.interact(
            world.people["admin"], world.guild.channel_id, type=2, data=ask
        )
        await world.fake.wait_for(lambda: len(original_edits(world, first)) == 1, what="answer")
        second = await world.fake.interact(
            world.people["admin"], world.guild.channel_id, type=2, data=ask
        )
        [edit] = await world.fake.wait_for(lambda: original_edits(world, second), what="refusal")
        assert callback(world, second).body["data"]["flags"] == EPHEMERAL
        results = [r.result.value async for r in world.rt.store.audit.iter()]
        assert results == ["answered", "rate_limited"]
        starters = world.fake.calls_to("POST", rf"/channels/{world.guild.channel_id}/messages")
        kept, refused = (c.response["id"] for c in starters)
        [deleted] = world.fake.calls_to("DELETE", r"/channels/\d+/messages/\d+")
        assert deleted.path.endswith(f"/messages/{refused}")
        assert [m["id"] for m in world.bot_messages(world.guild.channel_id)] == [kept]
        assert len(world.fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")) == 1
        assert "try again" in edit.body["content"].lower() or "limit" in edit.body["content"]


async def test_prompts_follow_up_with_a_button_per_suggested_question(world: DiscordWorld) -> None:
    interaction, sent = await run_command(
        world, "developer", command("prompts", [text_option("topic", "servers")])
    )
    assert callback(world, interaction).body == {"type": 5}  # public: others may press too
    buttons = [c for row in sent.body["components"] for c in row["components"]]
    assert [b["label"] for b in buttons] == suggested_prompts("servers")
    assert all(b["custom_id"].startswith("sd:prompt:") for b in buttons)
    assert sent.body["allowed_mentions"] == {"parse": []}

    _, general = await run_command(
        world, "developer", command("prompts", [text_option("topic", "@everyone")])
    )
    buttons = [c for row in general.body["components"] for c in row["components"]]
    assert [b["label"] for b in buttons] == suggested_prompts()
    assert (
        "No topic called" in general.body["content"] and "@everyone" not in general.body["content"]
    )


async def test_the_prompts_topic_autocompletes_from_the_catalogue(world: DiscordWorld) -> None:
    async def choices(typed: str) -> list[str]:
        focused = text_option("topic", typed, focused=True)
        interaction = await world.fake.interact(
            world.people["developer"],
            world.guild.channel_id,
            type=4,
            data=command("prompts", [focused]),
        )
        pattern = rf"/interactions/{interaction['id']}/{interaction['token']}/callback"
        [call] = await world.fake.wait_for(lambda: world.fake.calls_to("POST", pattern))
        assert call.body["type"] == 8
        return [c["value"] for c in call.body["data"]["choices"]]

    assert await choices("") == list(TOPICS)
    assert await choices("do") == ["domains"]
    assert await choices("WEB") == ["web-services"]


async def test_usage_is_private_and_says_what_the_core_says(world: DiscordWorld) -> None:
    interaction, sent = await run_command(world, "admin", command("usage"))
    assert callback(world, interaction).body["data"]["flags"] == EPHEMERAL
    assert sent.body["flags"] == EPHEMERAL
    expected = await world.rt.service.usage(
        Inbound(
            identity=world.identity("admin"),
            text="",
            platform="discord",
            workspace=world.guild.id,
            channel=world.guild.channel_id,
            is_dm=False,
        )
    )
    assert sent.body["content"] == expected.text
    assert "Acme" in sent.body["content"]
    # An admin (ai:full) also gets the org's chart, attached to the same private reply.
    [chart] = sent.files.values()
    assert chart.startswith(b"\x89PNG\r\n\x1a\n")


async def test_usage_for_a_member_has_no_chart(world: DiscordWorld) -> None:
    _, sent = await run_command(world, "developer", command("usage"))
    assert "Your usage this month" in sent.body["content"]
    assert sent.files == {}


async def test_an_admin_links_a_member_and_a_developer_may_not(world: DiscordWorld) -> None:
    newcomer = world.fake.user(world.fake.new_id(), "newcomer")
    resolved = {
        "users": {newcomer["id"]: newcomer},
        "members": {
            newcomer["id"]: {k: v for k, v in world.fake.member(newcomer).items() if k != "user"}
        },
    }

    def link(email: str) -> dict:
        member = {"name": "member", "type": 6, "value": newcomer["id"]}
        return command("link", [member, text_option("user", email)], resolved=resolved)

    target = f"discord:{world.guild.id}:{newcomer['id']}"
    _, refused = await run_command(world, "developer", link(DEMO_USERS["support"]))
    assert refused.body["flags"] == EPHEMERAL and "ai:full" in refused.body["content"]
    assert await world.rt.store.links.get(target) is None

    _, linked = await run_command(world, "admin", link(DEMO_USERS["support"]))
    assert linked.body["flags"] == EPHEMERAL and target in linked.body["content"]
    support = world.rt.mirror.user_by_email(DEMO_USERS["support"])
    assert await world.rt.store.links.get(target) == str(support["_id"])


async def test_help_is_private(world: DiscordWorld) -> None:
    interaction, sent = await run_command(world, "stranger", command("help"))
    assert callback(world, interaction).body["data"]["flags"] == EPHEMERAL
    assert sent.body == {**sent.body, "content": HELP_TEXT, "flags": EPHEMERAL}


async def test_a_prompt_button_still_asks_after_a_restart(world: DiscordWorld) -> None:
    fake = world.fake
    topic = command("prompts", [text_option("topic", "domains")])
    _, sent = await run_command(world, "admin", topic)
    prompts_message = sent.response
    button = prompts_message["components"][0]["components"][0]
    await world.stop_bot()
    await world.start_bot()  # a new process: nothing remembered but the custom_id

    press = await fake.interact(
        world.people["developer"],
        world.guild.channel_id,
        type=3,
        data={"custom_id": button["custom_id"], "component_type": 2},
        message=prompts_message,
    )
    [starter] = await fake.wait_for(
        lambda: [m for m in world.bot_messages(world.guild.channel_id) if "asked:" in m["content"]],
        what="the question shown",
    )
    assert callback(world, press).body == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert starter["content"].endswith(f"asked: {button['label']}")
    assert str(world.people["developer"]["id"]) in starter["content"]
    shown = await world.wait_answered(starter["id"])
    assert "domain" in text_of(shown[-1]).lower()
    [row] = [r async for r in world.rt.store.audit.iter()]
    assert row.identity == world.identity("developer") and row.result.value == "answered"


def button(message: dict) -> dict:
    return message["components"][0]["components"][0]


async def test_feedback_buttons_store_the_askers_vote_on_the_answer(
    world: DiscordWorld, sqlite_url: str
) -> None:
    fake = world.fake
    asked = await fake.post_message(
        world.guild.channel_id, world.people["admin"], "List my domains", mention_bot=True
    )
    answer = (await world.wait_answered(asked["id"]))[-1]
    up, down = buttons_of(answer)

    async def press(who: str, custom_id: str, message: dict = answer) -> str:
        interaction = await fake.interact(
            world.people[who],
            asked["id"],
            type=3,
            data={"custom_id": custom_id, "component_type": 2},
            message=message,
        )
        [sent] = await fake.wait_for(lambda: followups(world, interaction), what="thanks")
        assert sent.body["flags"] == EPHEMERAL
        return sent.body["content"]

    assert "Thanks" in await press("admin", down)
    assert "Thanks" in await press("admin", up)  # a change of mind replaces the vote
    gone = "sd:feedback:999999:up"  # an answer whose audit row does not exist
    stale = {
        **answer,
        "components": [{"type": 1, "components": [{**button_of(answer, up), "custom_id": gone}]}],
    }
    assert "couldn't" in await press("admin", gone, stale)

    [row] = [r async for r in world.rt.store.audit.iter()]
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            votes = (await conn.execute(sa.select(audit_feedback))).all()
    finally:
        await engine.dispose()
    assert [(v.audit_id, v.identity, v.value) for v in votes] == [
        (row.id, world.identity("admin"), 1)
    ]


async def test_ask_in_a_dm_answers_in_the_dm(world: DiscordWorld) -> None:
    dm = world.fake.dm_channel(world.people["developer"])
    interaction = await world.fake.interact(
        world.people["developer"],
        dm,
        type=2,
        data=command("ask", [text_option("question", "List my databases")]),
    )
    shown = await world.wait_answered(dm)
    assert shown[0]["content"].endswith("asked: List my databases")
    assert "database" in text_of(shown[-1]).lower()
    assert [e.body["content"] for e in original_edits(world, interaction)] == ["Answering below."]
    assert [r.identity async for r in world.rt.store.audit.iter()] == [
        world.identity("developer", dm=True)
    ]


async def test_link_from_a_dm_links_nobody(world: DiscordWorld) -> None:
    victim = world.fake.user(world.fake.new_id(), "victim")
    dm = world.fake.dm_channel(world.people["admin"])
    member = {"name": "member", "type": 6, "value": victim["id"]}
    data = command(
        "link",
        [member, text_option("user", DEMO_USERS["support"])],
        resolved={"users": {victim["id"]: victim}},
    )
    _, sent = await run_command(world, "admin", data, channel=dm)
    assert sent.body["flags"] == EPHEMERAL and "channel of your" in sent.body["content"]
    assert await world.rt.store.links.get(f"discord:@me:{victim['id']}") is None
    assert [(r.action, r.reason) async for r in world.rt.store.audit.iter()] == [
        ("ai.link", "link_in_dm")
    ]


async def test_ask_inside_an_answer_thread_continues_that_conversation(world: DiscordWorld) -> None:
    fake = world.fake
    asked = await fake.post_message(
        world.guild.channel_id, world.people["admin"], "List my domains", mention_bot=True
    )
    thread_id = asked["id"]
    await world.wait_answered(thread_id)
    interaction = await fake.interact(
        world.people["admin"],
        thread_id,
        type=2,
        data=command("ask", [text_option("question", "How many servers do I have?")]),
    )
    await fake.wait_for(lambda: len(world.bot_messages(thread_id)) == 3, what="asked + answer")
    shown = await world.wait_answered(thread_id)
    assert shown[1]["content"].endswith("asked: How many servers do I have?")
    assert [e.body["content"] for e in original_edits(world, interaction)] == ["Answering below."]
    assert len(fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")) == 1
    history = await world.rt.store.conversations.history(f"discord:thread:{thread_id}", 10)
    assert [m.content for m in history if m.role == "user"] == [
        "List my domains",
        "How many servers do I have?",
    ]


async def test_stackdock_is_registered_with_its_subcommands_installs_and_contexts(
    world: DiscordWorld,
) -> None:
    [sync] = world.fake.calls_to("PUT", r"/applications/\d+/commands")
    [group] = sync.body
    subcommands = {o["name"]: o for o in group["options"]}
    assert group["name"] == "stackdock"
    assert set(subcommands) == {
        "ask", "prompts", "usage", "link", "instructions", "alerts", "help"
    }  # fmt: skip
    [setting] = subcommands["alerts"]["options"]
    assert not setting.get("required")
    # Installed to a server or to a person; used in servers, the bot's DM and private channels.
    assert sorted(group["integration_types"]) == [0, 1]
    assert sorted(group["contexts"]) == [0, 1, 2]
    [words] = subcommands["instructions"]["options"]
    assert not words.get("required") and words["max_length"] == MAX_INSTRUCTIONS_CHARS
    [question] = subcommands["ask"]["options"]
    assert question["required"] and question["max_length"] == MAX_QUESTION_CHARS
    [topic] = subcommands["prompts"]["options"]
    assert topic["autocomplete"] and not topic.get("required")


async def test_budget_notice_reaches_linked_admins_as_one_dm_each(world: DiscordWorld) -> None:
    from adapters.discord.notices import DiscordNotifier

    assert world.bot is not None
    notifier = DiscordNotifier(world.bot)
    # The admin is linked in the guild and in DMs, and a Slack identity is not Discord's.
    identities = [world.identity("admin"), world.identity("admin", dm=True), "slack:T1:U1"]
    await notifier.notify_budget(DEMO_ORGS["acme"], identities, "Acme has used 80% of its budget")
    sends = [
        c
        for c in world.fake.calls
        if c.method == "POST"
        and c.path.endswith("/messages")
        and c.body
        and c.body.get("content") == "Acme has used 80% of its budget"
    ]
    assert len(sends) == 1, "one person, one DM"
    dm_channel = sends[0].path.split("/")[2]
    assert world.fake.channels[dm_channel]["type"] == 1
    assert world.fake.channels[dm_channel]["recipients"][0]["id"] == world.people["admin"]["id"]
    assert sends[0].body["allowed_mentions"] == {"parse": []}
