"""The audit trail: one hash-chained row per question, plus feedback kept beside the chain.

A row is written unchained (on the answer path, with no global lock) and sealed into the chain
soon after by the `ChainSealer` (audit_sealer.py). Readers seal first, so `iter` streams the
whole trail as one chain, in chain order (`seq`), which is the order rows were sealed in.

A prune deletes the oldest rows and records, in `sync_state`, the anchor: the hash the oldest
kept row chains to. Verifying from the anchor still proves every kept row intact and in order.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.audit_sealer import ChainSealer
from adapters.store.dialects import upsert
from adapters.store.locks import KeyedLocks
from adapters.store.tables import audit_events, audit_feedback, sync_state
from core.audit import GENESIS, normalized, seal, utc
from core.models import AuditRecord, Outcome, PruneResult

CHAIN_LOCK = "stackdock-assistant:audit-chain"
BATCH = 1000
ANCHOR_KEY = "audit:anchor"
# Rows deleted per transaction: each batch holds the chain lock, so questions wait for one
# batch at most, never for the whole prune.
PRUNE_BATCH = 10_000

_FIELDS = tuple(f.name for f in dataclasses.fields(AuditRecord))


def _record(row: sa.Row[Any]) -> AuditRecord:
    mapping = row._mapping  # built anew on each access: once per row, not once per field
    values = {name: mapping[name] for name in _FIELDS}
    values["result"] = Outcome(values["result"])
    return AuditRecord(**values)


_COLUMNS = [name for name in _FIELDS if name != "id"]
_seq = audit_events.c.seq
_HEAD = sa.select(_seq, audit_events.c.hash).where(_seq.is_not(None)).order_by(_seq.desc())
# A pass seals at most this many rows per transaction, so it holds the chain lock briefly.
SEAL_BATCH = 500
_SEALED = (
    sa.update(audit_events)
    .where(audit_events.c.id == sa.bindparam("row_id"), _seq.is_(None))
    .values(
        seq=sa.bindparam("row_seq"),
        prev_hash=sa.bindparam("row_prev"),
        hash=sa.bindparam("row_hash"),
    )
)


def audit_row(stored: AuditRecord) -> dict[str, object]:
    row = {name: getattr(stored, name) for name in _COLUMNS}
    row["result"] = str(stored.result)
    return row


_APPEND = sa.insert(audit_events).returning(audit_events.c.id)


def append_in(conn: Connection, record: AuditRecord) -> AuditRecord:
    """Writes a row, unchained, inside the caller's transaction; no lock needed. The sealer
    chains it once committed (`seal_in`). Returns the row as stored, with its id."""
    stored = normalized(record)
    stored.id = conn.execute(_APPEND, audit_row(stored)).scalar_one()
    return stored


async def seal_in(conn: AsyncConnection) -> int:
    """Chains the oldest unsealed rows after the chain's head; the caller holds the chain lock.
    Returns how many it sealed (SEAL_BATCH at most)."""
    head = (await conn.execute(_HEAD.limit(1))).first()
    seq, prev = (head.seq, head.hash) if head is not None else (0, GENESIS)
    unsealed = sa.select(audit_events).where(_seq.is_(None)).order_by(audit_events.c.id)
    rows = (await conn.execute(unsealed.limit(SEAL_BATCH))).all()
    links = []
    for row in rows:
        seq += 1
        # Hashed as read back: exactly what `audit verify` will read and hash again.
        sealed = seal(_record(row), prev)
        links.append({"row_id": row.id, "row_seq": seq, "row_prev": prev, "row_hash": sealed.hash})
        prev = sealed.hash or GENESIS
    if links:
        await conn.execute(_SEALED, links)
    return len(links)


class SqlAuditRepo:
    def __init__(self, engine: AsyncEngine, locks: KeyedLocks, sealer: ChainSealer) -> None:
        self._engine = engine
        self._locks = locks
        self.sealer = sealer

    async def append(self, record: AuditRecord) -> AuditRecord:
        async with self._engine.begin() as conn:
            stored = await conn.run_sync(append_in, record)
        self.sealer.nudge()
        return stored

    async def seal(self) -> int:
        sealed = 0
        while True:
            async with self._locks.transaction(CHAIN_LOCK) as conn:
                done = await seal_in(conn)
            sealed += done
            if done < SEAL_BATCH:
                return sealed

    async def iter(self, since: datetime | None = None) -> AsyncIterator[AuditRecord]:
        # What is durable now is sealed first, so a reader sees the whole trail as a chain.
        await self.seal()
        # Keyset pages, each read on a short-lived connection: memory stays at one page, and a
        # slow consumer holds no connection and no transaction open.
        after = 0
        while True:
            stmt = sa.select(audit_events).where(_seq > after)
            if since is not None:
                stmt = stmt.where(audit_events.c.timestamp >= since)
            stmt = stmt.order_by(_seq).limit(BATCH)
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
            for row in rows:
                yield _record(row)
            if len(rows) < BATCH:
                return
            after = rows[-1].seq

    async def asker(self, audit_id: int) -> str | None:
        stmt = sa.select(audit_events.c.identity).where(audit_events.c.id == audit_id)
        async with self._engine.connect() as conn:
            return await conn.scalar(stmt)

    async def set_feedback(self, audit_id: int, identity: str, value: int) -> bool:
        exists = sa.select(audit_events.c.id).where(audit_events.c.id == audit_id)
        row = {
            "audit_id": audit_id,
            "identity": identity,
            "value": value,
            "created_at": datetime.now(UTC),
        }
        async with self._engine.begin() as conn:
            if await conn.scalar(exists) is None:
                return False
            await upsert(conn, audit_feedback, row)
        return True

    async def anchor(self) -> str | None:
        stmt = sa.select(sync_state.c.value).where(sync_state.c.key == ANCHOR_KEY)
        async with self._engine.connect() as conn:
            value = await conn.scalar(stmt)
        return None if value is None else json.loads(value)["prev_hash"]

    async def prune(self, before: datetime) -> PruneResult:
        await self.seal()  # only sealed rows are pruned: the anchor must be a chain link
        async with self._engine.connect() as conn:
            boundary = await conn.scalar(
                sa.select(sa.func.min(_seq)).where(audit_events.c.timestamp >= before)
            )
            # Everything is older: keep the newest row anyway, so new rows still chain to it.
            boundary = boundary or await conn.scalar(sa.select(sa.func.max(_seq)))
        if boundary is None:
            return PruneResult(0, None, await self.anchor())
        deleted, first_kept = 0, None
        while True:
            async with self._locks.transaction(CHAIN_LOCK) as conn:
                lowest = await conn.scalar(sa.select(sa.func.min(_seq)))
                if lowest is None or lowest >= boundary:
                    break
                cut = min(boundary, lowest + PRUNE_BATCH)
                doomed = sa.select(audit_events.c.id).where(_seq < cut)
                await conn.execute(
                    sa.delete(audit_feedback).where(audit_feedback.c.audit_id.in_(doomed))
                )
                deleted += (await conn.execute(sa.delete(audit_events).where(_seq < cut))).rowcount
                first = (
                    await conn.execute(
                        sa.select(audit_events.c.id, audit_events.c.prev_hash)
                        .where(_seq >= cut)
                        .order_by(_seq)
                        .limit(1)
                    )
                ).one()
                first_kept = first.id
                # In the same transaction as the delete: the anchor and the rows never disagree.
                anchor = {
                    "prev_hash": first.prev_hash,
                    "first_id": first.id,
                    "pruned_before": utc(before).isoformat(),
                }
                await upsert(conn, sync_state, {"key": ANCHOR_KEY, "value": json.dumps(anchor)})
        if first_kept is None:
            async with self._engine.connect() as conn:
                first_kept = await conn.scalar(
                    sa.select(audit_events.c.id).where(_seq.is_not(None)).order_by(_seq).limit(1)
                )
        return PruneResult(deleted, first_kept, await self.anchor())
