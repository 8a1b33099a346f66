"""`stackdock-assistant slack`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on PORT.

Either way the health endpoints are served on PORT. On SIGTERM or SIGINT the bot stops taking
new events, then waits for the answers under way before it closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from adapters.slack.app import SlackBot, web_client
from adapters.slack.notices import SlackNotifier
from adapters.slack.transport import EVENTS_PATH, TimedSocketModeHandler, events_endpoint
from bot.http import add_health_routes
from bot.settings import Settings, SettingsError
from bot.wiring import runtime

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 25.0  # inside the 30 s Heroku and systemd give before SIGKILL


async def serve_slack(settings: Settings, port: int | None = None) -> int:
    if settings.slack_bot_token is None:
        raise SettingsError("SLACK_BOT_TOKEN: required for the slack command")
    socket_mode = settings.slack_app_token is not None
    if not socket_mode and settings.slack_signing_secret is None:
        raise SettingsError(
            "SLACK_SIGNING_SECRET: required for HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    port = port or settings.port
    async with runtime(settings) as rt:
        client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        secret = settings.slack_signing_secret
        bot = SlackBot(
            service=rt.service,
            client=client,
            signing_secret=secret.get_secret_value() if secret else "",
        )
        rt.notifiers.add(SlackNotifier(client, rt.mirror))
        web_app = web.Application()
        add_health_routes(web_app, rt)
        if not socket_mode:
            web_app.router.add_post(
                EVENTS_PATH,
                events_endpoint(
                    bot.app, bot.tasks, signing_secret=secret.get_secret_value() if secret else None
                ),
            )
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "0.0.0.0", port)  # Slack and health checks come from outside
        await site.start()
        handler = None
        if socket_mode:
            assert settings.slack_app_token is not None
            handler = TimedSocketModeHandler(
                bot.app,
                settings.slack_app_token.get_secret_value(),
                web_client=client,
                tasks=bot.tasks,
            )
            await handler.connect_async()
            log.info("Slack bot connected in Socket Mode; health on port %d", port)
        else:
            log.info("Slack bot listening on port %d (%s)", port, EVENTS_PATH)
        try:
            await _until_stopped()
        finally:
            log.info("stopping: no new events; waiting for %d answers", len(bot.tasks))
            if handler is not None:
                await handler.close_async()
            await site.stop()
            left = await bot.tasks.drain(DRAIN_TIMEOUT_S)
            if left:
                log.warning("%d answers did not finish in %.0f s", left, DRAIN_TIMEOUT_S)
            await runner.cleanup()
    return 0


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
