"""The persisted copy of the StackDock mirror, and the sync sources' cursors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.dialects import insert, upsert
from adapters.store.tables import mirror_documents as docs
from adapters.store.tables import sync_state
from core.ports import Document

# Rows per statement: 5 parameters each stays far below both databases' parameter limits.
CHUNK = 1000


def _row(table: str, doc: Document, now: datetime) -> dict[str, Any]:
    doc_id = doc.get("_id")
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError(f"a {table} document without an _id: {dict(doc)!r:.200}")
    return {
        "table_name": table,
        "doc_id": doc_id,
        "org_id": doc.get("orgId"),
        "data": dict(doc),
        "updated_at": now,
    }


async def _insert(conn: AsyncConnection, rows: list[dict[str, Any]], *, overwrite: bool) -> None:
    for start in range(0, len(rows), CHUNK):
        stmt = insert(conn, docs)
        if overwrite:
            stmt = stmt.on_conflict_do_update(
                index_elements=["table_name", "doc_id"],
                set_={name: stmt.excluded[name] for name in ("org_id", "data", "updated_at")},
            )
        await conn.execute(stmt, rows[start : start + CHUNK])


class SqlMirrorRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def replace(
        self, tables: Mapping[str, Sequence[Document]], state: Mapping[str, str] | None = None
    ) -> None:
        """Swaps the whole copy; `state` (a sync cursor, say) commits in the same transaction."""
        now = datetime.now(UTC)
        rows = [_row(table, doc, now) for table, documents in tables.items() for doc in documents]
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(docs))
            await _insert(conn, rows, overwrite=False)
            await _set_state(conn, state)

    async def apply(self, table: str, upserts: Sequence[Document], deletes: Sequence[str]) -> None:
        await self.apply_changes({table: (upserts, deletes)})

    async def apply_changes(
        self,
        changes: Mapping[str, tuple[Sequence[Document], Sequence[str]]],
        state: Mapping[str, str] | None = None,
    ) -> None:
        """Upserts and deletes of several tables, and `state`, all or nothing.

        A sync cursor saved with the changes it covers means a crash can neither skip a change
        nor leave the cursor behind data it already describes.
        """
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            for table, (upserts, deletes) in changes.items():
                # Last write wins within a batch; one statement may not touch a row twice on
                # PostgreSQL.
                by_id = {row["doc_id"]: row for row in (_row(table, doc, now) for doc in upserts)}
                gone = list(dict.fromkeys(deletes))
                await _insert(conn, list(by_id.values()), overwrite=True)
                for start in range(0, len(gone), CHUNK):
                    await conn.execute(
                        sa.delete(docs).where(
                            docs.c.table_name == table,
                            docs.c.doc_id.in_(gone[start : start + CHUNK]),
                        )
                    )
            await _set_state(conn, state)

    async def load(self) -> dict[str, list[dict[str, Any]]]:
        stmt = sa.select(docs.c.table_name, docs.c.data).order_by(docs.c.table_name, docs.c.doc_id)
        tables: dict[str, list[dict[str, Any]]] = {}
        async with self._engine.connect() as conn:
            for row in await conn.execute(stmt):
                tables.setdefault(row.table_name, []).append(row.data)
        return tables

    async def get_state(self, key: str) -> str | None:
        stmt = sa.select(sync_state.c.value).where(sync_state.c.key == key)
        async with self._engine.connect() as conn:
            return await conn.scalar(stmt)

    async def get_states(self, *keys: str) -> dict[str, str]:
        """Several state values in one round trip; absent keys are left out."""
        stmt = sa.select(sync_state.c.key, sync_state.c.value).where(sync_state.c.key.in_(keys))
        async with self._engine.connect() as conn:
            return {row.key: row.value for row in await conn.execute(stmt)}

    async def set_state(self, key: str, value: str) -> None:
        async with self._engine.begin() as conn:
            await upsert(conn, sync_state, {"key": key, "value": value})


async def _set_state(conn: AsyncConnection, state: Mapping[str, str] | None) -> None:
    for key, value in (state or {}).items():
        await upsert(conn, sync_state, {"key": key, "value": value})
