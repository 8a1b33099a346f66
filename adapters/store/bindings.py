"""Chat workspaces and channels bound to StackDock orgs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import upsert
from adapters.store.tables import bindings
from adapters.store.units import Units
from core.models import Binding

_ONE = sa.select(bindings).where(bindings.c.target == sa.bindparam("target", type_=sa.Text))


def _get_in(conn: Connection, target: str) -> Binding | None:
    row = conn.execute(_ONE, {"target": target}).first()
    return None if row is None else _binding(row)


class SqlBindingRepo:
    def __init__(self, engine: AsyncEngine, units: Units) -> None:
        self._engine = engine
        self._units = units

    async def set(self, binding: Binding) -> None:
        row = {
            "target": binding.target,
            "org_id": binding.org_id,
            "allow_detail": binding.allow_detail,
            "instructions": binding.instructions,
        }
        async with self._engine.begin() as conn:
            await upsert(conn, bindings, row)

    async def remove(self, target: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(bindings).where(bindings.c.target == target))
            return result.rowcount > 0

    async def get(self, target: str) -> Binding | None:
        # On the answer path (each channel, DM and workspace asked from): a unit.
        return await self._units.read(_get_in, target)

    async def all(self) -> list[Binding]:
        stmt = sa.select(bindings).order_by(bindings.c.target)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_binding(row) for row in rows]


def _binding(row: sa.Row[tuple[object, ...]]) -> Binding:
    return Binding(row.target, row.org_id, row.allow_detail, row.instructions)
