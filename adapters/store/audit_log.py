"""The audit trail: one hash-chained row per question, plus feedback kept beside the chain.

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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.dialects import upsert
from adapters.store.locks import KeyedLocks
from adapters.store.tables import audit_events, audit_feedback, sync_state
from core.audit import GENESIS, seal, utc
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


_LAST_HASH = sa.select(audit_events.c.hash).order_by(audit_events.c.id.desc()).limit(1)
_COLUMNS = [name for name in _FIELDS if name != "id"]


class ChainHead:
    """The hash of the chain's last row as this process last wrote it: a guess, always
    checked in the INSERT itself, that saves reading the head first (one round trip of two
    inside the chain lock). Another process's row, or a rolled-back one, makes the guess
    wrong; the INSERT then inserts nothing, and the head is read as before."""

    def __init__(self) -> None:
        self.hash: str | None = None


def _row(sealed: AuditRecord) -> dict[str, object]:
    row = {name: getattr(sealed, name) for name in _COLUMNS}
    row["result"] = str(sealed.result)
    return row


async def _insert_if_head(conn: AsyncConnection, sealed: AuditRecord) -> int | None:
    """Inserts `sealed` only if the chain's last row is still the one it chains to."""
    row = _row(sealed)
    values = [sa.literal(row[name], audit_events.c[name].type) for name in _COLUMNS]
    head = sa.func.coalesce(_LAST_HASH.scalar_subquery(), GENESIS)
    guarded = sa.select(*values).where(head == sealed.prev_hash)
    stmt = sa.insert(audit_events).from_select(_COLUMNS, guarded).returning(audit_events.c.id)
    return (await conn.execute(stmt)).scalar_one_or_none()


async def append_in(
    conn: AsyncConnection, record: AuditRecord, head: ChainHead | None = None
) -> AuditRecord:
    """Seals and inserts a row; the caller holds the chain lock's transaction."""
    if head is not None and head.hash is not None:
        sealed = seal(record, head.hash)
        inserted = await _insert_if_head(conn, sealed)
        if inserted is not None:
            sealed.id, head.hash = inserted, sealed.hash
            return sealed
    sealed = seal(record, await conn.scalar(_LAST_HASH) or GENESIS)
    stmt = sa.insert(audit_events).values(_row(sealed)).returning(audit_events.c.id)
    sealed.id = (await conn.execute(stmt)).scalar_one()
    if head is not None:
        head.hash = sealed.hash
    return sealed


class SqlAuditRepo:
    def __init__(self, engine: AsyncEngine, locks: KeyedLocks, head: ChainHead) -> None:
        self._engine = engine
        self._locks = locks
        self._head = head

    async def append(self, record: AuditRecord) -> AuditRecord:
        # The whole critical section: one guarded INSERT (two statements when the head moved).
        async with self._locks.transaction(CHAIN_LOCK) as conn:
            return await append_in(conn, record, self._head)

    async def iter(self, since: datetime | None = None) -> AsyncIterator[AuditRecord]:
        # Keyset pages, each read on a short-lived connection: memory stays at one page, and a
        # slow consumer holds no connection and no transaction open.
        after = 0
        while True:
            stmt = sa.select(audit_events).where(audit_events.c.id > after)
            if since is not None:
                stmt = stmt.where(audit_events.c.timestamp >= since)
            stmt = stmt.order_by(audit_events.c.id).limit(BATCH)
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
            for row in rows:
                yield _record(row)
            if len(rows) < BATCH:
                return
            after = rows[-1].id

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
        ids = audit_events.c.id
        async with self._engine.connect() as conn:
            boundary = await conn.scalar(
                sa.select(sa.func.min(ids)).where(audit_events.c.timestamp >= before)
            )
            # Everything is older: keep the newest row anyway, so new rows still chain to it.
            boundary = boundary or await conn.scalar(sa.select(sa.func.max(ids)))
        if boundary is None:
            return PruneResult(0, None, await self.anchor())
        deleted = 0
        while True:
            async with self._locks.transaction(CHAIN_LOCK) as conn:
                lowest = await conn.scalar(sa.select(sa.func.min(ids)))
                if lowest is None or lowest >= boundary:
                    break
                cut = min(boundary, lowest + PRUNE_BATCH)
                await conn.execute(sa.delete(audit_feedback).where(audit_feedback.c.audit_id < cut))
                deleted += (await conn.execute(sa.delete(audit_events).where(ids < cut))).rowcount
                first = (
                    await conn.execute(
                        sa.select(ids, audit_events.c.prev_hash)
                        .where(ids >= cut)
                        .order_by(ids)
                        .limit(1)
                    )
                ).one()
                # In the same transaction as the delete: the anchor and the rows never disagree.
                anchor = {
                    "prev_hash": first.prev_hash,
                    "first_id": first.id,
                    "pruned_before": utc(before).isoformat(),
                }
                await upsert(conn, sync_state, {"key": ANCHOR_KEY, "value": json.dumps(anchor)})
        return PruneResult(deleted, lowest, await self.anchor())
