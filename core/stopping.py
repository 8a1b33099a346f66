"""Stopping an answer under way: the person's Stop reaches the model call wherever it runs.

Within one process a Stop is immediate: `StopBoard` keeps the answers under way, and stopping
an answer cancels the task that reads its model stream (the provider's HTTP stream closes with
it) and wakes whoever waits for its next event.

Across processes (Slack over HTTP behind several workers, where the Stop may reach a worker
other than the one answering) the request is left in the store as a marker, and each worker
looks once a second for the stops of every answer it has under way, in one read, from one task
of its own (a read per answer made the loop's work grow with the answers in flight: 200 at
once were 400 reads in the 2 s of a model call). Never per token.

The model stream is read by one task per answer, which hands each event over to the reader of
`until_stopped` without a task or a wait of its own per event; a Stop cancels that task
directly (and with it the model call), wherever the reader is.

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
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

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
    event: asyncio.Event = field(default_factory=asyncio.Event)
    _next: int = 1  # the number the next stop of this conversation will take
    _on_stop: list[Callable[[], None]] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return self.event.is_set()

    def stop(self) -> None:
        if self.event.is_set():
            return
        self.event.set()
        for call in list(self._on_stop):
            call()

    @property
    def next_marker(self) -> str:
        """The marker the next Stop of this conversation will be left as."""
        return _marker(self.conversation_key, self._next)

    async def check_store(self) -> bool:
        """Reads the stops other processes left for this conversation; True when one is for
        this answer. A store that can't be read stops nothing: the answer goes on."""
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
        self._watcher: asyncio.Task[None] | None = None

    def open(self, conversation_key: str, identity: str) -> StopSignal:
        signal = StopSignal(conversation_key, identity, self._clock(), self._markers)
        self._running.setdefault(conversation_key, []).append(signal)
        loop = asyncio.get_running_loop()
        watcher = self._watcher
        # A watcher left on a loop that ended (never cancelled) is no watcher.
        if self._markers is not None and (
            watcher is None or watcher.done() or watcher.get_loop() is not loop
        ):
            self._watcher = loop.create_task(self._watch())
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

    async def _watch(self) -> None:
        """While answers are under way: once per check interval, one read for the next stop
        marker of each; the few found are read in full by their own answers. Ends with the
        last answer, and starts again with the next."""
        while self._running:
            await asyncio.sleep(self._check_every_s)
            await self.look()
        self._watcher = None  # no await since the check: an `open` meanwhile saw it running

    async def look(self) -> None:
        """Looks once for the stops other processes left for the answers under way here."""
        assert self._markers is not None
        signals = [s for group in self._running.values() for s in group if not s.stopped]
        if not signals:
            return
        try:
            found = await self._markers.get_many(sorted({s.next_marker for s in signals}))
        except Exception:
            log.warning("could not look for Stops of %s answers", len(signals), exc_info=True)
            return
        for signal in signals:
            if signal.next_marker in found:
                await signal.check_store()  # a Stop found here calls signal.stop()

    async def _leave_marker(self, conversation_key: str, identity: str) -> None:
        assert self._markers is not None
        value = json.dumps({"at": self._clock().isoformat(), "by": identity})
        for n in range(1, MAX_STOPS + 1):
            if await self._markers.mark(_marker(conversation_key, n), value):
                return
        log.warning("conversation %s was stopped %s times; not numbering more", conversation_key, n)


class Sideline(Generic[S]):
    """What happens while the next event is awaited (a tool starting inside the loop), for
    `until_stopped` to give as soon as it comes, each item before any later event."""

    def __init__(self) -> None:
        self._early: list[S] = []
        self._channel: _Channel | None = None

    def put_nowait(self, item: S) -> None:
        if self._channel is None:
            self._early.append(item)  # said before the reading began: given first
        else:
            self._channel.push(_Aside(item))

    def _bind(self, channel: _Channel | None) -> None:
        self._channel = channel
        if channel is not None:
            for item in self._early:
                channel.push(_Aside(item))
            self._early.clear()


class _Raised:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Aside:
    __slots__ = ("item",)

    def __init__(self, item: Any) -> None:
        self.item = item


_END = object()  # the events ran out


class _Channel:
    """Events (and side items) in the order they came; the reader asks for each event, so
    none is read before it is wanted (what a turn cost is what the person was given)."""

    __slots__ = ("_asked", "_loop", "_waiter", "items", "wanted")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.items: deque[Any] = deque()
        self.wanted = True  # the first event, from the start
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None  # the reader, for an item
        self._asked: asyncio.Future[None] | None = None  # the producer, for a request

    def push(self, item: Any) -> None:
        self.items.append(item)
        self.wake()

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def ask(self) -> None:
        self.wanted = True
        asked = self._asked
        if asked is not None and not asked.done():
            asked.set_result(None)

    async def next_wanted(self) -> None:
        if not self.wanted:
            self._asked = self._loop.create_future()
            try:
                await self._asked
            finally:
                self._asked = None
        self.wanted = False


async def _produce(events: AsyncIterator[Any], channel: _Channel) -> None:
    try:
        while True:
            await channel.next_wanted()
            try:
                event = await anext(events)
            except StopAsyncIteration:
                channel.push(_END)
                return
            channel.push(event)
    except Exception as error:
        channel.push(_Raised(error))  # raised where the events are read, in their order


async def until_stopped(
    events: AsyncIterator[T],
    signal: StopSignal | None,
    side: Sideline[S] | None = None,
) -> AsyncGenerator[T | S, None]:
    """`events`, until the signal says stop: then the read under way is cancelled (and with
    it the model call) and `Stopped` is raised. `events` is closed however this ends.

    `side` carries what happens while the next event is awaited (a tool starting inside the
    loop): its items are given as soon as they come, each before any later event.

    The events are read by one task for the whole answer (a side item must reach the reader
    while a tool runs inside the read), each when the reader asks for it, and handed over in
    order; the store is looked at by the signal's board, for all its answers at once. Per
    event that costs a deque append and a future each way, no task and no timer."""
    if signal is None and side is None:
        async for event in events:
            yield event
        return
    loop = asyncio.get_running_loop()
    channel = _Channel(loop)
    if side is not None:
        side._bind(channel)
    producer = loop.create_task(_produce(events, channel))
    producer.add_done_callback(lambda _: channel.wake())

    def on_stop() -> None:
        producer.cancel()  # the model call ends now, wherever the reader is
        channel.wake()

    if signal is not None:
        signal._on_stop.append(on_stop)
    try:
        items = channel.items
        while True:
            if signal is not None and signal.stopped:
                raise Stopped
            if items:
                item = items.popleft()
                kind = type(item)
                if kind is _Aside:
                    yield item.item
                    continue
                if item is _END:
                    return
                if kind is _Raised:
                    raise item.error
                yield item
                channel.ask()  # asked for only now: the reader may stop here
                continue
            if producer.done():
                producer.result()  # cancelled by something else: raised here as it was there
                return
            await channel.wait()
    finally:
        if signal is not None:
            signal._on_stop.remove(on_stop)
        if side is not None:
            side._bind(None)
        if not producer.done():
            producer.cancel()
            await asyncio.wait({producer})
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
