"""What the fake OpenAI and Anthropic servers share: a script of replies and failures, a
loopback aiohttp server on an ephemeral port, and a record of every request it received."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import web


@dataclass(frozen=True)
class FakeToolCall:
    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class FakeUsage:
    """Tokens in our own convention: `input_tokens` excludes cache reads and writes."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class Reply:
    """One successful streamed model turn."""

    text: Sequence[str] = ()  # streamed chunk by chunk, in order
    tool_calls: Sequence[FakeToolCall] = ()
    usage: FakeUsage | None = FakeUsage(input_tokens=100, output_tokens=20)
    chunk_delay_s: float = 0.0


FailKind = Literal[
    "status",  # an HTTP error status with the provider's error body
    "hang",  # no response until the client gives up
    "stall",  # starts streaming text, then goes silent
    "truncate",  # streams some text, then ends the body cleanly without finishing
    "disconnect",  # streams some text, then drops the connection
    "invalid_json",  # a data line that is not JSON
    "stream_error",  # an error event inside a 200 stream (Anthropic's mid-stream overload)
]


@dataclass(frozen=True)
class Fail:
    kind: FailKind
    status: int = 500
    retry_after: str | None = None
    text: Sequence[str] = ("Partial ",)  # what streams before a mid-stream failure


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


@dataclass
class ModelServer:
    """Base of the fakes; subclasses speak one provider's wire format."""

    path: str = ""
    script: deque[Reply | Fail] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    first_token_at: list[float] = field(default_factory=list)  # perf_counter, per reply
    hang_s: float = 30.0

    def __post_init__(self) -> None:
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def push(self, *items: Reply | Fail) -> Self:
        self.script.extend(items)
        return self

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(RecordedRequest(request.path, headers, body))
        if not self.script:
            return self.error_response(500, "the fake server has no scripted reply left")
        item = self.script.popleft()
        if isinstance(item, Reply):
            return await self._stream(request, body, item)
        if item.kind == "status":
            response = self.error_response(item.status, "scripted failure")
            if item.retry_after is not None:
                response.headers["retry-after"] = item.retry_after
            return response
        if item.kind == "hang":
            await self.idle()
            return self.error_response(500, "hung")
        return await self._fail_mid_stream(request, body, item)

    async def idle(self) -> None:
        """Waits past any client timeout, but never past the server's own shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.hang_s)

    async def _stream(self, request: web.Request, body: dict[str, Any], reply: Reply) -> Any:
        response = await self.open_stream(request)
        first = True
        for event in self.reply_events(body, reply):
            if event.get("__text__") and first:
                self.first_token_at.append(time.perf_counter())
                first = False
            await response.write(self.encode(event))
            if reply.chunk_delay_s and event.get("__text__"):
                await asyncio.sleep(reply.chunk_delay_s)
        await response.write(self.finish())
        await response.write_eof()
        return response

    async def _fail_mid_stream(self, request: web.Request, body: dict[str, Any], fail: Fail) -> Any:
        response = await self.open_stream(request)
        for event in self.opening_events(body, fail.text):
            await response.write(self.encode(event))
        if fail.kind == "stall":
            await self.idle()
        elif fail.kind == "disconnect":
            assert request.transport is not None
            request.transport.close()
            return response
        elif fail.kind == "invalid_json":
            await response.write(self.invalid_json())
        elif fail.kind == "stream_error":
            await response.write(self.stream_error())
        await response.write_eof()
        return response

    async def open_stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        return response

    # ---- the wire format, per provider ----

    def error_response(self, status: int, message: str) -> web.Response:
        raise NotImplementedError

    def reply_events(self, body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
        """Every event of a reply; text events carry a `__text__` marker the encoder drops."""
        raise NotImplementedError

    def opening_events(self, body: dict[str, Any], text: Sequence[str]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def encode(self, event: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def finish(self) -> bytes:
        raise NotImplementedError

    def stream_error(self) -> bytes:
        raise NotImplementedError

    def invalid_json(self) -> bytes:
        return b'data: {"choices": [{"delta": {"content": "oops"\n\n'


def data_line(payload: dict[str, Any], event: str | None = None) -> bytes:
    clean = {k: v for k, v in payload.items() if k != "__text__"}
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(clean)}\n\n".encode()


def split_in_two(text: str) -> list[str]:
    middle = max(1, len(text) // 2)
    return [text[:middle], text[middle:]]
