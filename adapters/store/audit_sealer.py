"""The sealer: chains audit rows after they are written, so no answer waits for the chain.

A question's row is committed unchained, with its messages and usage, in a transaction that
takes no global lock. Every process runs one sealer task, woken by its own writes and by a
slow timer (for rows another process wrote and could not seal: it died, say). A pass takes
the chain lock, reads the chain's head and chains every row still unsealed, in id order, in
one transaction; sealers of different processes take turns on that lock, off the answer path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# How often an idle sealer looks for rows other processes left unsealed.
IDLE_S = 5.0
# After a failed pass (the database down), the next try; the rows wait, durable, meanwhile.
RETRY_S = 1.0
# A woken sealer waits this long first, so that one pass chains every row written meanwhile
# instead of one pass (six round trips) per row. It bounds how long a row stays unchained.
GATHER_S = 0.05


class ChainSealer:
    def __init__(
        self,
        seal: Callable[[], Awaitable[int]],
        *,
        idle_s: float = IDLE_S,
        retry_s: float = RETRY_S,
        gather_s: float = GATHER_S,
    ) -> None:
        self._seal = seal
        self._idle_s = idle_s
        self._retry_s = retry_s
        self._gather_s = gather_s
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._in_pass = False

    def nudge(self) -> None:
        """A row was written: seal soon. Never blocks, never raises."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a sync caller): the next pass, or the next reader, seals it
        if self._loop is not loop or self._task is None or self._task.done():
            # First write, or a store reused on a new loop (tests): one task per loop.
            self._loop, self._wake = loop, asyncio.Event()
            self._task = loop.create_task(self._run(self._wake), name="audit-sealer")
        assert self._wake is not None
        self._wake.set()

    async def _run(self, wake: asyncio.Event) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._idle_s)
            if self._closing:
                return
            await asyncio.sleep(self._gather_s)
            wake.clear()  # rows written from here on wake the next pass
            if self._closing:
                return
            self._in_pass = True
            try:
                await self._seal()
            except Exception as exc:
                log.warning("audit sealer: could not seal (%s); retrying", type(exc).__name__)
                self._in_pass = False
                await asyncio.sleep(self._retry_s)
                wake.set()
            finally:
                self._in_pass = False

    async def close(self) -> None:
        """Stops the task between passes (never inside one: a pass cut short mid-transaction
        would hold the database's write lock), then seals what is left. Best effort: a reader
        seals whatever is left otherwise."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        if self._wake is not None and self._loop is asyncio.get_running_loop():
            if self._in_pass:
                self._wake.set()  # a pass under way finishes its transaction first
            else:
                task.cancel()  # waiting or gathering: nothing is held, nothing is cut short
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        try:
            await self._seal()
        except Exception as exc:
            log.warning("audit sealer: rows left unsealed at close (%s)", type(exc).__name__)
        finally:
            self._closing = False
