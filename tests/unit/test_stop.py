"""Stopping an answer under way: at once in one process, through the store across processes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from adapters.stackdock.demo import DEMO_USERS
from core.models import ErrorReply, Final, Inbound, Outcome, ReplyEvent, TextDelta, ToolStep
from core.service import AssistantService
from core.stopping import STOPPED_TEXT, StopBoard, until_stopped
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


async def test_a_stop_pressed_where_only_someone_elses_answer_runs_reaches_the_other_worker():
    markers = MemoryMarkerRepo()
    here = StopBoard(markers, lambda: datetime.now(UTC))  # the worker the press reached
    there = StopBoard(markers, lambda: datetime.now(UTC))  # the worker answering the presser
    theirs = here.open(THREAD, OTHER)
    mine = there.open(THREAD, ADMIN)
    assert await here.stop(THREAD, ADMIN) is False, "nothing of the presser's runs here"
    assert theirs.stopped is False, "someone else's answer is never stopped"
    assert await mine.check_store() is True, "the presser's answer elsewhere sees the Stop"
