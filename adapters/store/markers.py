"""Once-only facts shared by every worker, kept in the small `sync_state` key-value table."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import insert
from adapters.store.tables import sync_state

# Keys of this repo are prefixed so they can never collide with the sync sources' cursors.
PREFIX = "marker:"


class SqlMarkerRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
