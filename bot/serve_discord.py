"""`stackdock-assistant discord`: the gateway bot, plus the health endpoints on HOST:PORT.

On SIGTERM or SIGINT the bot stops taking questions, waits for the answers under way, then
disconnects and closes the database (bot/serving.py).
"""

from __future__ import annotations

import asyncio
import logging
import sys

import discord

from adapters.discord.client import StackDockBot
from bot.http import health_app
from bot.serving import serve, stopping_on_signals
from bot.settings import Settings, SettingsError
from bot.wiring import build_discord_bot, runtime

log = logging.getLogger(__name__)


class DiscordConnection:
    """The shell's view of the Discord bot: one gateway connection."""

    def __init__(self, bot: StackDockBot, token: str) -> None:
        self.bot = bot
        self._token = token

    async def run(self) -> None:
        await self.bot.start(self._token)  # returns once the bot is closed

    async def problem(self) -> str | None:
        """For /readyz: questions only arrive while the gateway session is up."""
        return (
            None if self.bot.is_ready() and not self.bot.is_closed() else "not connected to Discord"
        )

    async def stop_taking(self) -> None:
        """Nothing to do before the drain: the bot's drain is what refuses new questions."""

    def under_way(self) -> int:
        return self.bot.answers_under_way

    async def drain(self, within_s: float) -> int:
        return await self.bot.drain(within_s)

    async def close(self) -> None:
        await self.bot.close()


async def serve_discord(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    """Runs until `stop` is set (or a signal arrives); 0 on a clean stop, 1 if Discord refuses."""
    if settings.discord_token is None:
        raise SettingsError("DISCORD_TOKEN: required for the discord command")
    token = settings.discord_token.get_secret_value()
    with stopping_on_signals(stop or asyncio.Event()) as stop:
        async with runtime(settings) as rt:
            bot = build_discord_bot(
                rt, api_url=settings.discord_api_url, gateway_url=settings.discord_gateway_url
            )
            connection = DiscordConnection(bot, token)
            rt.ready_checks.append(connection.problem)
            try:
                await serve(
                    connection, health_app(rt), host=settings.host, port=settings.port, stop=stop
                )
            except discord.LoginFailure:
                print("stackdock-assistant: Discord rejected DISCORD_TOKEN", file=sys.stderr)
                return 1
            except discord.PrivilegedIntentsRequired:
                print(
                    "stackdock-assistant: switch on the Message Content intent for this bot in the "
                    "Discord Developer Portal (Bot → Privileged Gateway Intents)",
                    file=sys.stderr,
                )
                return 1
    return 0
