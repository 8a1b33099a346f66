"""The two ways Slack reaches the app: signed HTTP requests, or a Socket Mode websocket.

Both time the ack, the one number Slack holds the app to (3 s).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from adapters.slack.answers import InFlight
from core.metrics import ACK_SECONDS

EVENTS_PATH = "/slack/events"


def events_endpoint(
    app: AsyncApp, tasks: InFlight | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Bolt's `/slack/events`: events, slash commands and interactivity, signatures checked."""
    acking = tasks.acking if tasks is not None else contextlib.nullcontext

    async def handle(request: web.Request) -> web.Response:
        started = time.perf_counter()
        with acking():
            bolt_response = await app.async_dispatch(await to_bolt_request(request))
        response = await to_aiohttp_response(bolt_response)
        ACK_SECONDS.labels(platform="slack").observe(time.perf_counter() - started)
        return response

    return handle


class TimedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler; the ack is the envelope reply, timed like the HTTP one."""

    def __init__(self, app: AsyncApp, app_token: str, *, tasks: InFlight | None = None, **kw: Any):
        super().__init__(app, app_token, **kw)
        self._acking = tasks.acking if tasks is not None else contextlib.nullcontext

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        with self._acking():
            await super().handle(client, req)
        ACK_SECONDS.labels(platform="slack").observe(time.perf_counter() - started)
