"""Sliding-window rate limits, exact across every process sharing the database."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.locks import KeyedLocks
from adapters.store.pending import open_in as open_pending
from adapters.store.tables import rate_limit_hits as hits
from core.audit import utc
from core.models import Admission, AuditRecord

PRUNE_EVERY = 16


class SqlRateLimitRepo:
    def __init__(self, engine: AsyncEngine, locks: KeyedLocks) -> None:
        self._engine = engine
        self._locks = locks

    async def admit(
        self,
        key: str,
        limit: int,
        window_s: float,
        now: datetime,
        *,
        pending: AuditRecord | None = None,
    ) -> Admission:
        now = utc(now)
        window = timedelta(seconds=window_s)
        start = now - window
        in_window = sa.select(sa.func.count(), sa.func.min(hits.c.at)).where(
            hits.c.key == key, hits.c.at > start
        )
        # Per key, so one busy user never waits on another.
        async with self._locks.transaction(f"rate-limit:{key}") as conn:
            count, oldest = (await conn.execute(in_window)).one()
            if count % PRUNE_EVERY == 0:
                # Hits that left the window are dead weight; clear them now and then, while
                # the key is locked, rather than paying a DELETE on every question.
                await conn.execute(sa.delete(hits).where(hits.c.key == key, hits.c.at <= start))
            if count < limit:
                hit = sa.insert(hits).values(key=key, at=now).returning(hits.c.id)
                slot = (await conn.execute(hit)).scalar_one()
                if pending is not None:
                    await open_pending(conn, pending, slot)
                return Admission(True, count + 1, 0.0)
        retry_after = (oldest + window - now).total_seconds() if oldest is not None else window_s
        # `now` was read before the lock; a hit another process recorded meanwhile can lie a
        # moment after it, and no wait is ever longer than the window itself.
        return Admission(False, count, min(max(retry_after, 0.0), window_s))
