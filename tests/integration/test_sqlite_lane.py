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
    inside, release = threading.Event(), threading.Event()

    def slow_write(conn: Connection) -> None:
        insert(conn, 7)
        inside.set()
        release.wait(10)  # holds the write transaction open

    writing = asyncio.ensure_future(lane.write(slow_write))
    await asyncio.to_thread(inside.wait, 10)
    assert await lane.read(numbers) == [], "the reader answered while the writer held its lock"
    assert not writing.done()
    release.set()
    await writing
    assert await lane.read(numbers) == [7]


async def test_a_caller_that_goes_away_loses_nothing_and_the_lane_goes_on(
    lane: SqliteLane,
) -> None:
    inside, release = threading.Event(), threading.Event()

    def held(conn: Connection) -> None:
        inside.set()
        release.wait(10)

    first = asyncio.ensure_future(lane.write(held))
    await asyncio.to_thread(inside.wait, 10)
    queued = asyncio.ensure_future(lane.write(insert, 8))
    await asyncio.sleep(0)
    queued.cancel()  # its caller goes away while it waits for the batch before it
    release.set()
    await first
    assert await lane.write(insert, 9) == 90
    assert await lane.read(numbers) == [8, 9], "the unit was written though nobody waited"
