"""The two ways Slack reaches the app: signed HTTP requests, or a Socket Mode websocket.

Both time the ack, the one number Slack holds the app to (3 s).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from core.background import BackgroundWork
from core.metrics import ACK_SECONDS

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def events_endpoint(
    app: AsyncApp, tasks: BackgroundWork | None = None, *, signing_secret: str | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Bolt's `/slack/events`: events, slash commands and interactivity, signatures checked.

    With `signing_secret`, the signature is checked before anything parses the body, so
    unsigned garbage gets 401 and never reaches a parser; a signed body that is not what Slack
    sends gets 400. Neither is ever a 5xx, which Slack would only retry.
    """
    acking = tasks.acking if tasks is not None else contextlib.nullcontext
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def handle(request: web.Request) -> web.Response:
        started = time.perf_counter()
        body = await request.read()
        if verifier is not None and not _signed(verifier, body, request):
            return web.Response(status=401, text="invalid signature")
        problem = malformed(body, request.content_type)
        if problem:
            log.info("rejected a signed Slack request: %s", problem)
            return web.Response(status=400, text=problem)
        try:
            with acking():
                bolt_response = await app.async_dispatch(await to_bolt_request(request))
        except Exception:
            # Signed but not shaped as Bolt expects (a field of the wrong type, say).
            log.warning("could not handle a signed Slack request", exc_info=True)
            return web.Response(status=400, text="unexpected payload")
        response = await to_aiohttp_response(bolt_response)
        ACK_SECONDS.labels(platform="slack").observe(time.perf_counter() - started)
        return response

    return handle


def _signed(verifier: SignatureVerifier, body: bytes, request: web.Request) -> bool:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False  # Slack signs UTF-8 text; anything else can't be one of its requests
    return verifier.is_valid_request(text, dict(request.headers))


def malformed(body: bytes, content_type: str) -> str | None:
    """Why a body cannot be a Slack request, or None when it may be one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if content_type == "application/x-www-form-urlencoded":
        fields = parse_qs(text)
        if "payload" in fields:
            return _not_an_object(fields["payload"][0], "payload")
        return None if "command" in fields or "ssl_check" in fields else "unknown form body"
    problem = _not_an_object(text, "body")
    if problem:
        return problem
    envelope = json.loads(text)
    if "event" in envelope and not isinstance(envelope["event"], dict):
        return "event is not an object"
    for where, fields in ((envelope, _ENVELOPE_TEXT), (envelope.get("event") or {}, _EVENT_TEXT)):
        for name in fields:
            if name in where and where[name] is not None and not isinstance(where[name], str):
                return f"{name} is not a string"
    return None


# Fields Bolt and the listeners read as text; Slack always sends them as strings.
_ENVELOPE_TEXT = ("type", "token", "team_id", "api_app_id", "event_id", "enterprise_id")
_EVENT_TEXT = (
    "type", "subtype", "user", "channel", "channel_type", "text", "ts", "thread_ts",
    "event_ts", "bot_id", "team",
)  # fmt: skip


def _not_an_object(text: str, what: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return f"{what} is not JSON"
    return None if isinstance(value, dict) else f"{what} is not a JSON object"


class TimedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler; the ack is the envelope reply, timed like the HTTP one."""

    def __init__(
        self, app: AsyncApp, app_token: str, *, tasks: BackgroundWork | None = None, **kw: Any
    ):
        super().__init__(app, app_token, **kw)
        self._acking = tasks.acking if tasks is not None else contextlib.nullcontext

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        with self._acking():
            await super().handle(client, req)
        ACK_SECONDS.labels(platform="slack").observe(time.perf_counter() - started)
