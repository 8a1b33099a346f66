"""Sliding-window rate limits, exact across every process sharing the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adapters.store.pending import open_in as open_pending
from adapters.store.pending import pending_row
from adapters.store.tables import pending_questions as pending
from adapters.store.tables import rate_limit_hits as hits
from adapters.store.tables import usage_records
from adapters.store.units import Units
from adapters.store.usage_log import spend_in
from core.audit import utc
from core.models import Admission, AuditRecord, SpendCap

PRUNE_EVERY = 16


_ADMIT = sa.text(
    "SELECT o_count, o_oldest, o_slot, o_spent FROM stackdock_admit(:lock, :key, :limit, "
    ":start, :now, :prune_every, :pending_id, :opened_at, :host, :boot_id, :pid, :pid_start, "
    ":record, :org, :since, :budget)"
).bindparams(
    sa.bindparam("start", type_=hits.c.at.type),
    sa.bindparam("now", type_=hits.c.at.type),
    sa.bindparam("opened_at", type_=pending.c.opened_at.type),
    sa.bindparam("record", type_=pending.c.record.type),
    sa.bindparam("org", type_=sa.Text),
    sa.bindparam("since", type_=hits.c.at.type),
    sa.bindparam("budget", type_=usage_records.c.cost_usd.type),
)
_start, _key = sa.bindparam("start", type_=hits.c.at.type), sa.bindparam("key", type_=sa.Text)
_IN_WINDOW = sa.select(sa.func.count(), sa.func.min(hits.c.at)).where(
    hits.c.key == _key, hits.c.at > _start
)
_HIT = sa.insert(hits).returning(hits.c.id)
_PRUNE = sa.delete(hits).where(hits.c.key == _key, hits.c.at <= _start)


def _admit_call(
    key: str,
    limit: int,
    start: datetime,
    now: datetime,
    record: AuditRecord | None,
    cap: SpendCap | None,
) -> dict[str, Any]:
    """PostgreSQL: the arguments of `stackdock_admit` (migrations 0007 and 0008), which reads
    the org's spend, takes the key's lock, counts the window and, with room, takes the hit and
    opens the pending question."""
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
        "org": cap.org_id if cap else None,
        "since": cap.since if cap else None,
        "budget": cap.budget if cap else None,
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
    cap: SpendCap | None,
) -> tuple[int, datetime | None, int | None, Decimal | None]:
    """(hits in the window, the oldest one, the new hit's id or None when refused, the org's
    spend when capped)."""
    if conn.dialect.name == "postgresql":
        count, oldest, slot, spent = conn.execute(
            _ADMIT, _admit_call(key, limit, start, now, pending, cap)
        ).one()
        return count, oldest, slot, spent
    spent = None
    if cap is not None:
        spent = spend_in(conn, cap.org_id, cap.since)
        if spent >= cap.budget:
            return 0, None, None, spent
    count, oldest = conn.execute(_IN_WINDOW, {"key": key, "start": start}).one()
    slot = None
    if count < limit:
        slot = conn.execute(_HIT, {"key": key, "at": now}).scalar_one()
        if pending is not None:
            open_pending(conn, pending, slot)
    if count % PRUNE_EVERY == 0:
        # Hits that left the window are dead weight; clear them now and then, while the key
        # is locked, rather than paying a DELETE on every question.
        conn.execute(_PRUNE, {"key": key, "start": start})
    return count, oldest, slot, spent


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
        cap: SpendCap | None = None,
    ) -> Admission:
        now = utc(now)
        window = timedelta(seconds=window_s)
        start = now - window
        # One call on PostgreSQL (locked per key inside it, so one busy user never waits on
        # another); one lane transaction on SQLite.
        count, oldest, slot, spent = await self._units.write_each(
            _admit_in, key, limit, start, now, pending, cap
        )
        if cap is not None and spent is not None and spent >= cap.budget:
            return Admission(False, 0, 0.0, spent)
        if slot is not None:
            return Admission(True, count + 1, 0.0, spent)
        retry_after = (oldest + window - now).total_seconds() if oldest is not None else window_s
        # `now` was read before the lock; a hit another process recorded meanwhile can lie a
        # moment after it, and no wait is ever longer than the window itself.
        return Admission(False, count, min(max(retry_after, 0.0), window_s), spent)
