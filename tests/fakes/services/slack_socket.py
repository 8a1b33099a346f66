"""A fake Socket Mode endpoint, mounted on the fake Web API's server.

`apps.connections.open` (on FakeSlackApi) hands out this websocket's URL; on connect the fake
says hello, then sends envelopes on demand and checks that each is acknowledged with its
`envelope_id`, recording when the ack came. With `refusing` set it turns every connection away
(503 at the upgrade), and `drop()` closes the one open, as Slack does when it is unwell.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.services.slack_api import FakeSlackApi


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    seconds: float


class FakeSocketMode:
    def __init__(self, api: FakeSlackApi) -> None:
        self.api = api
        self.acks: dict[str, Ack] = {}
        self.unknown_acks: list[dict[str, Any]] = []
        self.connections = 0
        self.refused = 0
        self.refusing = False
        self._sent_at: dict[str, float] = {}
        self._ws: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._ids = itertools.count(1)
        api.web.router.add_get("/link", self._link)

    def install(self) -> None:
        """Called once the API server is listening, so that its port is known."""
        self.api.socket_url = f"ws://127.0.0.1:{self.api.port}/link?ticket=fake"

    async def wait_connected(self, within_s: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), within_s)

    async def drop(self) -> None:
        """Closes the open connection, if any; the client is expected to reconnect."""
        if self._ws is not None:
            await self._ws.close()

    async def _link(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            self.refused += 1
            return web.Response(status=503, text="unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        self._ws = ws
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A1"},
            }
        )
        self._connected.set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            envelope_id = data.get("envelope_id")
            if envelope_id in self._sent_at and envelope_id not in self.acks:
                seconds = time.perf_counter() - self._sent_at[envelope_id]
                self.acks[envelope_id] = Ack(envelope_id, data.get("payload"), seconds)
            else:
                self.unknown_acks.append(data)
        self._connected.clear()
        return ws

    async def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        accepts_response_payload: bool = False,
    ) -> str:
        """Sends one envelope (events_api, slash_commands or interactive); returns its id."""
        if self._ws is None:
            raise RuntimeError("no Socket Mode client is connected")
        envelope_id = f"env-{next(self._ids)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        self._sent_at[envelope_id] = time.perf_counter()
        await self._ws.send_json(envelope)
        return envelope_id

    async def wait_ack(self, envelope_id: str, within_s: float = 5.0) -> Ack:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if envelope_id in self.acks:
                return self.acks[envelope_id]
            await asyncio.sleep(0.01)
        raise AssertionError(f"envelope {envelope_id} was not acknowledged within {within_s} s")
