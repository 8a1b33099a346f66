"""Claims on inbound event ids, so a platform's re-delivery is answered only once."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.store.dialects import insert
from core.store.tables import processed_events as claims

# Platforms re-deliver within minutes; a day of claims is far more than enough.
KEEP_CLAIMS = timedelta(days=1)


class SqlEventRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, event_id: str, now: datetime) -> bool:
        async with self._engine.begin() as conn:
            stmt = (
                insert(conn, claims)
                .values(event_id=event_id, claimed_at=now)
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(claims.c.event_id)
            )
            inserted = (await conn.execute(stmt)).first() is not None
            await conn.execute(sa.delete(claims).where(claims.c.claimed_at < now - KEEP_CLAIMS))
        return inserted
