"""Once-only facts shared by every worker, kept in the small `sync_state` key-value table."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import insert
from adapters.store.tables import sync_state
from adapters.store.units import Units

# Keys of this repo are prefixed so they can never collide with the sync sources' cursors.
PREFIX = "marker:"


# Keys per statement: far under every database's limit on bound parameters.
READ_BATCH = 500
_MANY = sa.select(sync_state.c.key, sync_state.c.value).where(
    sync_state.c.key.in_(sa.bindparam("keys", expanding=True))
)


def _get_many_in(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(keys), READ_BATCH):
        batch = [PREFIX + key for key in keys[start : start + READ_BATCH]]
        found.update(
            (key[len(PREFIX) :], value) for key, value in conn.execute(_MANY, {"keys": batch})
        )
    return found


class SqlMarkerRepo:
    def __init__(self, engine: AsyncEngine, units: Units) -> None:
        self._engine = engine
        self._units = units

    async def mark(self, key: str, value: str) -> bool:
        # INSERT … ON CONFLICT DO NOTHING is atomic in both databases: of many workers racing
        # on one key, exactly one gets a row back.
        async with self._engine.begin() as conn:
            stmt = (
                insert(conn, sync_state)
                .values(key=PREFIX + key, value=value)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(sync_state.c.key)
            )
            return (await conn.execute(stmt)).first() is not None

    async def get(self, key: str) -> str | None:
        stmt = sa.select(sync_state.c.value).where(sync_state.c.key == PREFIX + key)
        async with self._engine.connect() as conn:
            return await conn.scalar(stmt)

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        # Through the units: on SQLite one hand-off to the lane, not aiosqlite's several per
        # statement. Every answer under way in a process is looked up by this one read.
        if not keys:
            return {}
        return await self._units.read(_get_many_in, list(keys))
