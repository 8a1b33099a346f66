"""Claims on inbound event ids, so a platform's re-delivery is answered only once."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import insert
from adapters.store.locks import KeyedLocks, autocommit
from adapters.store.tables import processed_events as claims

# Platforms re-deliver within minutes; a day of claims is far more than enough.
KEEP_CLAIMS = timedelta(days=1)
CLAIMS = "stackdock-assistant:event-claims"


PRUNE_EVERY = 256


class SqlEventRepo:
    def __init__(self, engine: AsyncEngine, locks: KeyedLocks) -> None:
        self._engine = engine
        # One statement on PostgreSQL: committed on its own, no BEGIN or COMMIT round trip.
        self._single = engine if engine.dialect.name == "sqlite" else autocommit(engine)
        self._locks = locks
        self._sqlite = engine.dialect.name == "sqlite"
        self._claims = 0

    async def claim(self, event_id: str, now: datetime) -> bool:
        self._claims += 1
        prune = self._claims % PRUNE_EVERY == 1  # old claims are dead weight, not urgent
        # SQLite has one writer: a burst of claims queued in-process (BEGIN IMMEDIATE under
        # an asyncio lock) beats SQLite's busy handler, which sleeps up to 100 ms a retry.
        # PostgreSQL's ON CONFLICT is atomic on its own, so there claims run side by side.
        transaction = self._locks.transaction(CLAIMS) if self._sqlite else self._single.begin()
        async with transaction as conn:
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
            inserted = (await conn.execute(stmt)).first() is not None
            if prune:
                await conn.execute(sa.delete(claims).where(claims.c.claimed_at < now - KEEP_CLAIMS))
        return inserted
