"""The answer's deadline in the tool loop: it bounds each wait for the model's next event, as
`asyncio.timeout_at` around every read would, and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from core.models import ChatMessage, TextDelta, ToolSpec, TurnEnd, Usage
from core.providers.loop import ANSWER_TIMEOUT, TIMED_OUT_NOTE, LoopDone, run_tool_loop
from tests.fakes.ports.tool_runner import FakeToolRunner

QUESTION = [ChatMessage(role="user", content="How many servers do I have?")]


class Paced:
    """A model whose pieces come at once, or after a pause where a piece is a number."""

    name = "paced"
    model = "paced-1"

    def __init__(self, script: Sequence[str | float]) -> None:
        self.script = script
        self.closed = False

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        try:
            for step in self.script:
                if isinstance(step, float):
                    await asyncio.sleep(step)
                else:
                    yield TextDelta(step)
            yield TurnEnd((), Usage(self.name, self.model, 10, 5))
        finally:
            self.closed = True


async def test_time_running_out_between_reads_stops_the_next_read_that_waits() -> None:
    # The person's chat is slow to take the first piece; "b" is ready without waiting, so it
    # still comes, and the wait after it is where the answer stops.
    model = Paced(["a", "b", 0.5, "c"])
    events = []
    async for event in run_tool_loop(
        [model], "s", QUESTION, FakeToolRunner(), answer_timeout_s=0.1
    ):
        events.append(event)
        if event == TextDelta("a"):
            await asyncio.sleep(0.2)
    done = events[-1]
    assert isinstance(done, LoopDone)
    assert done.outcome.text == f"ab\n\n{TIMED_OUT_NOTE}"
    assert done.outcome.stopped == ANSWER_TIMEOUT
    assert model.closed


async def test_a_read_waiting_when_time_runs_out_is_stopped() -> None:
    model = Paced(["a", 5.0, "b"])
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = [
        e
        async for e in run_tool_loop([model], "s", QUESTION, FakeToolRunner(), answer_timeout_s=0.1)
    ]
    assert loop.time() - started < 2.0
    done = events[-1]
    assert isinstance(done, LoopDone) and done.outcome.stopped == ANSWER_TIMEOUT
    assert done.outcome.text == f"a\n\n{TIMED_OUT_NOTE}"


async def test_a_cancellation_from_elsewhere_is_no_timeout() -> None:
    model = Paced(["a", 5.0, "b"])

    async def answer() -> list[object]:
        return [
            e
            async for e in run_tool_loop(
                [model], "s", QUESTION, FakeToolRunner(), answer_timeout_s=30.0
            )
        ]

    task = asyncio.create_task(answer())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert model.closed


async def test_no_deadline_timer_outlives_the_answer() -> None:
    loop = asyncio.get_running_loop()
    model = Paced(["a", 0.01, "b"])
    events = [
        e
        async for e in run_tool_loop(
            [model], "s", QUESTION, FakeToolRunner(), answer_timeout_s=30.0
        )
    ]
    assert isinstance(events[-1], LoopDone) and events[-1].outcome.text == "ab"
    pending = [
        handle
        for handle in loop._scheduled  # type: ignore[attr-defined]
        if not handle.cancelled() and "_Watch" in getattr(handle._callback, "__qualname__", "")
    ]
    assert pending == []
