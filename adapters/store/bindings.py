"""Chat workspaces and channels bound to StackDock orgs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import upsert
from adapters.store.tables import bindings
from core.models import Binding


class SqlBindingRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def set(self, binding: Binding) -> None:
        row = {
            "target": binding.target,
            "org_id": binding.org_id,
            "allow_detail": binding.allow_detail,
        }
        async with self._engine.begin() as conn:
            await upsert(conn, bindings, row)

    async def remove(self, target: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(bindings).where(bindings.c.target == target))
            return result.rowcount > 0

    async def get(self, target: str) -> Binding | None:
        stmt = sa.select(bindings).where(bindings.c.target == target)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else Binding(row.target, row.org_id, row.allow_detail)

    async def all(self) -> list[Binding]:
        stmt = sa.select(bindings).order_by(bindings.c.target)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [Binding(row.target, row.org_id, row.allow_detail) for row in rows]
