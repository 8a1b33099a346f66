"""Background work of a chat adapter: answers run as tasks, referenced until done, drained on
shutdown with one semantics for every platform.

Work waits while requests are being acknowledged (up to MAX_DEFER_S), so that under a burst of
events the acks are not queued behind the answers on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Iterator
from typing import Any

log = logging.getLogger(__name__)

MAX_DEFER_S = 0.25  # the longest an answer waits for a burst of acks to pass
QUIET_S = 0.01  # no ack for this long means the burst has passed


class BackgroundWork:
    """Tasks started by listeners: referenced until done, awaited on shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._acking = 0
        self._last_ack = float("-inf")
        self._idle: asyncio.Event | None = None
        self._check: asyncio.TimerHandle | None = None

    @contextlib.contextmanager
    def acking(self) -> Iterator[None]:
        """Marks a request being acknowledged (the transports wrap their dispatch in it)."""
        self._acking += 1
        self._idle_event().clear()
        try:
            yield
        finally:
            self._acking -= 1
            self._last_ack = time.monotonic()
            if self._check is None:
                self._check = asyncio.get_running_loop().call_later(QUIET_S, self._maybe_idle)

    def _idle_event(self) -> asyncio.Event:
        if self._idle is None:
            self._idle = asyncio.Event()
            self._idle.set()
        return self._idle

    def _maybe_idle(self) -> None:
        # One timer for the whole burst, rather than every waiting task polling.
        quiet_for = time.monotonic() - self._last_ack
        if self._acking or quiet_for < QUIET_S:
            wait = QUIET_S - quiet_for if not self._acking else QUIET_S
            self._check = asyncio.get_running_loop().call_later(max(wait, 0.001), self._maybe_idle)
            return
        self._check = None
        self._idle_event().set()

    async def _quiet(self) -> None:
        idle = self._idle_event()
        if not idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(idle.wait(), MAX_DEFER_S)

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(self._guarded(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guarded(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            await self._quiet()
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background work %s failed", name)

    async def drain(self, within_s: float = 30.0) -> int:
        """Waits for the work under way; cancels what is left after `within_s`. Returns that."""
        if not self._tasks:
            return 0
        _, pending = await asyncio.wait(set(self._tasks), timeout=within_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)
