"""Pending questions: admitted, not yet recorded. What a process killed mid-answer leaves.

A question is opened here when it is admitted (in the rate-limit transaction that takes its
hit) and deleted in the transaction that writes its audit row. A row still here belongs to a
process that stopped in between; `stale` finds it once that process is known to be gone (on
this host: its pid no longer names the process that opened it) or its lease ran out (any
host), and `settle` records it, gives back its hit and frees its event for a re-delivery.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.audit_log import append_in as append_audit
from adapters.store.audit_sealer import ChainSealer
from adapters.store.tables import pending_questions as pending
from adapters.store.tables import processed_events, rate_limit_hits
from adapters.store.units import Units
from core.audit import utc
from core.models import AuditRecord, Outcome
from core.ports import QUESTION_ID

_CHAIN_FIELDS = ("id", "prev_hash", "hash")


@dataclass(frozen=True, slots=True)
class Process:
    """One process, told apart from a later one that reuses its pid."""

    host: str
    boot_id: str  # "" where the system does not say: then only the lease can tell
    pid: int
    start: int  # clock ticks from boot to the process's start; 0 where unknown


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text("ascii").strip()
    except OSError:
        return ""


def started(pid: int) -> int | None:
    """When process `pid` started, in ticks after boot; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text("ascii", errors="replace")
    except OSError:
        return None
    # Field 22 of proc(5); the command name (field 2) may hold spaces, so count after it.
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None


@functools.cache
def _process(pid: int) -> Process:
    return Process(socket.gethostname(), _boot_id(), pid, started(pid) or 0)


def this_process() -> Process:
    return _process(os.getpid())  # by pid: a forked worker is a process of its own


def is_gone(owner: Process, me: Process) -> bool:
    """Known to have stopped: on this host and boot, its pid is free or names a newer process."""
    if not me.boot_id or (owner.host, owner.boot_id) != (me.host, me.boot_id):
        return False  # another machine, or no way to tell: the lease decides
    return started(owner.pid) != owner.start


def encode(record: AuditRecord) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in dataclasses.fields(AuditRecord):
        if f.name in _CHAIN_FIELDS:
            continue
        value = getattr(record, f.name)
        if isinstance(value, datetime):
            value = utc(value).isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, Outcome):
            value = value.value
        data[f.name] = value
    return data


def decode(data: dict[str, Any]) -> AuditRecord:
    values = dict(data)
    values["timestamp"] = datetime.fromisoformat(values["timestamp"])
    values["result"] = Outcome(values["result"])
    if values.get("cost_usd") is not None:
        values["cost_usd"] = Decimal(values["cost_usd"])
    return AuditRecord(**values)


def pending_row(record: AuditRecord, slot: int | None = None) -> dict[str, Any]:
    """The pending question's row, held by this process."""
    me = this_process()
    return {
        "id": record.metadata[QUESTION_ID],
        "opened_at": record.timestamp,
        "host": me.host,
        "boot_id": me.boot_id,
        "pid": me.pid,
        "pid_start": me.start,
        "slot": slot,
        "record": encode(record),
    }


_OPEN = sa.insert(pending)
_CLEAR = sa.delete(pending).where(pending.c.id == sa.bindparam("question_id", type_=sa.Text))


def open_in(conn: Connection, record: AuditRecord, slot: int | None = None) -> None:
    """Opens a pending question inside the caller's transaction (the one taking its hit)."""
    conn.execute(_OPEN, pending_row(record, slot))


def clear_in(conn: Connection, record: AuditRecord) -> None:
    """Clears the pending question of a row being written, inside the row's transaction."""
    question_id = record.metadata.get(QUESTION_ID)
    if question_id:
        conn.execute(_CLEAR, {"question_id": question_id})


class SqlPendingRepo:
    def __init__(self, engine: AsyncEngine, units: Units, sealer: ChainSealer) -> None:
        self._engine = engine
        self._units = units
        self._sealer = sealer

    async def open(self, record: AuditRecord) -> None:
        await self._units.write(open_in, record)

    async def stale(self, lease_s: float, now: datetime) -> list[AuditRecord]:
        # Only questions in flight are here: a handful, so all are read and judged in Python.
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(pending).order_by(pending.c.opened_at))).all()
        me = this_process()
        expired = utc(now) - timedelta(seconds=lease_s)
        found = []
        for row in rows:
            owner = Process(row.host, row.boot_id, row.pid, row.pid_start)
            if owner != me and (row.opened_at < expired or is_gone(owner, me)):
                found.append(decode(row.record))
        return found

    async def settle(self, record: AuditRecord) -> AuditRecord | None:
        question_id = record.metadata.get(QUESTION_ID)
        if not question_id:
            return None
        # The DELETE takes the pending row's lock: two processes settling the same question
        # take turns, and the second finds nothing left to settle.
        async with self._engine.begin() as conn:
            cleared = await conn.execute(
                sa.delete(pending).where(pending.c.id == question_id).returning(pending.c.slot)
            )
            taken = cleared.first()
            if taken is None:
                return None
            sealed = await conn.run_sync(append_audit, record)
            if taken.slot is not None:
                await conn.execute(
                    sa.delete(rate_limit_hits).where(rate_limit_hits.c.id == taken.slot)
                )
            event_id = record.metadata.get("event_id")
            if event_id:
                await conn.execute(
                    sa.delete(processed_events).where(processed_events.c.event_id == event_id)
                )
        self._sealer.nudge()
        return sealed
