"""A test world: the fake Discord, a runtime over a throwaway database, and the real bot.

The guild is bound to the demo's Acme org, and its people are linked to demo users, both in
the guild and for DMs, the way an operator would with `bind` and `link`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import discord
from discord.gateway import DiscordWebSocket

from adapters.discord.client import StackDockBot
from adapters.stackdock.demo import DEMO_ORGS, DEMO_USERS
from bot.settings import Settings
from bot.wiring import Runtime, build_discord_bot, runtime
from core.models import Binding
from core.ports import Provider
from tests.fakes.services.discord_api import BOT_TOKEN, FakeDiscord, Guild, buttons_of


@dataclass
class DiscordWorld:
    """The fake Discord, a runtime over a throwaway database, and the bot between them."""

    fake: FakeDiscord
    rt: Runtime
    guild: Guild
    people: dict[str, dict[str, Any]]  # demo role -> a Discord user linked to that demo user
    bot: StackDockBot | None = None
    edit_interval: float = 1.0
    _task: asyncio.Task[None] | None = None

    def identity(self, who: str, *, dm: bool = False) -> str:
        return f"discord:{'@me' if dm else self.guild.id}:{self.people[who]['id']}"

    async def start_bot(self) -> StackDockBot:
        """Connects a new bot instance (a restart, when one ran before)."""
        self.bot = build_discord_bot(
            self.rt,
            api_url=self.fake.api_url,
            gateway_url=self.fake.gateway_url,
            edit_interval=self.edit_interval,
            guild_ready_timeout=0.05,
        )
        self._task = asyncio.create_task(self.bot.start(BOT_TOKEN))
        await self.fake.wait_connected()
        bot, guild_id = self.bot, int(self.guild.id)
        await self.fake.wait_for(lambda: bot.get_guild(guild_id), what="the guild in the cache")
        return self.bot

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self.bot = self._task = None

    def bot_messages(self, channel_id: str) -> list[dict[str, Any]]:
        """What the bot shows in a channel now, oldest first (deleted messages are gone)."""
        return [
            m
            for m in self.fake.messages.values()
            if m["channel_id"] == channel_id and m["author"]["id"] == self.fake.bot["id"]
        ]

    async def wait_answered(self, channel_id: str, within_s: float = 15) -> list[dict[str, Any]]:
        """Waits until the bot's last message in a channel carries feedback buttons."""

        def done() -> list[dict[str, Any]] | None:
            shown = self.bot_messages(channel_id)
            # Feedback, not Stop: the answer is finished (buttons may sit inside a V2 card).
            done = shown and any(b.startswith("sd:feedback:") for b in buttons_of(shown[-1]))
            return shown if done else None

        return await self.fake.wait_for(done, within_s, what=f"an answer in {channel_id}")


@contextlib.asynccontextmanager
async def discord_world(
    database_url: str, *, providers: Sequence[Provider] | None = None, **settings: Any
) -> AsyncIterator[DiscordWorld]:
    """A bound guild whose people are linked to the demo users; yields a DiscordWorld."""
    saved = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    await fake.start()
    options = {"ai_provider": "offline", "database_url": database_url, **settings}
    try:
        async with runtime(Settings(_env_file=None, **options), providers=providers) as rt:
            guild = fake.add_guild()
            await rt.store.bindings.set(Binding(f"discord:{guild.id}", DEMO_ORGS["acme"]))
            people = {}
            for role in ("admin", "developer"):
                person = fake.user(fake.new_id(), role)
                people[role] = person
                for where in (guild.id, "@me"):
                    await rt.store.links.set(f"discord:{where}:{person['id']}", DEMO_USERS[role])
            people["stranger"] = fake.user(fake.new_id(), "stranger")
            world = DiscordWorld(fake, rt, guild, people)
            try:
                yield world
            finally:
                await world.stop_bot()
    finally:
        await fake.stop()
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
