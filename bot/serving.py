"""The serving shell every long-running command shares (`slack`, `discord`, `sync`).

Signals first: SIGTERM or SIGINT only ever set a stop event, from the moment a command starts,
so stopping is graceful even while a platform is still connecting. Then the health endpoints
on HOST:PORT, the platform's connection run until it lets go or the stop comes, and on stop:
no new work, the work under way drained (DRAIN_TIMEOUT_S at most), the platform let go.

`run` is how a serving command runs: on uvloop's event loop where it is installed, else on
asyncio's. Measured on bench/burst.py's 200-person burst: 15% fewer instructions on the loop
thread per answer (callgrind; its sockets, transports and callbacks are C); in CPU time on a
shared 2-core machine the gain is smaller than run-to-run noise (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import web

log = logging.getLogger(__name__)

T = TypeVar("T")

DRAIN_TIMEOUT_S = 25.0  # inside the 30 s Heroku and systemd give before SIGKILL
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Connection(Protocol):
    """A chat platform as the shell runs it."""

    async def run(self) -> None:
        """Connects and serves until the platform lets go (returns, or raises why); the shell
        cancels it once the connection is closed."""

    async def stop_taking(self) -> None:
        """Takes no new work; the work under way goes on."""

    def under_way(self) -> int: ...

    async def drain(self, within_s: float) -> int:
        """Waits for the work under way, cancels what is left after `within_s`; returns that."""

    async def close(self) -> None:
        """Lets go of the platform; safe to call when it never connected."""


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (it is a dependency everywhere but Windows,
    which it does not support), else asyncio's own."""
    if sys.platform != "win32":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, on the loop `new_event_loop` makes."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


@contextlib.contextmanager
def stopping_on_signals(stop: asyncio.Event) -> Iterator[asyncio.Event]:
    """SIGTERM and SIGINT set `stop` instead of killing the process, while the block runs."""
    loop = asyncio.get_running_loop()
    handled = []
    for sig in STOP_SIGNALS:
        # Not on every platform, nor outside the main thread.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        yield stop
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


@dataclass
class Listener:
    runner: web.AppRunner
    site: web.TCPSite

    @property
    def port(self) -> int:
        """The port bound (the one asked for, or the one the system chose for 0)."""
        return int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        """Closes the listening socket: no new connection is accepted."""
        await self.site.stop()


@contextlib.asynccontextmanager
async def listening(app: web.Application, host: str, port: int) -> AsyncIterator[Listener]:
    """Serves `app` on host:port for as long as the block runs."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        yield Listener(runner, site)
    finally:
        await runner.cleanup()


@functools.cache
def _freeze_startup_objects() -> None:
    """Everything built at startup (modules, the app, the mirror) lives as long as the process:
    kept out of the collector's sight, a full collection in a burst of questions scans only
    what the questions made (measured: a 0.1–0.3 s pause gone, ~8% less loop CPU)."""
    gc.collect()
    gc.freeze()


async def serve(
    connection: Connection, app: web.Application, *, host: str, port: int, stop: asyncio.Event
) -> None:
    """Runs `connection` with `app` listening until `stop` is set or the platform lets go.

    Raises what ended the connection, if it failed; returns after a graceful stop.
    """
    async with listening(app, host, port) as listener:
        log.info("health endpoints on %s:%d", host, listener.port)
        _freeze_startup_objects()
        running = asyncio.create_task(connection.run(), name="platform connection")
        stopped = asyncio.create_task(stop.wait(), name="stop signal")
        try:
            await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                running.result()  # raises why the platform let go
                return
            log.info("stopping: no new work; waiting for %d answers", connection.under_way())
            await connection.stop_taking()
            await listener.stop()
            left = await connection.drain(DRAIN_TIMEOUT_S)
            if left:
                log.warning("%d answers did not finish in %.0f s", left, DRAIN_TIMEOUT_S)
        finally:
            stopped.cancel()
            await connection.close()
            running.cancel()
            await asyncio.gather(running, stopped, return_exceptions=True)
