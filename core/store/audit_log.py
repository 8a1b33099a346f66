"""The audit trail: one hash-chained row per question, plus feedback kept beside the chain."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit import GENESIS, seal
from core.models import AuditRecord, Outcome
from core.store.dialects import upsert
from core.store.locks import KeyedLocks
from core.store.tables import audit_events, audit_feedback

CHAIN_LOCK = "stackdock-assistant:audit-chain"
BATCH = 1000

_FIELDS = tuple(f.name for f in dataclasses.fields(AuditRecord))


def _record(row: sa.Row[Any]) -> AuditRecord:
    values = {name: row._mapping[name] for name in _FIELDS}
    values["result"] = Outcome(values["result"])
    return AuditRecord(**values)


_LAST_HASH = sa.select(audit_events.c.hash).order_by(audit_events.c.id.desc()).limit(1)


async def append_in(conn: AsyncConnection, record: AuditRecord) -> AuditRecord:
    """Seals and inserts a row; the caller holds the chain lock's transaction."""
    sealed = seal(record, await conn.scalar(_LAST_HASH) or GENESIS)
    row = {name: getattr(sealed, name) for name in _FIELDS if name != "id"}
    row["result"] = str(sealed.result)
    result = await conn.execute(sa.insert(audit_events).values(row))
    sealed.id = result.inserted_primary_key[0]
    return sealed


class SqlAuditRepo:
    def __init__(self, engine: AsyncEngine, locks: KeyedLocks) -> None:
        self._engine = engine
        self._locks = locks

    async def append(self, record: AuditRecord) -> AuditRecord:
        # The whole critical section: one SELECT of the last hash and one INSERT.
        async with self._locks.transaction(CHAIN_LOCK) as conn:
            return await append_in(conn, record)

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
