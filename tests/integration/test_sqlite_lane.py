"""The SQLite lane: write units queued together commit together, each in a savepoint of its
own; reads run beside the writer; a caller that goes away loses nothing."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection

from adapters.store.units import SqliteLane


def create(conn: Connection) -> None:
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY)")


def insert(conn: Connection, n: int) -> int:
    conn.exec_driver_sql(f"INSERT INTO t (n) VALUES ({int(n)})")
    return n * 10


def numbers(conn: Connection) -> list[int]:
    return [row[0] for row in conn.exec_driver_sql("SELECT n FROM t ORDER BY n")]


class HeldWrite:
    """A write unit that inserts `n`, then holds its transaction open until released."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.inside, self.release = threading.Event(), threading.Event()

    def __call__(self, conn: Connection) -> None:
        insert(conn, self.n)
        self.inside.set()
        self.release.wait(10)

    async def started(self, lane: SqliteLane) -> asyncio.Future[None]:
        """The write, once it is inside its transaction."""
        writing = asyncio.ensure_future(lane.write(self))
        await asyncio.to_thread(self.inside.wait, 10)
        return writing


@pytest.fixture
async def lane(tmp_path: Path):
    lane = SqliteLane(str(tmp_path / "lane.db"))
    await lane.write(create)
    yield lane
    await asyncio.to_thread(lane.close)


async def test_units_queued_together_each_get_their_own_outcome(lane: SqliteLane) -> None:
    await lane.write(insert, 3)
    # 3 again breaks the primary key: that unit alone fails, the rest of its batch lands.
    results = await asyncio.gather(
        *(lane.write(insert, n) for n in (1, 2, 3, 4, 5)), return_exceptions=True
    )
    assert results[:2] == [10, 20] and results[3:] == [40, 50]
    assert isinstance(results[2], Exception) and "UNIQUE" in str(results[2])
    assert await lane.read(numbers) == [1, 2, 3, 4, 5]


async def test_a_read_is_not_queued_behind_a_write_under_way(lane: SqliteLane) -> None:
    held = HeldWrite(7)
    writing = await held.started(lane)
    assert await lane.read(numbers) == [], "the reader answered while the writer held its lock"
    assert not writing.done()
    held.release.set()
    await writing
    assert await lane.read(numbers) == [7]


async def test_a_write_whose_caller_went_away_runs_only_if_it_had_begun(lane: SqliteLane) -> None:
    held = HeldWrite(1)
    first = await held.started(lane)
    queued = asyncio.ensure_future(lane.write(insert, 8))
    await asyncio.sleep(0)
    queued.cancel()  # gone before its batch began: not run (an admission takes no slot)
    first.cancel()  # gone while its batch runs: it is committed all the same
    held.release.set()
    assert await lane.write(insert, 9) == 90
    assert await lane.read(numbers) == [1, 9]


def raises_stop_iteration(conn: Connection) -> None:
    next(iter(()))  # a unit's bug: StopIteration, which a future refuses to carry


async def test_a_unit_that_raises_anything_fails_alone_and_the_lane_goes_on(
    lane: SqliteLane,
) -> None:
    results = await asyncio.gather(
        lane.write(raises_stop_iteration), lane.write(insert, 2), return_exceptions=True
    )
    assert isinstance(results[0], RuntimeError) and "StopIteration" in str(results[0])
    assert results[1] == 20
    assert await asyncio.wait_for(lane.write(insert, 3), 10) == 30, "later writes still run"


async def test_closing_fails_the_writes_queued_behind_the_last_batch(tmp_path: Path) -> None:
    lane = SqliteLane(str(tmp_path / "closing.db"))
    await lane.write(create)
    held = HeldWrite(1)
    first = await held.started(lane)
    queued = asyncio.ensure_future(lane.write(insert, 2))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(asyncio.to_thread(lane.close))
    held.release.set()
    await closing
    await first  # the batch under way finished and was committed
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(queued, 10)  # failed, so its caller falls back; never hangs
    with pytest.raises(RuntimeError):
        await lane.write(insert, 3)
