"""`stackdock-assistant slack`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on PORT.

Either way the health endpoints are served on HOST:PORT. On SIGTERM or SIGINT the bot stops
taking new events, then waits for the answers under way before it closes the database
(bot/serving.py).
"""

from __future__ import annotations

import asyncio
import logging

from adapters.slack.app import SlackBot, web_client
from adapters.slack.transport import TimedSocketModeHandler
from bot.serving import serve, stopping_on_signals
from bot.settings import Settings, SettingsError
from bot.wiring import build_slack_app, runtime

log = logging.getLogger(__name__)


class SlackConnection:
    """The shell's view of the Slack bot: over a Socket Mode websocket, or (without a handler)
    over HTTP, where events arrive on the listener the shell itself closes on stop."""

    def __init__(self, bot: SlackBot, handler: TimedSocketModeHandler | None = None) -> None:
        self.bot = bot
        self.handler = handler

    async def run(self) -> None:
        if self.handler is not None:
            await self.handler.connect_async()
            log.info("Slack bot connected in Socket Mode")
        await asyncio.Event().wait()  # Slack calls in from here on, until the shell stops us

    async def problem(self) -> str | None:
        """For /readyz: a Socket Mode bot that is not connected cannot be reached."""
        if self.handler is None or await self.handler.client.is_connected():
            return None
        return "not connected to Slack"

    async def stop_taking(self) -> None:
        if self.handler is not None and not self.handler.client.closed:
            await self.handler.close_async()

    def under_way(self) -> int:
        return len(self.bot.tasks)

    async def drain(self, within_s: float) -> int:
        return await self.bot.tasks.drain(within_s)

    async def close(self) -> None:
        await self.stop_taking()


async def serve_slack(settings: Settings, port: int | None = None) -> int:
    if settings.slack_bot_token is None:
        raise SettingsError("SLACK_BOT_TOKEN: required for the slack command")
    socket_mode = settings.slack_app_token is not None
    if not socket_mode and settings.slack_signing_secret is None:
        raise SettingsError(
            "SLACK_SIGNING_SECRET: required for HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    secret = settings.slack_signing_secret
    with stopping_on_signals(asyncio.Event()) as stop:
        async with runtime(settings) as rt:
            client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
            slack = build_slack_app(
                rt,
                client=client,
                signing_secret=secret.get_secret_value() if secret else None,
                events_over_http=not socket_mode,
            )
            handler = None
            if settings.slack_app_token is not None:
                handler = TimedSocketModeHandler(
                    slack.bot.app,
                    settings.slack_app_token.get_secret_value(),
                    web_client=client,
                    tasks=slack.bot.tasks,
                )
            connection = SlackConnection(slack.bot, handler)
            rt.ready_checks.append(connection.problem)
            if not socket_mode:
                log.info("Slack bot taking events over HTTP")
            await serve(
                connection, slack.web, host=settings.host, port=port or settings.port, stop=stop
            )
    return 0
