"""`stackdock-assistant discord`: the gateway bot, plus the health endpoints on PORT.

On SIGTERM or SIGINT the bot stops taking questions, waits for the answers under way, then
disconnects and closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

import discord
from aiohttp import web

from adapters.discord.client import StackDockBot
from adapters.discord.notices import DiscordNotifier
from bot.http import add_health_routes
from bot.settings import Settings, SettingsError
from bot.wiring import runtime

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 25.0  # inside the 30 s Heroku and systemd give before SIGKILL


async def serve_discord(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    """Runs until `stop` is set (or a signal arrives); 0 on a clean stop, 1 if Discord refuses."""
    if settings.discord_token is None:
        raise SettingsError("DISCORD_TOKEN: required for the discord command")
    token = settings.discord_token.get_secret_value()
    stop = stop or asyncio.Event()
    async with runtime(settings) as rt:
        bot = StackDockBot(
            rt.service,
            api_url=settings.discord_api_url,
            gateway_url=settings.discord_gateway_url,
        )
        rt.notifiers.add(DiscordNotifier(bot, rt.store, rt.mirror))
        health = web.Application()
        add_health_routes(health, rt)
        runner = web.AppRunner(health, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "0.0.0.0", settings.port)  # probes come from outside
        await site.start()
        try:
            with _stopping_on_signals(stop):
                return await _run(bot, token, stop)
        finally:
            await runner.cleanup()


async def _run(bot: StackDockBot, token: str, stop: asyncio.Event) -> int:
    async with bot:
        connection = asyncio.create_task(bot.start(token))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({connection, stopped}, return_when=asyncio.FIRST_COMPLETED)
        try:
            if connection.done():
                connection.result()  # raises why Discord let us go
                return 0
            log.info("stopping: no new questions; waiting for %d answers", bot.answers_under_way)
            left = await bot.drain(DRAIN_TIMEOUT_S)
            if left:
                log.warning("%d answers did not finish in %.0f s", left, DRAIN_TIMEOUT_S)
            await bot.close()
            await asyncio.gather(connection, return_exceptions=True)
            return 0
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
        finally:
            stopped.cancel()


@contextlib.contextmanager
def _stopping_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
