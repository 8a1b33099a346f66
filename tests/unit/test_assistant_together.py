"""The limits check and the history read run together, as `asyncio.gather` would run them."""

from __future__ import annotations

import asyncio
import gc

import pytest

from core.assistant import _together


async def test_both_results_come_back_and_both_ran_at_once() -> None:
    order: list[str] = []

    async def first() -> str:
        order.append("first starts")
        await asyncio.sleep(0.01)
        order.append("first ends")
        return "limits"

    async def second() -> str:
        order.append("second starts")
        await asyncio.sleep(0.01)
        order.append("second ends")
        return "history"

    assert await _together(first(), second()) == ("limits", "history")
    assert order[:2] == ["first starts", "second starts"]


async def test_a_failure_of_the_second_is_raised() -> None:
    async def first() -> int:
        return 1

    async def second() -> int:
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        await _together(first(), second())


async def test_a_failure_of_the_first_leaves_the_second_to_finish_unnoticed() -> None:
    finished = asyncio.Event()
    unretrieved: list[object] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))

    async def first() -> int:
        await asyncio.sleep(0)
        raise ConnectionError("database down")

    async def second() -> int:
        await asyncio.sleep(0.01)
        finished.set()
        raise ConnectionError("history down too")

    async def failure() -> str:
        try:
            await _together(first(), second())
        except ConnectionError as exc:
            return str(exc)  # not the exception itself: its frames would keep the task alive
        return "no failure"

    assert await failure() == "database down"
    await asyncio.wait_for(finished.wait(), 1)
    await asyncio.sleep(0.01)
    gc.collect()
    assert unretrieved == []


async def test_being_cancelled_cancels_both() -> None:
    second_cancelled = asyncio.Event()

    async def first() -> int:
        await asyncio.sleep(10)
        return 1

    async def second() -> int:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            second_cancelled.set()
            raise
        return 2

    task = asyncio.create_task(_together(first(), second()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(second_cancelled.wait(), 1)
