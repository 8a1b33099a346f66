"""Claims on inbound event ids, so a platform's re-delivery is answered only once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import per_dialect
from adapters.store.tables import processed_events as claims
from adapters.store.units import Units

# Platforms re-deliver within minutes; a day of claims is far more than enough.
KEEP_CLAIMS = timedelta(days=1)
CLAIMS = "stackdock-assistant:event-claims"


PRUNE_EVERY = 256


def _claim(table_insert: Any) -> Any:
    at = sa.bindparam("now", type_=claims.c.claimed_at.type)
    stale = sa.bindparam("stale", type_=claims.c.claimed_at.type)
    head = table_insert(claims).values(
        event_id=sa.bindparam("event_id", type_=sa.Text), claimed_at=at
    )
    return head.on_conflict_do_update(
        index_elements=["event_id"],
        set_={"claimed_at": head.excluded.claimed_at},
        where=claims.c.claimed_at < stale,
    ).returning(claims.c.event_id)


# Built once, with parameters: cheaper per event than building them each time.
_CLAIM = per_dialect(_claim)
_PRUNE = sa.delete(claims).where(
    claims.c.claimed_at < sa.bindparam("stale", type_=claims.c.claimed_at.type)
)


def _claim_in(conn: Connection, event_id: str, now: datetime, prune: bool) -> bool:
    # A claim older than KEEP_CLAIMS no longer counts, pruned or not: take it over.
    params = {"event_id": event_id, "now": now, "stale": now - KEEP_CLAIMS}
    inserted = conn.execute(_CLAIM[conn.dialect.name], params).first() is not None
    if prune:
        conn.execute(_PRUNE, {"stale": params["stale"]})
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
