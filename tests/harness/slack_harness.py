"""The real Bolt app, wired to the real core, served over HTTP against the fake Slack API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.slack.app import SlackBot, web_client
from adapters.slack.transport import EVENTS_PATH
from adapters.stackdock.demo import DEMO_ORGS, DEMO_USERS
from bot.serving import listening
from bot.settings import Settings
from bot.wiring import Runtime, build_slack_app, runtime
from core.models import Binding
from core.ports import Provider
from tests.fakes.services.slack_api import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlackApi

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
    providers: Sequence[Provider] | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """`stackdock-assistant slack` in HTTP mode, built by the same wiring, on 127.0.0.1."""
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
        rt = await stack.enter_async_context(runtime(config, providers=providers))
        if bind_channel:
            await rt.store.bindings.set(Binding(f"slack:{TEAM}", ACME))
        slack = build_slack_app(
            rt,
            client=web_client(BOT_TOKEN, api.url),
            signing_secret=SIGNING_SECRET,
            writer_options=writer if writer is not None else FAST_WRITER,
        )
        listener = await stack.enter_async_context(listening(slack.web, "127.0.0.1", 0))
        harness = Harness(api, rt, slack.bot, listener.port)
        try:
            yield harness
        finally:
            await slack.bot.tasks.drain(within_s=10)
