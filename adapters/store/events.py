"""Claims on inbound event ids, so a platform's re-delivery is answered only once."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import insert
from adapters.store.tables import processed_events as claims
from adapters.store.units import Units

# Platforms re-deliver within minutes; a day of claims is far more than enough.
KEEP_CLAIMS = timedelta(days=1)
CLAIMS = "stackdock-assistant:event-claims"


PRUNE_EVERY = 256


def _claim_in(conn: Connection, event_id: str, now: datetime, prune: bool) -> bool:
    # A claim older than KEEP_CLAIMS no longer counts, pruned or not: take it over.
    stmt = (
        insert(conn, claims)
        .values(event_id=event_id, claimed_at=now)
        .on_conflict_do_update(
            index_elements=["event_id"],
            set_={"claimed_at": now},
            where=claims.c.claimed_at < now - KEEP_CLAIMS,
        )
        .returning(claims.c.event_id)
    )
    inserted = conn.execute(stmt).first() is not None
    if prune:
        conn.execute(sa.delete(claims).where(claims.c.claimed_at < now - KEEP_CLAIMS))
    return inserted


class SqlEventRepo:
    def __init__(self, engine: AsyncEngine, units: Units) -> None:
        self._engine = engine
        self._units = units
        self._claims = 0

    async def claim(self, event_id: str, now: datetime) -> bool:
        self._claims += 1
        prune = self._claims % PRUNE_EVERY == 1  # old claims are dead weight, not urgent
        # One statement on PostgreSQL, where ON CONFLICT is atomic on its own and claims run
        # side by side; on SQLite the lane queues claims in-process, which beats SQLite's busy
        # handler (it sleeps up to 100 ms a retry).
        return await self._units.write_each(_claim_in, event_id, now, prune)
