"""DMs that know you, and the places a user install reaches, through the real discord.py client.

A person linked in a server (only there) writes to the bot in a DM and is answered; the org of
a DM is asked once and remembered; a user install's `/stackdock ask` in a group DM or in a
server without the bot is answered privately, in the interaction's own ephemeral reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.stackdock.demo import DEMO_ORGS, DEMO_USERS
from core.models import Binding
from tests.fakes.services.discord_api import (
    buttons_of,
    is_card,
    slash_command,
    string_option,
    text_of,
)
from tests.harness.discord_world import DiscordWorld, discord_world

EPHEMERAL = 64


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[DiscordWorld]:
    async with discord_world(sqlite_url) as w:
        w.edit_interval = 0.25
        await w.start_bot()
        yield w


async def server_linked(world: DiscordWorld, who: str) -> dict[str, Any]:
    """A new Discord person linked to a demo user in the world's server, and nowhere else."""
    person = world.fake.user(world.fake.new_id(), f"{who}-in-server")
    await world.rt.store.links.set(f"discord:{world.guild.id}:{person['id']}", DEMO_USERS[who])
    return person


async def dm_reply(world: DiscordWorld, person: dict[str, Any], text: str) -> dict[str, Any]:
    """`person` DMs the bot; returns the bot's last message in that DM once it has one more."""
    fake = world.fake
    dms = (c for c, d in fake.channels.items() if d["type"] == 1 and d["recipients"] == [person])
    dm = next(dms, None) or fake.dm_channel(person)
    before = len(world.bot_messages(dm))
    await fake.post_message(dm, person, text)
    await fake.wait_for(lambda: len(world.bot_messages(dm)) > before, what="a reply in the DM")
    # A reply is a message (refusals) or a finished card (answers carry feedback buttons).
    return (await _settled(world, dm))[-1]


async def _settled(world: DiscordWorld, channel: str) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        shown = world.bot_messages(channel)
        return shown if shown and "sd:stop:" not in " ".join(buttons_of(shown[-1])) else None

    return await world.fake.wait_for(done, what=f"a finished reply in {channel}")


async def audit_rows(world: DiscordWorld) -> list:
    return [r async for r in world.rt.store.audit.iter()]


async def test_a_person_linked_only_in_a_server_is_answered_in_dms(world: DiscordWorld) -> None:
    person = await server_linked(world, "admin")
    answer = await dm_reply(world, person, "How many servers do I have?")
    assert is_card(answer) and "8" in text_of(answer)
    assert any(b.startswith("sd:feedback:") for b in buttons_of(answer))
    [row] = await audit_rows(world)
    assert (row.identity, row.result.value, row.org_id, row.is_dm) == (
        f"discord:@me:{person['id']}",
        "answered",
        DEMO_ORGS["acme"],
        True,
    )


async def test_an_unknown_person_in_a_dm_gets_advice_that_works_in_discord(
    world: DiscordWorld,
) -> None:
    stranger = world.people["stranger"]
    refusal = text_of(await dm_reply(world, stranger, "List my servers"))
    assert f"discord:@me:{stranger['id']}" in refusal
    assert "server we share" in refusal
    assert "email matches" not in refusal and "Slack" not in refusal
    assert [r.reason for r in await audit_rows(world)] == ["unknown_user"]


async def test_the_org_of_a_dm_is_asked_once_and_remembered(world: DiscordWorld) -> None:
    rt = world.rt
    max_ = dict(rt.mirror.user_by_email(DEMO_USERS["both_orgs"]) or {})
    max_.pop("defaultOrgId")  # nothing to fall back on: Max must choose
    rt.mirror.apply("users", [max_], [], rt.mirror.as_of)  # type: ignore[arg-type]
    person = await server_linked(world, "both_orgs")
    await rt.store.links.set(f"discord:9000:{person['id']}", DEMO_USERS["both_orgs"])
    await rt.store.bindings.set(Binding("discord:9000", DEMO_ORGS["globex"]))

    asked = text_of(await dm_reply(world, person, "How many servers do I have?"))
    assert "Acme Cloud, Globex Labs" in asked and "Reply with just its name" in asked
    confirmed = text_of(await dm_reply(world, person, "Globex Labs"))
    assert "Globex Labs" in confirmed
    answer = await dm_reply(world, person, "How many servers do I have?")
    assert any(b.startswith("sd:feedback:") for b in buttons_of(answer))
    rows = await audit_rows(world)
    assert [(r.reason, r.org_id) for r in rows] == [
        ("choose_org", None),
        ("org_chosen", None),
        (None, DEMO_ORGS["globex"]),
    ]


def ask(question: str) -> dict[str, Any]:
    return slash_command("ask", [string_option("question", question)])


@pytest.mark.parametrize("where", ["group DM", "server without the bot"])
async def test_a_user_install_answers_privately_where_the_bot_cannot_post(
    world: DiscordWorld, where: str
) -> None:
    fake, person = world.fake, await server_linked(world, "admin")
    if where == "group DM":
        channel, context = fake.group_dm(person, world.people["developer"]), 2
    else:
        channel, context = fake.foreign_channel(), 0
    interaction = await fake.interact(
        person, channel, type=2, data=ask("How many servers do I have?"), context=context
    )
    token = interaction["token"]

    def finished() -> dict[str, Any] | None:
        shown = fake.webhook_messages.get(token)
        feedback = shown and any(b.startswith("sd:feedback:") for b in buttons_of(shown))
        return shown if feedback else None

    answer = await fake.wait_for(finished, what="the private answer")
    [callback] = fake.calls_to("POST", rf"/interactions/\d+/{token}/callback")
    assert callback.body["data"]["flags"] == EPHEMERAL, "only the asker sees it"
    assert "8" in text_of(answer) and is_card(answer)
    assert not fake.calls_to("POST", r"/channels/\d+/messages"), "nothing posted in the channel"
    [row] = await audit_rows(world)
    assert (row.identity, row.is_dm, row.result.value) == (
        f"discord:@me:{person['id']}",
        True,
        "answered",
    )
