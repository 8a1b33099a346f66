"""`/stackdock link` against a hostile org admin, through the fake Discord and the real bot.

A link may only join a member of the server the command came from to a StackDock user of the
org bound to that server; nobody re-links themselves or anyone linked outside that org; every
attempt is audited (action ai.link). The rules are the core's (AssistantService.link).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.stackdock.demo import DEMO_USERS
from tests.fakes.services.discord_api import slash_command, string_option
from tests.harness.discord_world import DiscordWorld, discord_world

EPHEMERAL = 64


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[DiscordWorld]:
    async with discord_world(sqlite_url) as w:
        await w.start_bot()
        yield w


def newcomer(world: DiscordWorld, name: str) -> dict[str, Any]:
    return world.fake.user(world.fake.new_id(), name)


async def link(
    world: DiscordWorld, who: str, person: dict[str, Any], ref: str, *, in_server: bool = True
) -> str:
    """`who` runs `/stackdock link member:person user:ref`; returns the private reply.

    Discord resolves the member option with a `members` entry only for people in the server.
    """
    resolved: dict[str, Any] = {"users": {person["id"]: person}}
    if in_server:
        member = {k: v for k, v in world.fake.member(person).items() if k != "user"}
        resolved["members"] = {person["id"]: member}
    options = [{"name": "member", "type": 6, "value": person["id"]}, string_option("user", ref)]
    interaction = await world.fake.interact(
        world.people[who],
        world.guild.channel_id,
        type=2,
        data=slash_command("link", options, resolved=resolved),
    )
    [sent] = await world.fake.wait_for(
        lambda: world.fake.followups(interaction), what="the link reply"
    )
    assert sent.body["flags"] == EPHEMERAL, "link replies are private"
    return sent.body["content"]


def here(world: DiscordWorld, person: dict[str, Any]) -> str:
    return f"discord:{world.guild.id}:{person['id']}"


async def link_audit(world: DiscordWorld) -> list[tuple[str, str | None]]:
    return [
        (r.result.value, r.reason)
        async for r in world.rt.store.audit.iter()
        if r.action == "ai.link"
    ]


async def test_an_admin_cannot_link_anyone_to_a_user_of_another_org(world: DiscordWorld) -> None:
    person = newcomer(world, "newcomer")
    said = await link(world, "admin", person, DEMO_USERS["globex_admin"])
    assert "No member of" in said
    globex_admin = world.rt.mirror.user_by_email(DEMO_USERS["globex_admin"])
    said = await link(world, "admin", person, str(globex_admin["_id"]))  # by id, not email
    assert "No member of" in said
    assert await world.rt.store.links.get(here(world, person)) is None
    assert await link_audit(world) == [("denied", "no_such_member")] * 2


async def test_an_admin_cannot_relink_themselves_even_within_their_org(
    world: DiscordWorld,
) -> None:
    admin = world.people["admin"]
    for ref in (DEMO_USERS["globex_admin"], DEMO_USERS["support"]):
        assert "can't re-link yourself" in await link(world, "admin", admin, ref)
    assert await world.rt.store.links.get(here(world, admin)) == DEMO_USERS["admin"]
    assert await link_audit(world) == [("denied", "link_self")] * 2


async def test_nobody_linked_to_another_orgs_user_is_relinked(world: DiscordWorld) -> None:
    person = newcomer(world, "grace")
    # An operator linked this member to Globex's admin; an Acme admin must not take them over.
    await world.rt.store.links.set(here(world, person), DEMO_USERS["globex_admin"])
    said = await link(world, "admin", person, DEMO_USERS["support"])
    assert "already linked to someone outside" in said
    assert await world.rt.store.links.get(here(world, person)) == DEMO_USERS["globex_admin"]
    assert await link_audit(world) == [("denied", "linked_elsewhere")]


async def test_someone_who_is_not_in_the_server_is_not_linked(world: DiscordWorld) -> None:
    outsider = newcomer(world, "outsider")
    said = await link(world, "admin", outsider, DEMO_USERS["support"], in_server=False)
    assert "Linked" not in said
    for where in (world.guild.id, "@me"):
        assert await world.rt.store.links.get(f"discord:{where}:{outsider['id']}") is None
    assert await link_audit(world) == [("denied", "bad_link")]


async def test_a_permitted_link_is_audited_with_whom_it_linked(world: DiscordWorld) -> None:
    person = newcomer(world, "sam")
    said = await link(world, "admin", person, DEMO_USERS["support"])
    assert said.startswith("Linked") and here(world, person) in said
    support = world.rt.mirror.user_by_email(DEMO_USERS["support"])
    assert await world.rt.store.links.get(here(world, person)) == str(support["_id"])
    [row] = [r async for r in world.rt.store.audit.iter()]
    assert (row.action, row.result.value, row.identity) == (
        "ai.link",
        "answered",
        world.identity("admin"),
    )
    assert row.metadata["target"] == here(world, person)
