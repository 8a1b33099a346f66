"""Answers as Components V2 cards: 4,000 characters a message, buttons inside the card, and a
clean fall back to plain messages where Discord refuses the flag. The fake holds the bot to
Discord's own V2 rules, so a card it accepts is one Discord would accept."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import discord
import pytest

from adapters.discord.cards import CARD_TEXT_LIMIT, card
from core.models import ChatMessage, TextDelta, ToolSpec, TurnEnd, Usage
from core.ports import Provider
from tests.fakes.services.discord_api import CONTENT_LIMIT, buttons_of, is_card, text_of
from tests.harness.discord_world import DiscordWorld, discord_world

CONTAINER, TEXT_DISPLAY, ACTION_ROW = 17, 10, 1

MakeWorld = Callable[[Provider], Awaitable[DiscordWorld]]


@pytest.fixture
async def world_with(sqlite_url: str) -> AsyncIterator[MakeWorld]:
    async with contextlib.AsyncExitStack() as stack:

        async def make(model: Provider) -> DiscordWorld:
            w = await stack.enter_async_context(discord_world(sqlite_url, providers=[model]))
            w.edit_interval = 0.25
            await w.start_bot()
            return w

        yield make


@dataclass
class Says:
    """A model that says `text` in pieces of a few hundred characters."""

    text: str
    name: str = "says"
    model: str = "says-1"

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        for i in range(0, len(self.text), 400):
            await asyncio.sleep(0.01)
            yield TextDelta(self.text[i : i + 400])
        yield TurnEnd((), Usage(self.name, self.model, 10, 10))


def answer_of(length: int) -> str:
    lines = [f"- `server-{i:03d}` is up, patched and backed up nightly." for i in range(200)]
    text = "\n".join(lines)
    return text[: text.rfind("\n", 0, length)]


async def test_a_3500_character_answer_is_one_card_with_its_buttons_inside(
    world_with: MakeWorld,
) -> None:
    text = answer_of(3560)
    assert 3450 < len(text) <= 3560
    world = await world_with(Says(text))
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "Status of everything", mention_bot=True
    )
    [shown] = await world.wait_answered(asked["id"])
    assert is_card(shown) and shown["content"] == ""
    assert text_of(shown) == text
    [box] = shown["components"]
    assert box["type"] == CONTAINER
    assert [c["type"] for c in box["components"]] == [TEXT_DISPLAY, ACTION_ROW]
    feedback = buttons_of(shown)
    assert len(feedback) == 2 and all(b.startswith("sd:feedback:") for b in feedback)
    sends = world.fake.calls_to("POST", rf"/channels/{asked['id']}/messages")
    assert len(sends) == 1 and all(c.status < 300 for c in world.fake.calls)


async def test_without_components_v2_the_same_answer_falls_back_to_plain_messages(
    world_with: MakeWorld,
) -> None:
    text = answer_of(3560)
    world = await world_with(Says(text))
    world.fake.components_v2 = False
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "Status of everything", mention_bot=True
    )
    shown = await world.wait_answered(asked["id"])
    assert len(shown) == 2 and not any(is_card(m) for m in shown)
    assert all(len(m["content"]) <= CONTENT_LIMIT for m in shown)
    assert "\n".join(m["content"] for m in shown).split() == text.split()
    [refused] = [c for c in world.fake.calls if c.status == 400]
    assert refused.body["flags"] & (1 << 15), "only the card was refused"
    # Refused once, cards stay off in this process: the next answer goes plain at once.
    again = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "Status again", mention_bot=True
    )
    await world.wait_answered(again["id"])
    assert len([c for c in world.fake.calls if c.status == 400]) == 1


async def test_the_fake_holds_cards_to_discords_rules(world_with: MakeWorld) -> None:
    world = await world_with(Says("hi"))
    assert world.bot is not None
    channel = world.bot.get_channel(int(world.guild.channel_id))
    assert isinstance(channel, discord.TextChannel)
    over = card("x" * (CARD_TEXT_LIMIT + 1), [])
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send(view=over)
    assert too_long.value.status == 400 and too_long.value.code == 50035
    with pytest.raises(discord.HTTPException) as with_content:
        await channel.send("content too", view=card("text", []))
    assert with_content.value.status == 400
    sent = await channel.send(view=card("x" * CARD_TEXT_LIMIT, []))
    with pytest.raises(discord.HTTPException):
        await sent.edit(content="a card never takes content")
    # A layout component without the flag, sent as a raw request (discord.py would add it).
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=channel.id)
    box = {"type": CONTAINER, "components": [{"type": TEXT_DISPLAY, "content": "hi"}]}
    with pytest.raises(discord.HTTPException) as unflagged:
        await world.bot.http.request(route, json={"components": [box]})
    assert unflagged.value.status == 400
