"""Transactions serialized per key: the rate limit of one user, or the audit chain.

PostgreSQL may be shared by many processes, so there the lock is a transaction-scoped advisory
lock, released by the commit itself. SQLite deployments are one process, where an asyncio lock
per key suffices; it is shared by every engine of the process on the same database file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncIterator

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# Unused locks vanish on their own, so a key seen once does not stay in memory.
_local_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
    weakref.WeakValueDictionary()
)

_ADVISORY_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


class KeyedLocks:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._advisory = engine.dialect.name == "postgresql"
        database = engine.url.database or ""
        self._scope = os.path.abspath(database) if database not in ("", ":memory:") else database

    @contextlib.asynccontextmanager
    async def transaction(self, key: str) -> AsyncIterator[AsyncConnection]:
        """A transaction that no other holder of `key` runs at the same time. Keep it short."""
        if self._advisory:
            async with self._engine.begin() as conn:
                await conn.execute(_ADVISORY_LOCK, {"key": key})
                yield conn
            return
        lock = _local_locks.get((self._scope, key))
        if lock is None:
            lock = _local_locks[(self._scope, key)] = asyncio.Lock()
        # Lock first, connection second: waiters then hold no pooled connection.
        async with lock, self._engine.begin() as conn:
            # The asyncio lock covers this process; BEGIN IMMEDIATE takes SQLite's write lock
            # up front, so another process on the same file (a CLI `ask` beside the bot)
            # waits instead of reading the same chain head and forking the chain.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, for work of one statement: on PostgreSQL no BEGIN and COMMIT (two round
    trips of three). SQLite is left as it is: there autocommit costs a thread hop more."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")
