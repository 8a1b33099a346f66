"""Stop, on Discord: the button on an answer being written stops it within a second, keeps what
was shown with "Stopped.", and the question's audit row says `cancelled` with its tokens."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.models import ChatMessage, TextDelta, ToolCall, ToolSpec, TurnEnd, Usage
from core.ports import Provider
from tests.fakes.services.discord_api import buttons_of, text_of
from tests.harness.discord_world import DiscordWorld, discord_world

EPHEMERAL = 64
DEFERRED_UPDATE = 6

MakeWorld = Callable[[Provider], Awaitable[DiscordWorld]]


@pytest.fixture
async def world_with(sqlite_url: str) -> AsyncIterator[MakeWorld]:
    async with contextlib.AsyncExitStack() as stack:

        async def make(model: Provider) -> DiscordWorld:
            w = await stack.enter_async_context(discord_world(sqlite_url, providers=[model]))
            w.edit_interval = 1.0  # the bot's own pace: Stop must not wait on it
            await w.start_bot()
            return w

        yield make


@dataclass
class LooksThenTalksSlowly:
    """A finished first turn (a tool call, whose tokens are spent), then slow text."""

    gap_s: float = 0.3
    name: str = "slow"
    model: str = "slow-1"
    cancelled: list[bool] = field(default_factory=list)

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        if messages[-1].role != "tool":
            call = ToolCall("c1", "count_resources", {"kind": "servers"})
            yield TurnEnd((call,), Usage(self.name, self.model, 120, 30), "tool_use")
            return
        try:
            for i in range(40):
                yield TextDelta(f"Line {i} of a long explanation.\n")
                await asyncio.sleep(self.gap_s)
        except asyncio.CancelledError:
            self.cancelled.append(True)
            raise
        yield TurnEnd((), Usage(self.name, self.model, 200, 400))


def stop_button(message: dict[str, Any]) -> str | None:
    return next((b for b in buttons_of(message) if b.startswith("sd:stop:")), None)


async def writing(world: DiscordWorld, thread: str) -> dict[str, Any]:
    """The answer's message once a few lines of it are on screen, Stop beside them."""

    def shown() -> dict[str, Any] | None:
        messages = world.bot_messages(thread)
        last = messages[-1] if messages else None
        return last if last and "Line 2" in text_of(last) and stop_button(last) else None

    return await world.fake.wait_for(shown, what="the answer being written")


async def press(world: DiscordWorld, who: str, thread: str, message: dict[str, Any]) -> dict:
    custom_id = stop_button(message)
    assert custom_id == f"sd:stop:discord:thread:{thread}"
    return await world.fake.interact(
        world.people[who],
        thread,
        type=3,
        data={"custom_id": custom_id, "component_type": 2},
        message=message,
    )


async def test_stop_ends_the_answer_within_a_second_and_records_it_cancelled(
    world_with: MakeWorld,
) -> None:
    model = LooksThenTalksSlowly()
    world = await world_with(model)
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "Explain my servers", mention_bot=True
    )
    thread = asked["id"]
    message = await writing(world, thread)
    seen = text_of(message).split("\n\n-# ")[0]  # the answer so far, without its tool steps

    pressed_at = time.monotonic()
    interaction = await press(world, "admin", thread, message)

    def stopped() -> dict[str, Any] | None:
        last = world.bot_messages(thread)[-1]
        return last if text_of(last).endswith("Stopped.") else None

    final = await world.fake.wait_for(stopped, within_s=3, what="the answer stopped")
    assert time.monotonic() - pressed_at < 1.0, "stopped and shown within a second"
    assert text_of(final).startswith(seen), "what was shown stays"
    assert not buttons_of(final), "no Stop left, and a cut answer is not rated"
    [callback] = world.fake.calls_to("POST", rf"/interactions/\d+/{interaction['token']}/callback")
    assert callback.body["type"] == DEFERRED_UPDATE, "the press just updates the answer"
    assert model.cancelled == [True], "the model call itself was cancelled"

    [row] = [r async for r in world.rt.store.audit.iter()]  # written before "Stopped." shows
    assert (row.result.value, row.reason) == ("cancelled", "stopped")
    assert (row.input_tokens, row.output_tokens) == (120, 30), "the finished turn's tokens"
    await asyncio.sleep(1.0)
    assert text_of(world.bot_messages(thread)[-1]) == text_of(final), "nothing written after"


async def test_only_the_asker_can_stop_an_answer(world_with: MakeWorld) -> None:
    world = await world_with(LooksThenTalksSlowly(gap_s=0.05))
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "Explain my servers", mention_bot=True
    )
    thread = asked["id"]
    interaction = await press(world, "developer", thread, await writing(world, thread))
    [said] = await world.fake.wait_for(
        lambda: world.fake.followups(interaction), what="the refusal"
    )
    assert said.body["flags"] == EPHEMERAL and "only the person who asked" in said.body["content"]
    answered = await world.wait_answered(thread)
    assert "Line 39" in text_of(answered[-1])
    [row] = [r async for r in world.rt.store.audit.iter()]
    assert row.result.value == "answered"
