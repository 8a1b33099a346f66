"""Stopping an answer under way: at once in one process, through the store across processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from adapters.stackdock.demo import DEMO_USERS
from core.models import ErrorReply, Final, Inbound, Outcome, ReplyEvent, TextDelta, ToolStep
from core.service import AssistantService
from core.stopping import STOPPED_TEXT, Sideline, StopBoard, Stopped, until_stopped
from tests.fakes.ports.memory_store import MemoryMarkerRepo
from tests.fakes.ports.slow_provider import SlowProvider

ADMIN = f"email:{DEMO_USERS['admin']}"
OTHER = f"email:{DEMO_USERS['developer']}"
THREAD = "slack:T1:C1:1700000000.000100"


def question(identity: str = ADMIN, key: str = THREAD) -> Inbound:
    return Inbound(
        identity=identity,
        text="How many servers?",
        platform="console",
        is_dm=True,
        conversation_key=key,
    )


async def start(service: AssistantService, inbound: Inbound) -> asyncio.Task[list[ReplyEvent]]:
    async def collect() -> list[ReplyEvent]:
        return [event async for event in service.answer(inbound)]

    return asyncio.create_task(collect())


def service_of(kit, provider: SlowProvider, stop_check_s: float = 1.0) -> AssistantService:
    kit.providers = [provider]
    return AssistantService(kit.assistant, kit.clock, stop_check_s=stop_check_s)


async def test_stop_cancels_the_model_call_keeps_what_was_shown_and_records_the_spend(kit):
    provider = SlowProvider()
    service = service_of(kit, provider)
    answering = await start(service, question())
    await asyncio.wait_for(provider.streaming.wait(), 5)

    started = time.perf_counter()
    assert await service.stop(THREAD, ADMIN) is True
    events = await asyncio.wait_for(answering, 1)
    assert time.perf_counter() - started < 1.0
    assert provider.closed.is_set()  # the model stream itself was torn down

    end = events[-1]
    assert isinstance(end, ErrorReply)
    assert (end.outcome, end.reason, end.text) == (Outcome.CANCELLED, "stopped", STOPPED_TEXT)
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    # What the scrubber still held (a line not yet ended) was never shown, so it isn't kept.
    assert shown == "Counting\nyour servers\n"
    assert [e.name for e in events if isinstance(e, ToolStep)] == ["count_resources"]

    (row,) = await kit.audit_rows()
    assert (row.result, row.reason, row.id) == (Outcome.CANCELLED, "stopped", end.audit_id)
    assert (row.input_tokens, row.output_tokens) == (120, 30)  # the finished tool turn
    assert row.answer == f"Counting\nyour servers\n\n{STOPPED_TEXT}"
    assert row.tools == ["count_resources"]
    (spent,) = kit.store.usage.rows
    assert spent.usage.input_tokens == 120 and spent.audit_id == row.id
    # The thread remembers the question and what was shown of the answer.
    history = await kit.store.conversations.history(THREAD, 10)
    assert [m.role for m in history] == ["user", "assistant"]
    assert history[1].content == row.answer


async def test_only_the_asker_can_stop_their_answer(kit):
    provider = SlowProvider()
    service = service_of(kit, provider)
    answering = await start(service, question())
    await asyncio.wait_for(provider.streaming.wait(), 5)

    assert await service.stop(THREAD, OTHER) is False
    assert await service.stop("slack:T1:C1:another-thread", ADMIN) is False
    await asyncio.sleep(0.05)
    assert not answering.done() and not provider.closed.is_set()
    assert await service.stop(THREAD, ADMIN) is True
    assert isinstance((await asyncio.wait_for(answering, 1))[-1], ErrorReply)


async def test_a_stop_left_by_another_worker_is_seen_within_its_check_interval(kit):
    provider = SlowProvider()
    answering_worker = service_of(kit, provider, stop_check_s=0.1)
    other_worker = AssistantService(kit.assistant, kit.clock)  # same store, no answer of its own
    answering = await start(answering_worker, question())
    await asyncio.wait_for(provider.streaming.wait(), 5)

    markers_before = len(kit.store.markers.values)
    assert await other_worker.stop(THREAD, ADMIN) is False  # not here: left in the store
    assert len(kit.store.markers.values) == markers_before + 1
    end = (await asyncio.wait_for(answering, 1))[-1]
    assert isinstance(end, ErrorReply) and end.outcome is Outcome.CANCELLED
    assert provider.closed.is_set()
    (row,) = await kit.audit_rows()
    assert row.result is Outcome.CANCELLED and row.input_tokens == 120


async def test_a_stop_from_before_an_answer_began_does_not_stop_it(kit):
    worker = AssistantService(kit.assistant, kit.clock, stop_check_s=0.01)
    assert await worker.stop(THREAD, ADMIN) is False  # nothing under way; a marker is left
    kit.clock.now += timedelta(minutes=1)
    events = [e async for e in worker.answer(question())]
    assert isinstance(events[-1], Final)


async def test_stops_of_one_conversation_are_numbered_and_each_is_read_once():
    markers = MemoryMarkerRepo()
    board = StopBoard(markers, lambda: datetime.now(UTC))
    for _ in range(3):
        await board.stop(THREAD, ADMIN)
    assert sorted(markers.values) == [f"stop:{THREAD}:{n}" for n in (1, 2, 3)]
    signal = board.open(THREAD, ADMIN)
    assert await signal.check_store() is False  # all three were made before it began
    await board.stop(THREAD, OTHER)  # someone else's Stop: another marker, not for this one
    assert signal.stopped is False
    assert await signal.check_store() is False
    board.close(signal)
    assert await board.stop(THREAD, ADMIN) is False  # closed: not under way any more
    assert await signal.check_store() is True  # the marker is read by an answer of its own


async def test_until_stopped_passes_everything_through_without_a_signal():
    async def numbers():
        for n in range(3):
            yield n

    assert [n async for n in until_stopped(numbers(), None)] == [0, 1, 2]


async def test_an_answer_that_ends_leaves_nothing_registered(kit):
    worker = AssistantService(kit.assistant, kit.clock)
    events = [e async for e in worker.answer(question())]
    assert isinstance(events[-1], Final)
    assert await worker.stop(THREAD, ADMIN) is False


class CountingMarkers(MemoryMarkerRepo):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, key: str) -> str | None:
        self.reads += 1
        return await super().get(key)

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        self.reads += 1
        return await super().get_many(keys)


async def test_the_store_is_read_about_once_a_second_never_per_token():
    markers = CountingMarkers()
    board = StopBoard(markers, lambda: datetime.now(UTC), check_every_s=0.2)
    signal = board.open(THREAD, ADMIN)

    async def tokens():
        for n in range(500):  # 500 tokens over about 0.5 s
            await asyncio.sleep(0.001)
            yield n

    got = [n async for n in until_stopped(tokens(), signal)]
    assert len(got) == 500
    assert 1 <= markers.reads <= 6, markers.reads


async def test_one_read_a_look_for_every_answer_under_way_and_a_stop_still_reaches_its_own():
    markers = CountingMarkers()
    here = StopBoard(markers, lambda: datetime.now(UTC), check_every_s=0.05)
    elsewhere = StopBoard(markers, lambda: datetime.now(UTC))  # the worker the press reached
    signals = [here.open(f"{THREAD}-{n}", ADMIN) for n in range(50)]
    await asyncio.sleep(0.01)  # the answers began before the press
    assert await elsewhere.stop(f"{THREAD}-7", ADMIN) is False, "left as a marker"
    await asyncio.wait_for(signals[7].event.wait(), 5)
    assert [n for n, s in enumerate(signals) if s.stopped] == [7]
    # Each look was one read for all fifty (plus the stopped answer's own read of its marker).
    looks = markers.reads
    await asyncio.sleep(0.2)
    assert 1 <= markers.reads - looks <= 6, markers.reads - looks
    for signal in signals:
        here.close(signal)
    await asyncio.sleep(0.2)
    reads = markers.reads
    await asyncio.sleep(0.2)
    assert markers.reads == reads, "with nothing under way the store is not read"


class BrokenMarkers(MemoryMarkerRepo):
    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        raise ConnectionError("database down")


async def test_a_store_that_cannot_be_read_stops_nothing_and_the_looks_go_on(caplog):
    board = StopBoard(BrokenMarkers(), lambda: datetime.now(UTC), check_every_s=0.02)
    signal = board.open(THREAD, ADMIN)
    await asyncio.sleep(0.1)
    assert not signal.stopped
    assert "could not look for Stops" in caplog.text
    assert await board.stop(THREAD, ADMIN) is True, "a Stop in this process still works"


async def test_a_stop_pressed_where_only_someone_elses_answer_runs_reaches_the_other_worker():
    markers = MemoryMarkerRepo()
    here = StopBoard(markers, lambda: datetime.now(UTC))  # the worker the press reached
    there = StopBoard(markers, lambda: datetime.now(UTC))  # the worker answering the presser
    theirs = here.open(THREAD, OTHER)
    mine = there.open(THREAD, ADMIN)
    assert await here.stop(THREAD, ADMIN) is False, "nothing of the presser's runs here"
    assert theirs.stopped is False, "someone else's answer is never stopped"
    assert await mine.check_store() is True, "the presser's answer elsewhere sees the Stop"


async def test_reading_an_answer_makes_no_task_per_event():
    """A task (and a wait over several futures) per event made the Stop check most of the
    loop's work per answer; the tasks made must not grow with the answer's length."""
    loop = asyncio.get_running_loop()
    made = 0
    default = loop.get_task_factory()

    def counting(loop, coro, **kwargs):
        nonlocal made
        made += 1
        if default is not None:
            return default(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    board = StopBoard(MemoryMarkerRepo(), lambda: datetime.now(UTC))
    signal = board.open(THREAD, ADMIN)
    side: Sideline[str] = Sideline()

    async def pieces():
        for n in range(100):
            await asyncio.sleep(0)  # each piece comes on a later turn of the loop, as from a socket
            yield n

    loop.set_task_factory(counting)
    try:
        got = [n async for n in until_stopped(pieces(), signal, side)]
    finally:
        loop.set_task_factory(default)
    assert got == list(range(100))
    assert made <= 3, made


async def test_a_side_item_reaches_the_reader_while_the_event_it_precedes_is_awaited():
    side: Sideline[str] = Sideline()
    tool_done = asyncio.Event()
    closed = asyncio.Event()

    async def loop_with_a_tool():
        try:
            yield "text"
            side.put_nowait("Counting servers…")  # the tool starts...
            await tool_done.wait()  # ...and runs until the reader has seen that it started
            yield "step"
        finally:
            closed.set()

    reading = until_stopped(loop_with_a_tool(), None, side)
    assert await anext(reading) == "text"
    assert await anext(reading) == "Counting servers…"
    assert not tool_done.is_set()
    tool_done.set()
    assert await anext(reading) == "step"
    assert [n async for n in reading] == []
    assert closed.is_set()


async def test_a_local_stop_cancels_the_read_under_way_and_closes_the_events():
    board = StopBoard(None, lambda: datetime.now(UTC))
    signal = board.open(THREAD, ADMIN)
    started = asyncio.Event()
    closed = asyncio.Event()

    async def silent_model():
        try:
            yield "first"
            started.set()
            await asyncio.Event().wait()  # the model says nothing more until stopped
            yield "never"
        finally:
            closed.set()

    reading = until_stopped(silent_model(), signal)
    assert await anext(reading) == "first"
    waiting = asyncio.ensure_future(anext(reading))
    await started.wait()
    assert await board.stop(THREAD, ADMIN) is True
    try:
        await waiting
        raise AssertionError("the read was not stopped")
    except Stopped:
        pass
    assert closed.is_set()
    assert not signal._on_stop  # nothing of this answer is left listening


async def test_a_reader_that_goes_away_closes_the_events_and_leaves_no_task():
    board = StopBoard(MemoryMarkerRepo(), lambda: datetime.now(UTC))
    signal = board.open(THREAD, ADMIN)
    closed = asyncio.Event()
    before = asyncio.all_tasks()

    async def endless():
        try:
            while True:
                await asyncio.sleep(0)
                yield 1
        finally:
            closed.set()

    reading = until_stopped(endless(), signal, Sideline())
    assert await anext(reading) == 1
    await reading.aclose()
    assert closed.is_set()
    assert asyncio.all_tasks() == before
