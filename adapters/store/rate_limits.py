"""Sliding-window rate limits, exact across every process sharing the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adapters.store.pending import open_in as open_pending
from adapters.store.pending import pending_row
from adapters.store.tables import pending_questions as pending
from adapters.store.tables import rate_limit_hits as hits
from adapters.store.units import Units
from core.audit import utc
from core.models import Admission, AuditRecord

PRUNE_EVERY = 16


def _admit_at_once(
    in_window: sa.Select[int, Any],
    key: str,
    limit: int,
    now: datetime,
    record: AuditRecord | None,
) -> sa.Select[int, Any, Any]:
    """PostgreSQL: (count, oldest, the new hit's id or NULL), the hit and its pending question
    inserted only when the window has room, all in one round trip."""
    window = in_window.cte("window")
    take = (
        sa.insert(hits)
        .from_select(
            ["key", "at"],
            sa.select(sa.literal(key, hits.c.key.type), sa.literal(now, hits.c.at.type))
            .select_from(window)
            .where(window.c.n < limit),
        )
        .returning(hits.c.id)
        .cte("take")
    )
    found = sa.select(window.c.n, window.c.oldest, sa.select(take.c.id).scalar_subquery())
    if record is None:
        return found
    row = pending_row(record)
    names = [name for name in row if name != "slot"]
    values = [sa.literal(row[name], pending.c[name].type) for name in names]
    opened = (
        sa.insert(pending)
        .from_select([*names, "slot"], sa.select(*values, take.c.id))
        .cte("opened")
    )
    return found.add_cte(opened)


def _admit_in(
    conn: Connection,
    key: str,
    limit: int,
    start: datetime,
    now: datetime,
    pending: AuditRecord | None,
) -> tuple[int, datetime | None, int | None]:
    """(hits in the window, the oldest one, the new hit's id or None when refused)."""
    in_window = sa.select(sa.func.count().label("n"), sa.func.min(hits.c.at).label("oldest")).where(
        hits.c.key == key, hits.c.at > start
    )
    if conn.dialect.name == "postgresql":
        # Count, hit and pending question in one statement, after the lock's own: its
        # snapshot is taken once the lock is held, so it sees every committed hit.
        count, oldest, slot = conn.execute(
            _admit_at_once(in_window, key, limit, now, pending)
        ).one()
    else:
        count, oldest = conn.execute(in_window).one()
        slot = None
        if count < limit:
            hit = sa.insert(hits).values(key=key, at=now).returning(hits.c.id)
            slot = conn.execute(hit).scalar_one()
            if pending is not None:
                open_pending(conn, pending, slot)
    if count % PRUNE_EVERY == 0:
        # Hits that left the window are dead weight; clear them now and then, while the key
        # is locked, rather than paying a DELETE on every question.
        conn.execute(sa.delete(hits).where(hits.c.key == key, hits.c.at <= start))
    return count, oldest, slot


class SqlRateLimitRepo:
    def __init__(self, units: Units) -> None:
        self._units = units

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
        # Locked per key, so one busy user never waits on another.
        count, oldest, slot = await self._units.write(
            _admit_in, key, limit, start, now, pending, lock=f"rate-limit:{key}"
        )
        if slot is not None:
            return Admission(True, count + 1, 0.0)
        retry_after = (oldest + window - now).total_seconds() if oldest is not None else window_s
        # `now` was read before the lock; a hit another process recorded meanwhile can lie a
        # moment after it, and no wait is ever longer than the window itself.
        return Admission(False, count, min(max(retry_after, 0.0), window_s))
