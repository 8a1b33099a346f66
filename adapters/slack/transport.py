"""The two ways Slack reaches the app: signed HTTP requests, or a Socket Mode websocket.

Both time the ack, the one number Slack holds the app to (3 s).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from core.metrics import ACK_SECONDS

EVENTS_PATH = "/slack/events"


def events_endpoint(app: AsyncApp) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Bolt's `/slack/events`: events, slash commands and interactivity, signatures checked."""

    async def handle(request: web.Request) -> web.Response:
        started = time.perf_counter()
        response = await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))
        ACK_SECONDS.labels(platform="slack").observe(time.perf_counter() - started)
        return response

    return handle


class TimedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler; the ack is the envelope reply, timed like the HTTP one."""

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        await super().handle(client, req)
        ACK_SECONDS.labels(platform="slack").observe(time.perf_counter() - started)
