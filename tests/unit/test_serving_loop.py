"""The event loop the serving commands run on (bot/serving.py `run`): uvloop's where it is
installed, asyncio's own where it is not, with the same result either way."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot import serving


async def _loop_and_answer() -> tuple[str, int]:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    answer = await asyncio.to_thread(lambda: 42)  # work handed to a thread comes back
    return type(loop).__module__, answer


def test_serving_runs_on_uvloop_where_it_is_installed() -> None:
    pytest.importorskip("uvloop")
    module, answer = serving.run(_loop_and_answer())
    assert (module.split(".")[0], answer) == ("uvloop", 42)


def test_serving_runs_on_asyncios_loop_without_uvloop(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    module, answer = serving.run(_loop_and_answer())
    assert (module.split(".")[0], answer) == ("asyncio", 42)


def test_serving_on_windows_never_asks_for_uvloop(monkeypatch) -> None:
    monkeypatch.setattr(serving.sys, "platform", "win32")
    loop = serving.new_event_loop()
    try:
        assert type(loop).__module__.split(".")[0] == "asyncio"
    finally:
        loop.close()
