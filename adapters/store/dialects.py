"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")


def per_dialect(build: Callable[[Callable[[sa.Table], Any]], T]) -> dict[str, T]:
    """A statement built once for each database, by dialect name: `build` gets that dialect's
    `insert` (which knows ON CONFLICT). For statements built at import, not per call."""
    return {"postgresql": build(postgresql.insert), "sqlite": build(sqlite.insert)}


def insert(
    conn: AsyncConnection | Connection, table: sa.Table
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that knows ON CONFLICT, in the connection's own dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database: {conn.dialect.name}")


async def upsert(conn: AsyncConnection, table: sa.Table, row: dict[str, object]) -> None:
    """Inserts `row`, or overwrites the non-key columns of the row with the same primary key."""
    stmt = insert(conn, table).values(row)
    keys = [column.name for column in table.primary_key]
    changed = {name: stmt.excluded[name] for name in row if name not in keys}
    await conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changed))
