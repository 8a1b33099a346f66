"""A TCP proxy on 127.0.0.1 that a test can cut (refuse and drop every connection), black-hole
(keep every connection open but pass nothing on), and restore."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        # Cleared while black-holed: bytes already read wait here instead of being passed on.
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def __aenter__(self) -> Self:
        await self.restore()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.cut()

    async def restore(self) -> None:
        """Listens again, on the same port as before, and ends a black hole: what was held
        back is delivered, as when a partitioned network heals."""
        self._flowing.set()
        if self._server is None:
            self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def black_hole(self) -> None:
        """Connections stay open and new ones are accepted, but no byte goes either way, and
        nothing is refused or reset: the peer only hears silence, as behind a dead route."""
        self._flowing.clear()

    async def cut(self) -> None:
        """New connections are refused and open ones are dropped, as when the server dies."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._flowing.set()  # wakes pipes held by a black hole, which then find their ends gone

    async def _pipe(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        await self._flowing.wait()
        if client_w.transport.is_closing():
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            self._writers.discard(client_w)
            return
        self._writers.add(upstream_w)

        async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(65536):
                    await self._flowing.wait()
                    if writer.transport.is_closing():
                        break
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(copy(client_r, upstream_w), copy(upstream_r, client_w))
        self._writers.difference_update({client_w, upstream_w})
