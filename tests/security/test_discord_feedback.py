"""Only the person who asked a question can rate its answer, whoever presses its buttons.

A button's custom_id names the audit row, and anyone in the thread can press it (or forge
one naming any row); the core stores a rating only from the asker of that row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from adapters.store.database import create_engine
from adapters.store.tables import audit_feedback
from tests.fakes.services.discord_api import button_of, buttons_of
from tests.harness.discord_world import DiscordWorld, discord_world

EPHEMERAL = 64


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[DiscordWorld]:
    async with discord_world(sqlite_url) as w:
        w.edit_interval = 0.25
        await w.start_bot()
        yield w


async def answered(world: DiscordWorld, who: str, question: str) -> tuple[str, dict]:
    """`who` asks by mention; returns the thread and the answer carrying the buttons."""
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people[who], question, mention_bot=True
    )
    return asked["id"], (await world.wait_answered(asked["id"]))[-1]


async def press(world: DiscordWorld, who: str, where: str, message: dict, custom_id: str) -> str:
    interaction = await world.fake.interact(
        world.people[who],
        where,
        type=3,
        data={"custom_id": custom_id, "component_type": 2},
        message=message,
    )
    [sent] = await world.fake.wait_for(
        lambda: world.fake.followups(interaction), what="the reply to a press"
    )
    assert sent.body["flags"] == EPHEMERAL
    return sent.body["content"]


async def votes(sqlite_url: str) -> list[tuple[int, str, int]]:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(audit_feedback))).all()
    finally:
        await engine.dispose()
    return [(r.audit_id, r.identity, r.value) for r in rows]


async def test_someone_else_pressing_the_askers_buttons_is_refused(
    world: DiscordWorld, sqlite_url: str
) -> None:
    thread, answer = await answered(world, "admin", "List my domains")
    up, down = buttons_of(answer)
    for who in ("developer", "stranger"):
        assert "only the person who asked" in await press(world, who, thread, answer, down)
    assert await votes(sqlite_url) == []

    assert "Thanks" in await press(world, "admin", thread, answer, up)
    [row] = [r async for r in world.rt.store.audit.iter()]
    assert await votes(sqlite_url) == [(row.id, world.identity("admin"), 1)]


async def test_a_forged_button_naming_another_askers_answer_is_refused(
    world: DiscordWorld, sqlite_url: str
) -> None:
    _, admins = await answered(world, "admin", "List my domains")
    thread, own = await answered(world, "developer", "List my databases")
    admins_row = buttons_of(admins)[0].split(":")[2]
    forged = f"sd:feedback:{admins_row}:down"
    # What a modified client sends: the developer's own answer, its button's id rewritten.
    button = {**button_of(own, buttons_of(own)[0]), "custom_id": forged}
    tampered = {**own, "components": [{"type": 1, "components": [button]}]}
    said = await press(world, "developer", thread, tampered, forged)
    assert "only the person who asked" in said
    assert await votes(sqlite_url) == []
