"""Units of store work: a plain function over a Connection, run as one transaction.

The answer path's store work (claim, admit, history, budget, the question's record) is written
once, as synchronous SQLAlchemy Core over a `Connection`, and run here:

- PostgreSQL: on the async engine, through `run_sync` (each statement still goes to asyncpg
  without blocking the loop).
- SQLite: in the `SqliteLane`, a writer thread and a reader thread, each with one connection.
  aiosqlite hands every cursor call to its thread and back (cursor, execute, fetch, close:
  about five hand-offs a statement, ~90 per question); the lane hands over the whole unit
  once. SQLite has one writer anyway, so one thread for the answer path's writes costs no
  concurrency, and writes queued together are committed together.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.locks import autocommit

T = TypeVar("T")
# A unit: called with a Connection, then its own positional arguments.
Unit = Callable[..., T]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def prepare_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers go on while one writer commits; the timeout makes a second writer
        # wait its turn instead of failing with "database is locked".
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted rows (a mirror replaced, conversations pruned) are overwritten, not left
        # readable in free pages of the file.
        cursor.execute("PRAGMA secure_delete=ON")
    finally:
        cursor.close()


# Write units queued while a batch runs are committed together, at most this many at once.
WRITE_BATCH = 64


def _raisable(error: BaseException) -> BaseException:
    # A future refuses StopIteration (it would end the awaiting coroutine's generator).
    if isinstance(error, StopIteration | StopAsyncIteration):
        return RuntimeError(f"a store unit raised {type(error).__name__}")
    return error


@dataclass(slots=True)
class _Job:
    unit: Unit[Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


def _lane_engine(path: str) -> sa.Engine:
    # The driver's own transaction handling is off: a write begins IMMEDIATE, taking the write
    # lock before its first read, so a unit that reads then writes never fails on a lock
    # upgrade when another process wrote in between; a read runs each statement on its own.
    engine = sa.create_engine(
        f"sqlite:///{path}",
        poolclass=sa.pool.StaticPool,
        hide_parameters=True,  # as the store's engine: no question or answer in an error
        connect_args={"check_same_thread": False, "isolation_level": None},
    )
    event.listen(engine, "connect", prepare_sqlite)
    return engine


class SqliteLane:
    """A SQLite file's answer-path work on two threads of its own, each with one connection.

    The writer commits the write units queued while its last batch ran as one transaction,
    each unit inside a savepoint of its own (a unit that fails is rolled back alone, and its
    caller gets its error): under a burst, 200 records cost a few commits and a few wake-ups
    of the event loop instead of 200 of each. A unit's caller hears back only after the
    commit. The reader runs read units beside the writer (WAL lets a reader go on while the
    writer writes), so a question's reads never queue behind other people's writes.
    """

    def __init__(self, path: str) -> None:
        self._writer = _lane_engine(path)
        self._reader = _lane_engine(path)
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-reader")
        self._queue: deque[_Job] = deque()
        self._writing = False  # a batch is under way; read and set on the event loop only
        self._loop: asyncio.AbstractEventLoop | None = None  # the batch's
        self._closed = False

    async def write(self, unit: Unit[T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("the SQLite lane is closed")
        loop = asyncio.get_running_loop()
        if self._writing and self._loop not in (None, loop) and self._loop.is_closed():
            # The loop of the batch under way ended before it heard back (a test's loop, a
            # restarted runner): that batch's callers are gone with it.
            self._writing = False
        job = _Job(unit, args, loop.create_future())
        self._queue.append(job)
        if not self._writing:
            self._write_next(loop)
        result: T = await job.future
        return result

    async def read(self, unit: Unit[T], *args: Any) -> T:
        call = functools.partial(self._read, unit, args)
        return await asyncio.get_running_loop().run_in_executor(self._read_thread, call)

    def _write_next(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[_Job] = []
        while self._queue and len(batch) < WRITE_BATCH:
            job = self._queue.popleft()
            if not job.future.cancelled():  # its caller went away before it began: not run
                batch.append(job)
        if not batch:
            return
        self._writing, self._loop = True, loop
        try:
            done = loop.run_in_executor(self._write_thread, self._commit, batch)
        except RuntimeError as exc:  # the lane was closed meanwhile
            self._writing = False
            self._fail([*batch, *self._queue], exc)
            self._queue.clear()
            return
        done.add_done_callback(functools.partial(self._settle, loop, batch))

    def _settle(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[_Job],
        done: asyncio.Future[list[tuple[bool, Any]]],
    ) -> None:
        try:
            outcomes: list[tuple[bool, Any]]
            if done.cancelled():
                outcomes = [(False, RuntimeError("the SQLite lane was closed"))] * len(batch)
            elif (error := done.exception()) is not None:
                outcomes = [(False, error)] * len(batch)
            else:
                outcomes = done.result()
            for job, (ok, value) in zip(batch, outcomes, strict=True):
                if job.future.done():
                    continue  # its caller went away; the work was done all the same
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(_raisable(value))
        finally:
            # Whatever happened above, the lane goes on: one odd error must not stop every
            # later write of the process.
            self._fail(batch, RuntimeError("the SQLite lane lost this write's outcome"))
            self._writing = False
            if self._queue:
                self._write_next(loop)

    @staticmethod
    def _fail(jobs: Sequence[_Job], error: BaseException) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(error)

    def _commit(self, batch: list[_Job]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn: Connection
            with self._writer.begin() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                if len(batch) == 1:
                    job = batch[0]
                    outcomes.append((True, job.unit(conn, *job.args)))
                else:
                    for job in batch:
                        outcomes.append(self._in_savepoint(conn, job))
        except Exception as exc:
            # Nothing of the batch was committed: every unit in it failed with this.
            return [(False, exc)] * len(batch)
        return outcomes

    @staticmethod
    def _in_savepoint(conn: Connection, job: _Job) -> tuple[bool, Any]:
        conn.exec_driver_sql("SAVEPOINT unit")
        try:
            value = job.unit(conn, *job.args)
        except Exception as exc:
            conn.exec_driver_sql("ROLLBACK TO unit")
            conn.exec_driver_sql("RELEASE unit")
            return False, exc
        conn.exec_driver_sql("RELEASE unit")
        return True, value

    def _read(self, unit: Unit[T], args: tuple[Any, ...]) -> T:
        with self._reader.connect() as conn:
            return unit(conn, *args)

    def close(self) -> None:
        """After the store's work is drained: a batch under way finishes; a write queued
        behind it fails (its caller falls back as for any failed write), none hangs."""
        self._closed = True
        for thread in (self._write_thread, self._read_thread):
            thread.shutdown(wait=True)
        self._writer.dispose()
        self._reader.dispose()


class Units:
    """Where the store runs a unit: the SQLite lane, or the async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = autocommit(engine)  # PostgreSQL: a read is one round trip, no BEGIN
        database = engine.url.database or ""
        file_backed = engine.dialect.name == "sqlite" and database not in ("", ":memory:")
        # An in-memory database lives in its engine's connection: no second connection sees it.
        self.lane = SqliteLane(database) if file_backed else None

    async def write(self, unit: Unit[T], *args: Any) -> T:
        """`unit` in one transaction (on SQLite BEGIN IMMEDIATE: it holds the write lock)."""
        if self.lane is not None:
            return await self.lane.write(unit, *args)
        async with self._engine.begin() as conn:
            return await conn.run_sync(unit, *args)

    async def write_each(self, unit: Unit[T], *args: Any) -> T:
        """A unit of one statement (or of statements that need not commit together), each
        committed on its own: on PostgreSQL no BEGIN and COMMIT, two round trips of three.
        On SQLite it is still one lane transaction."""
        if self.lane is not None:
            return await self.lane.write(unit, *args)
        async with self._reads.connect() as conn:
            return await conn.run_sync(unit, *args)

    async def read(self, unit: Unit[T], *args: Any) -> T:
        if self.lane is not None:
            return await self.lane.read(unit, *args)
        async with self._reads.connect() as conn:
            return await conn.run_sync(unit, *args)

    async def close(self) -> None:
        if self.lane is not None:
            lane, self.lane = self.lane, None
            with contextlib.suppress(RuntimeError):
                await asyncio.to_thread(lane.close)
