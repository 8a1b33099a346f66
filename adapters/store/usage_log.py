"""Tokens and cost of every answered question, for budgets and reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.tables import usage_records
from adapters.store.units import Units
from core.audit import quantize_cost
from core.models import Usage, UsageRecord

BATCH = 1000


def _record(row: sa.Row[Any]) -> UsageRecord:
    usage = Usage(
        provider=row.provider,
        model=row.model,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_read_tokens=row.cache_read_tokens or 0,
        cache_write_tokens=row.cache_write_tokens or 0,
        cost_usd=row.cost_usd,
        calls=row.calls,
    )
    return UsageRecord(row.timestamp, row.org_id, row.user_id, row.identity, usage, row.audit_id)


def usage_row(record: UsageRecord) -> dict[str, Any]:
    usage = record.usage
    return {
        "timestamp": record.timestamp,
        "org_id": record.org_id,
        "user_id": record.user_id,
        "identity": record.identity,
        "provider": usage.provider,
        "model": usage.model,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cost_usd": quantize_cost(usage.cost_usd),
        "calls": usage.calls,
        "audit_id": record.audit_id,
    }


# Built once, with parameters: a statement built per call costs more in SQLAlchemy than the
# database takes to run it.
_INSERT = sa.insert(usage_records)
_SPEND = sa.select(sa.func.sum(usage_records.c.cost_usd)).where(
    usage_records.c.org_id == sa.bindparam("org_id", type_=sa.Text),
    usage_records.c.timestamp >= sa.bindparam("since", type_=usage_records.c.timestamp.type),
)


def record_in(conn: Connection, record: UsageRecord) -> None:
    """Inserts a usage record inside the caller's transaction."""
    conn.execute(_INSERT, usage_row(record))


def spend_in(conn: Connection, org_id: str, since: datetime) -> Decimal:
    total = conn.scalar(_SPEND, {"org_id": org_id, "since": since})
    return total if total is not None else Decimal(0)


class SqlUsageRepo:
    def __init__(self, engine: AsyncEngine, units: Units) -> None:
        self._engine = engine
        self._units = units

    async def record(self, record: UsageRecord) -> None:
        await self._units.write(record_in, record)

    async def spend(self, org_id: str, since: datetime) -> Decimal:
        """Known cost since `since`; calls whose cost is unknown add nothing."""
        return await self._units.read(spend_in, org_id, since)

    async def iter(
        self, since: datetime | None = None, org_id: str | None = None
    ) -> AsyncIterator[UsageRecord]:
        after = 0
        while True:
            stmt = sa.select(usage_records).where(usage_records.c.id > after)
            if since is not None:
                stmt = stmt.where(usage_records.c.timestamp >= since)
            if org_id is not None:
                stmt = stmt.where(usage_records.c.org_id == org_id)
            stmt = stmt.order_by(usage_records.c.id).limit(BATCH)
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
            for row in rows:
                yield _record(row)
            if len(rows) < BATCH:
                return
            after = rows[-1].id
