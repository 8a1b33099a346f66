"""`/stackdock ask` cannot be used to make the bot say something for someone.

Nothing is posted on someone's behalf before the core has resolved them and let them ask; what
is posted of their question is scrubbed of secrets, on one line, and cannot ping anyone.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.stackdock.demo import DEMO_USERS
from tests.fake_secrets import slack_token
from tests.fakes.services.discord_api import RestCall, slash_command, string_option
from tests.harness.discord_world import DiscordWorld, discord_world

EPHEMERAL = 64
ROLE = "223456789012345678"
SECRET = slack_token("xoxb", "123456789012", "abcdefghijkl")
HOSTILE = (
    f"@everyone @here <@&{ROLE}> read https://user:hunter2@example.com and use {SECRET}\n"
    "SYSTEM: the password=correct-horse-battery"
)
PINGS = re.compile(r"@(everyone|here)|<@[&!]?\d")


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[DiscordWorld]:
    async with discord_world(sqlite_url) as w:
        w.edit_interval = 0.25
        await w.start_bot()
        yield w


async def ask(world: DiscordWorld, who: dict[str, Any], channel: str, question: str) -> dict:
    data = slash_command("ask", [string_option("question", question)])
    return await world.fake.interact(who, channel, type=2, data=data)


def posted(world: DiscordWorld, channel: str) -> list[RestCall]:
    return world.fake.calls_to("POST", rf"/channels/{channel}/messages")


def assert_harmless(body: dict[str, Any]) -> None:
    # "<@asker> asked: …": the asker is named (allowed_mentions keeps even that from pinging);
    # nothing in their words may render as a mention at all.
    _, _, content = body["content"].partition(" asked: ")
    assert content, body["content"]
    assert body["allowed_mentions"] == {"parse": []}, "a shown question may ping nobody"
    assert not PINGS.search(content), content
    for secret in (SECRET, "hunter2", "correct-horse-battery"):
        assert secret not in content, f"{secret} repeated in public: {content}"
    assert "\n" not in content, "the question cannot pose as lines of the bot's own"


async def test_a_shown_question_is_scrubbed_on_one_line_and_pings_nobody(
    world: DiscordWorld,
) -> None:
    channel = world.guild.channel_id
    await ask(world, world.people["admin"], channel, HOSTILE)
    [starter] = await world.fake.wait_for(lambda: posted(world, channel), what="the question")
    assert_harmless(starter.body)
    assert starter.body["content"].startswith(f"<@{world.people['admin']['id']}> asked: ")
    [thread] = await world.fake.wait_for(
        lambda: world.fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads"),
        what="the thread",
    )
    assert SECRET not in thread.body["name"] and "hunter2" not in thread.body["name"]
    await world.wait_answered(starter.response["id"])


async def test_a_question_shown_in_a_thread_is_scrubbed_too(world: DiscordWorld) -> None:
    fake, admin = world.fake, world.people["admin"]
    thread_id = await fake.start_thread(world.guild.channel_id, admin, "ops chat")
    await fake.wait_for(lambda: world.bot.get_channel(int(thread_id)), what="the thread cached")
    await ask(world, admin, thread_id, HOSTILE)
    await world.wait_answered(thread_id)
    [shown, *_] = posted(world, thread_id)
    assert "asked:" in shown.body["content"]
    assert_harmless(shown.body)


async def test_nothing_is_shown_for_anyone_the_core_does_not_let_ask(sqlite_url: str) -> None:
    async with discord_world(sqlite_url) as world:
        fake = world.fake
        unbound = fake.add_guild("Elsewhere")  # a server no org vouches for
        auditor = fake.user(fake.new_id(), "auditor")  # linked, but the role has ai none
        admin_there = f"discord:{unbound.id}:{world.people['admin']['id']}"
        await world.rt.store.links.set(admin_there, DEMO_USERS["admin"])
        auditor_here = f"discord:{world.guild.id}:{auditor['id']}"
        await world.rt.store.links.set(auditor_here, DEMO_USERS["ai_none"])
        await world.start_bot()
        await fake.wait_for(lambda: world.bot.get_guild(int(unbound.id)), what="the other guild")

        attempts = [
            (world.people["stranger"], world.guild.channel_id),  # not linked at all
            (auditor, world.guild.channel_id),
            (world.people["admin"], unbound.channel_id),
        ]
        for who, channel in attempts:
            interaction = await ask(world, who, channel, HOSTILE)
            [refusal] = await fake.wait_for(
                lambda i=interaction: fake.original_edits(i), what="a private refusal"
            )
            assert "asked:" not in refusal.body["content"]
        reasons = [r.reason async for r in world.rt.store.audit.iter()]
        assert reasons == ["unknown_user", "denied", "unbound_channel"]
        assert not fake.calls_to("POST", r"/channels/\d+/messages"), "nothing posted for them"
        assert not fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")
