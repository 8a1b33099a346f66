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


_ADMIT = sa.text(
    "SELECT o_count, o_oldest, o_slot FROM stackdock_admit(:lock, :key, :limit, :start, :now, "
    ":prune_every, :pending_id, :opened_at, :host, :boot_id, :pid, :pid_start, :record)"
).bindparams(
    sa.bindparam("start", type_=hits.c.at.type),
    sa.bindparam("now", type_=hits.c.at.type),
    sa.bindparam("opened_at", type_=pending.c.opened_at.type),
    sa.bindparam("record", type_=pending.c.record.type),
)


def _admit_call(
    key: str, limit: int, start: datetime, now: datetime, record: AuditRecord | None
) -> dict[str, Any]:
    """PostgreSQL: the arguments of `stackdock_admit` (migration 0007), which takes the key's
    lock, counts the window and, with room, takes the hit and opens the pending question."""
    row: dict[str, Any] = dict.fromkeys(
        ("id", "opened_at", "host", "boot_id", "pid", "pid_start", "record")
    )
    if record is not None:
        row = pending_row(record)
    return {
        "lock": lock_key(key),
        "key": key,
        "limit": limit,
        "start": start,
        "now": now,
        "prune_every": PRUNE_EVERY,
        "pending_id": row["id"],
        "opened_at": row["opened_at"],
        "host": row["host"],
        "boot_id": row["boot_id"],
        "pid": row["pid"],
        "pid_start": row["pid_start"],
        "record": row["record"],
    }


def lock_key(key: str) -> str:
    return f"rate-limit:{key}"


def _admit_in(
    conn: Connection,
    key: str,
    limit: int,
    start: datetime,
    now: datetime,
    pending: AuditRecord | None,
) -> tuple[int, datetime | None, int | None]:
    """(hits in the window, the oldest one, the new hit's id or None when refused)."""
    if conn.dialect.name == "postgresql":
        count, oldest, slot = conn.execute(
            _ADMIT, _admit_call(key, limit, start, now, pending)
        ).one()
        return count, oldest, slot
    in_window = sa.select(sa.func.count().label("n"), sa.func.min(hits.c.at).label("oldest")).where(
        hits.c.key == key, hits.c.at > start
    )
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
        # One call on PostgreSQL (locked per key inside it, so one busy user never waits on
        # another); one lane transaction on SQLite.
        count, oldest, slot = await self._units.write_each(
            _admit_in, key, limit, start, now, pending
        )
        if slot is not None:
            return Admission(True, count + 1, 0.0)
        retry_after = (oldest + window - now).total_seconds() if oldest is not None else window_s
        # `now` was read before the lock; a hit another process recorded meanwhile can lie a
        # moment after it, and no wait is ever longer than the window itself.
        return Admission(False, count, min(max(retry_after, 0.0), window_s))
