"""The two ways Slack reaches the app: signed HTTP requests, or a Socket Mode websocket.

Both time the ack, the one number Slack holds the app to (3 s). Neither lets what a sender
controls turn into a 5xx or a traceback: the signature is checked before the body is read or
parsed (401), a signed body is held to Slack's shapes before Bolt sees it (400, `shapes.py`),
and a listener that still raises is logged in one line (400 if the ack was still owed).
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from adapters.slack import shapes
from adapters.slack.signature import fresh_timestamp, signed
from core.background import BackgroundWork
from core.metrics import ACK_SECONDS

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SLACK_ACK_SECONDS = ACK_SECONDS.labels(platform="slack")  # looked up once, not per request


def events_endpoint(
    app: AsyncApp, tasks: BackgroundWork | None = None, *, signing_secret: str | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Bolt's `/slack/events`: events, slash commands and interactivity.

    Without a signing secret nothing can be verified, so every request is refused (401).
    """
    acking = tasks.acking if tasks is not None else contextlib.nullcontext
    answer_listener_errors(app)

    async def handle(request: web.Request) -> web.Response:
        started = time.perf_counter()
        # The headers alone rule out most forgeries, before a byte of the body is read.
        if not signing_secret or fresh_timestamp(request.headers) is None:
            return web.Response(status=401, text="invalid signature")
        if request.headers.get("Content-Encoding", "identity").lower() != "identity":
            # Slack never compresses a request; aiohttp would inflate it before anything checked.
            return web.Response(status=400, text="compressed body")
        try:
            body = await request.read()
        except (RequestPayloadError, ConnectionError) as exc:  # torn chunks, a client gone
            log.info("could not read a Slack request: %s", type(exc).__name__)
            return web.Response(status=400, text="unreadable body")
        if not signed(signing_secret, body, request.headers):
            return web.Response(status=401, text="invalid signature")
        try:
            text = body.decode("utf-8")
            shapes.check(shapes.parse(text, request.content_type))
        except (UnicodeDecodeError, shapes.NotSlack) as problem:
            why = "body is not UTF-8" if isinstance(problem, UnicodeDecodeError) else str(problem)
            log.info("rejected a signed Slack request: %s", why)
            return web.Response(status=400, text=why)
        try:
            with acking():
                answer = await app.async_dispatch(_bolt_request(request, text))
        except Exception as exc:
            log.warning("could not handle a signed Slack request: %s", describe(exc))
            return web.Response(status=400, text="unexpected payload")
        if answer.status == 404:
            # No listener for this event or action: acknowledged and ignored, so that Slack
            # does not retry something this app will never handle.
            return web.Response(status=200)
        if answer.status == 200 and not answer.body and answer.headers.keys() <= {"content-type"}:
            response = web.Response(status=200)  # the bare ack, most requests: nothing to copy
        else:
            response = await to_aiohttp_response(answer)
        SLACK_ACK_SECONDS.observe(time.perf_counter() - started)
        return response

    return handle


# The headers Bolt is given besides the content type: the ones its own signature check reads.
# No others: no listener here reads any, copying every header was work on each request, and
# Bolt acts on some that no signature covers (`X-Slack-Bolt-Lazy-Only` skips the listener).
BOLT_HEADERS = ("x-slack-signature", "x-slack-request-timestamp")


def _bolt_request(request: web.Request, text: str) -> AsyncBoltRequest:
    given = request.headers
    headers: dict[str, Any] = {name: given.getall(name) for name in BOLT_HEADERS if name in given}
    # Bolt decides JSON or form from this header; it must agree with what was checked.
    headers["content-type"] = [request.content_type]
    return AsyncBoltRequest(body=text, query=request.query_string, headers=headers)


def describe(error: BaseException) -> str:
    """The error's type and where it was raised: no message, which may quote the payload."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    last = frames[-1]
    return f"{type(error).__name__} in {last.name} ({Path(last.filename).name}:{last.lineno})"


def answer_listener_errors(app: AsyncApp) -> None:
    """A listener or middleware that raises: one log line instead of Bolt's traceback, and a
    400 instead of Bolt's 500 when Slack is still waiting for the ack."""

    async def on_error(error: Exception, response: BoltResponse | None) -> BoltResponse | None:
        log.warning("a Slack listener failed: %s", describe(error))
        log.debug("the listener's failure", exc_info=error)
        return None if response is None else BoltResponse(status=400, body="unexpected payload")

    app.error(on_error)


class _OneLine(logging.Filter):
    """Drops the traceback from a record; its message already names the error."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


class _ClientFaultsInOneLine(logging.Filter):
    """aiohttp's server logs a traceback for every malformed request it refuses with 400 (a bad
    chunk, an unparsable header, a body that does not inflate) and for every client that hangs
    up mid-body: input the sender controls, so one line naming the fault is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError | RequestPayloadError | ConnectionError):
            record.msg = f"{record.getMessage()}: {type(error).__name__}"
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


logging.getLogger("aiohttp.server").addFilter(_ClientFaultsInOneLine())


# The Socket Mode client logs a full traceback for every failed attempt to connect, one every
# ping interval for as long as Slack is unreachable; one line each says as much.
SOCKET_LOG = logging.getLogger("adapters.slack.socket_mode")
SOCKET_LOG.addFilter(_OneLine())


class TimedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler; the ack is the envelope reply, timed like the HTTP one."""

    def __init__(
        self, app: AsyncApp, app_token: str, *, tasks: BackgroundWork | None = None, **kw: Any
    ):
        kw.setdefault("logger", SOCKET_LOG)
        super().__init__(app, app_token, **kw)
        self._acking = tasks.acking if tasks is not None else contextlib.nullcontext
        answer_listener_errors(app)

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        try:
            if not isinstance(req.payload, dict):
                raise shapes.NotSlack("payload is not an object")
            shapes.check(req.payload)
        except shapes.NotSlack as problem:
            # Acked, so Slack does not send it again; nothing would ever handle it.
            log.info("ignored a Socket Mode envelope: %s", problem)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        with self._acking():
            await super().handle(client, req)
        SLACK_ACK_SECONDS.observe(time.perf_counter() - started)
