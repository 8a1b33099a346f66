"""The real Bolt app, wired to the real core, served over HTTP against the fake Slack API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.slack.app import SlackBot, web_client
from adapters.slack.notices import SlackNotifier
from adapters.slack.transport import EVENTS_PATH, events_endpoint
from adapters.stackdock.demo import DEMO_ORGS, DEMO_USERS
from bot.http import add_health_routes
from bot.settings import Settings
from bot.wiring import Runtime, runtime
from core.models import Binding
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlackApi

# Slack user ids of the demo snapshot's people; users.info gives their StackDock emails.
SLACK_USERS = {
    "UADMIN": DEMO_USERS["admin"],
    "UDEV": DEMO_USERS["developer"],
    "UAUDREY": DEMO_USERS["ai_none"],
}
UNKNOWN_USER = "UNOBODY"
ACME = DEMO_ORGS["acme"]

FAST_WRITER = {"update_interval": 0.05, "stream_interval": 0.01}


@dataclass
class Harness:
    api: FakeSlackApi
    rt: Runtime
    bot: SlackBot
    port: int

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def send(self, event: dict[str, Any], **kwargs: Any) -> tuple[int, str, float]:
        return await self.api.post_event(self.events_url, event, **kwargs)

    async def settle(self) -> None:
        """Waits until every answer started so far is written."""
        await self.bot.tasks.drain(within_s=20)


@contextlib.asynccontextmanager
async def slack_app(
    database_url: str,
    *,
    api: FakeSlackApi | None = None,
    bind_channel: bool = True,
    writer: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    async with contextlib.AsyncExitStack() as stack:
        api = api or FakeSlackApi(SLACK_USERS)
        if not api.port:
            await stack.enter_async_context(api)
        config = Settings(
            database_url=database_url,
            ai_provider="offline",
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=api.url,
            **settings,
        )
        rt = await stack.enter_async_context(runtime(config))
        if bind_channel:
            await rt.store.bindings.set(Binding(f"slack:{TEAM}", ACME))
        bot = SlackBot(
            assistant=rt.assistant,
            commands=rt.commands,
            client=web_client(BOT_TOKEN, api.url),
            signing_secret=SIGNING_SECRET,
            writer_options=writer if writer is not None else FAST_WRITER,
        )
        rt.notifiers.add(SlackNotifier(bot.client, rt.mirror))  # as bot/serve_slack.py does
        web_app = web.Application()
        add_health_routes(web_app, rt)
        web_app.router.add_post(
            EVENTS_PATH, events_endpoint(bot.app, bot.tasks, signing_secret=SIGNING_SECRET)
        )
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        harness = Harness(api, rt, bot, port)
        try:
            yield harness
        finally:
            await bot.tasks.drain(within_s=10)
