"""Units of store work: a plain function over a Connection, run as one transaction.

The answer path's store work (claim, admit, history, budget, the question's record) is written
once, as synchronous SQLAlchemy Core over a `Connection`, and run here:

- PostgreSQL: on the async engine, through `run_sync` (each statement still goes to asyncpg
  without blocking the loop).
- SQLite: in the `SqliteLane`, one thread of its own with one connection. aiosqlite hands
  every cursor call to its thread and back (cursor, execute, fetch, close: about five hand-offs
  a statement, ~90 per question); the lane hands over the whole unit once. SQLite has one
  writer anyway, so one thread for the answer path's writes costs no concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


class SqliteLane:
    """One thread and one connection to a SQLite file, for whole units of work."""

    def __init__(self, path: str) -> None:
        # The driver's own transaction handling is off: a write unit begins IMMEDIATE, taking
        # the write lock before its first read, so a unit that reads then writes never fails
        # on a lock upgrade when another process wrote in between.
        self._engine = sa.create_engine(
            f"sqlite:///{path}",
            poolclass=sa.pool.StaticPool,
            connect_args={"check_same_thread": False, "isolation_level": None},
        )
        event.listen(self._engine, "connect", prepare_sqlite)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-lane")

    async def write(self, unit: Unit[T], *args: Any) -> T:
        call = functools.partial(self._write, unit, args)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def read(self, unit: Unit[T], *args: Any) -> T:
        call = functools.partial(self._read, unit, args)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def _write(self, unit: Unit[T], args: tuple[Any, ...]) -> T:
        conn: Connection
        with self._engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return unit(conn, *args)

    def _read(self, unit: Unit[T], args: tuple[Any, ...]) -> T:
        with self._engine.connect() as conn:
            return unit(conn, *args)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.dispose()


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
