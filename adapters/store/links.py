"""Chat identities linked to StackDock users."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import upsert
from adapters.store.tables import identity_links
from adapters.store.units import Units

_VOUCHED = sa.select(identity_links.c.user_ref, identity_links.c.org_id).where(
    identity_links.c.identity == sa.bindparam("identity", type_=sa.Text)
)


def _vouched_in(conn: Connection, identity: str) -> tuple[str, str | None] | None:
    row = conn.execute(_VOUCHED, {"identity": identity}).first()
    return (row.user_ref, row.org_id) if row is not None else None


class SqlLinkRepo:
    def __init__(self, engine: AsyncEngine, units: Units) -> None:
        self._engine = engine
        self._units = units

    async def set(self, identity: str, user_ref: str, org_id: str | None = None) -> None:
        row: dict[str, object] = {
            "identity": identity,
            "user_ref": user_ref,
            "org_id": org_id,
            "created_at": datetime.now(UTC),
        }
        async with self._engine.begin() as conn:
            await upsert(conn, identity_links, row)

    async def remove(self, identity: str) -> bool:
        stmt = sa.delete(identity_links).where(identity_links.c.identity == identity)
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def get(self, identity: str) -> str | None:
        stmt = sa.select(identity_links.c.user_ref).where(identity_links.c.identity == identity)
        async with self._engine.connect() as conn:
            return await conn.scalar(stmt)

    async def all(self) -> list[tuple[str, str]]:
        stmt = sa.select(identity_links.c.identity, identity_links.c.user_ref).order_by(
            identity_links.c.identity
        )
        async with self._engine.connect() as conn:
            return [(row.identity, row.user_ref) for row in await conn.execute(stmt)]

    async def vouched(self, identity: str) -> tuple[str, str | None] | None:
        # On the answer path (each new asker): a unit, one hand-off on SQLite.
        return await self._units.read(_vouched_in, identity)

    async def all_vouched(self) -> list[tuple[str, str, str | None]]:
        c = identity_links.c
        stmt = sa.select(c.identity, c.user_ref, c.org_id).order_by(c.identity)
        async with self._engine.connect() as conn:
            return [(row.identity, row.user_ref, row.org_id) for row in await conn.execute(stmt)]
