"""Stopping an answer under way: the person's Stop reaches the model call wherever it runs.

Within one process a Stop is immediate: `StopBoard` keeps the answers under way, and setting an
answer's event wakes the loop that waits on the model stream, which cancels the stream's task
(the provider's HTTP stream closes with it).

Across processes (Slack over HTTP behind several workers, where the Stop may reach a worker
other than the one answering) the request is left in the store as a marker, and the answering
worker looks for it only at cheap points: when a tool step or text arrives and a second has
passed since its last look, and once a second while the model is silent. Never per token.

The store's markers are insert-once (`MarkerRepo.mark`), so stops of one conversation are
numbered: the n-th stop of conversation K is the marker `stop:K:n`, taken by whichever worker
inserts it first. An answer reads from the first number onwards and skips stops dated before
it began (they were for earlier answers) or made by someone else; from then on it reads one
key per look, the next number. This assumes the workers' clocks agree to within the time it
takes a person to press Stop after an answer starts showing (NTP does). Markers are never
deleted; one small row per stop pressed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from core.ports import MarkerRepo

log = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S")

CHECK_EVERY_S = 1.0  # how often an answer looks for a Stop made in another process
MAX_STOPS = 200  # stops numbered per conversation; past it, stops only work in-process
STOPPED_TEXT = "Stopped."
STOPPED_REASON = "stopped"


class Stopped(Exception):
    """The person stopped the answer; raised where the model stream was being read."""


def _marker(conversation_key: str, n: int) -> str:
    return f"stop:{conversation_key}:{n}"


@dataclass(eq=False)
class StopSignal:
    """One answer under way: whose it is, and whether a Stop has reached it."""

    conversation_key: str
    identity: str
    started: datetime
    markers: MarkerRepo | None = None
    check_every_s: float = CHECK_EVERY_S
    event: asyncio.Event = field(default_factory=asyncio.Event)
    _next: int = 1  # the number the next stop of this conversation will take
    _last_check: float = field(default_factory=time.monotonic)

    @property
    def stopped(self) -> bool:
        return self.event.is_set()

    def stop(self) -> None:
        self.event.set()

    def check_due(self, now: float) -> float:
        """Seconds until the store should be read again (0 or less: now)."""
        if self.markers is None:
            return float("inf")
        return self._last_check + self.check_every_s - now

    async def check_store(self) -> bool:
        """Reads the stops other processes left for this conversation; True when one is for
        this answer. A store that can't be read stops nothing: the answer goes on."""
        self._last_check = time.monotonic()
        if self.markers is None or self.stopped:
            return self.stopped
        try:
            while self._next <= MAX_STOPS:
                value = await self.markers.get(_marker(self.conversation_key, self._next))
                if value is None:
                    return False
                self._next += 1
                if self._is_for_me(value):
                    self.stop()
                    return True
        except Exception:
            log.warning("could not look for a Stop of %s", self.conversation_key, exc_info=True)
        return self.stopped

    def _is_for_me(self, value: str) -> bool:
        try:
            stop = json.loads(value)
            at = datetime.fromisoformat(stop["at"])
            return bool(stop["by"] == self.identity and at >= self.started)
        except (ValueError, KeyError, TypeError):
            return False  # not a marker this module wrote


class StopBoard:
    """The answers under way in this process, and the way a Stop reaches any of them."""

    def __init__(
        self,
        markers: MarkerRepo | None,
        clock: Callable[[], datetime],
        *,
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        self._markers = markers
        self._clock = clock
        self._check_every_s = check_every_s
        self._running: dict[str, list[StopSignal]] = {}

    def open(self, conversation_key: str, identity: str) -> StopSignal:
        signal = StopSignal(
            conversation_key,
            identity,
            self._clock(),
            self._markers,
            check_every_s=self._check_every_s,
        )
        self._running.setdefault(conversation_key, []).append(signal)
        return signal

    def close(self, signal: StopSignal) -> None:
        running = self._running.get(signal.conversation_key, [])
        if signal in running:
            running.remove(signal)
        if not running:
            self._running.pop(signal.conversation_key, None)

    def running(self, conversation_key: str) -> list[StopSignal]:
        return list(self._running.get(conversation_key, []))

    async def stop(self, conversation_key: str, identity: str) -> bool:
        """Stops `identity`'s answers under way in the conversation. True when one ran in
        this process; otherwise the Stop is left in the store for the other processes."""
        here = self._running.get(conversation_key, [])
        mine = [s for s in here if s.identity == identity and not s.stopped]
        for signal in mine:
            signal.stop()
        if mine:
            return True
        if self._markers is None:
            return False  # nowhere else to look
        # Someone else's answer here says nothing about where the presser's own runs: another
        # worker may hold it, so the Stop is left for the others (they check who it is by).
        await self._leave_marker(conversation_key, identity)
        return False

    async def _leave_marker(self, conversation_key: str, identity: str) -> None:
        assert self._markers is not None
        value = json.dumps({"at": self._clock().isoformat(), "by": identity})
        for n in range(1, MAX_STOPS + 1):
            if await self._markers.mark(_marker(conversation_key, n), value):
                return
        log.warning("conversation %s was stopped %s times; not numbering more", conversation_key, n)


async def until_stopped(
    events: AsyncIterator[T],
    signal: StopSignal | None,
    side: asyncio.Queue[S] | None = None,
) -> AsyncGenerator[T | S, None]:
    """`events`, until the signal says stop: then the read under way is cancelled (and with
    it the model call) and `Stopped` is raised. `events` is closed however this ends.

    `side` carries what happens while the next event is awaited (a tool starting inside the
    loop): its items are given as soon as they come, each before any later event."""
    if signal is None and side is None:
        async for event in events:
            yield event
        return
    pending: asyncio.Task[tuple[T] | None] | None = None
    waiter = asyncio.ensure_future(signal.event.wait()) if signal is not None else None
    getter = asyncio.ensure_future(side.get()) if side is not None else None
    try:
        while True:
            if signal is not None and signal.stopped:
                raise Stopped
            if pending is None:
                pending = asyncio.create_task(_next(events))
            due = signal.check_due(time.monotonic()) if signal is not None else float("inf")
            if due <= 0:
                assert signal is not None
                if await signal.check_store():
                    raise Stopped
                continue
            waits: set[asyncio.Future[Any]] = {pending}
            waits.update(f for f in (waiter, getter) if f is not None)
            timeout = None if due == float("inf") else due
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if signal is not None and signal.stopped:
                raise Stopped
            if getter is not None and getter.done():
                yield getter.result()
                getter = asyncio.ensure_future(side.get()) if side is not None else None
            while side is not None and not side.empty():
                yield side.get_nowait()  # came with the event that finished: goes first
            if not pending.done():
                continue  # a side item, or the time to look in the store has come
            got = pending.result()
            pending = None
            if got is None:
                return
            yield got[0]
    finally:
        for future in (waiter, getter):
            if future is not None:
                future.cancel()
        if pending is not None and not pending.done():
            pending.cancel()
            await asyncio.wait({pending})
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def _next(events: AsyncIterator[T]) -> tuple[T] | None:
    # StopAsyncIteration can't travel through a task's result, so the end is None.
    try:
        return (await events.__anext__(),)
    except StopAsyncIteration:
        return None
