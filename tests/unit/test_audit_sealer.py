"""The sealer task: woken by writes, it keeps trying while the database fails, and stops
between passes when closed."""

from __future__ import annotations

import asyncio

from adapters.store.audit_sealer import ChainSealer


class FlakySeal:
    """A store's seal that fails `failures` times, then seals."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.sealed = asyncio.Event()

    async def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("database down")
        self.sealed.set()
        return 1


async def test_a_failed_pass_is_retried_until_the_rows_are_sealed() -> None:
    seal = FlakySeal(failures=2)
    sealer = ChainSealer(seal, idle_s=60, retry_s=0, gather_s=0)
    sealer.nudge()
    await asyncio.wait_for(seal.sealed.wait(), 5)
    assert seal.calls == 3
    await sealer.close()


async def test_close_stops_the_task_and_seals_what_is_left() -> None:
    seal = FlakySeal(failures=0)
    sealer = ChainSealer(seal, idle_s=60, retry_s=0, gather_s=60)
    sealer.nudge()  # the pass waits 60 s to gather rows: close must not wait for it
    for _ in range(3):
        await asyncio.sleep(0)  # let the task reach its gathering wait
    await asyncio.wait_for(sealer.close(), 5)
    assert seal.calls == 1, "close seals once itself instead of waiting for the pass"
    assert all(t.get_name() != "audit-sealer" for t in asyncio.all_tasks())


async def test_a_sealer_never_woken_starts_no_task() -> None:
    seal = FlakySeal(failures=0)
    sealer = ChainSealer(seal)
    await sealer.close()
    assert seal.calls == 0
