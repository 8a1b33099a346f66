"""SqlStore on a real database, once on SQLite and once on PostgreSQL (the db_url fixture)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from adapters.store import SqlStore, open_store, upgrade_database
from adapters.store.audit_log import append_in
from adapters.store.database import MIGRATIONS
from adapters.store.tables import audit_events, audit_feedback, metadata
from core.audit import GENESIS, verify_chain
from core.ports import Store
from tests.store_contract import CHECKS, T0, audit_record, collect, usage_record

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    store = await open_store(db_url, upgrade=True)
    yield store
    await store.close()


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
async def test_sql_store_contract(
    store: SqlStore, check: Callable[[Store], Awaitable[None]]
) -> None:
    await check(store)


async def test_migrations_build_the_declared_schema_and_rerun_as_no_ops(db_url: str) -> None:
    await upgrade_database(db_url)
    await upgrade_database(db_url)
    store = await open_store(db_url, upgrade=True)
    try:
        async with store.engine.connect() as conn:
            version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
            drift = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
    finally:
        await store.close()
    assert version == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert tables == set(metadata.tables) | {"alembic_version"}
    assert drift == [], "adapters/store/tables.py and the migrations disagree"


async def test_migrations_are_found_without_the_working_directory(db_url: str, tmp_path) -> None:
    script = (
        "import asyncio; from adapters.store import upgrade_database; "
        f"asyncio.run(upgrade_database({db_url!r}))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=tmp_path, env={"PYTHONPATH": str(ROOT)}
    )
    assert await proc.wait() == 0


async def _chain_of(store: SqlStore, n: int) -> list[int]:
    """n rows, sealed into the chain (as the sealer leaves them) before anyone tampers."""
    ids = [(await store.audit.append(audit_record(i))).id for i in range(n)]
    await store.audit.seal()
    return ids


async def test_verify_catches_an_edited_answer(store: SqlStore) -> None:
    ids = await _chain_of(store, 5)
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.update(audit_events).where(audit_events.c.id == ids[2]).values(answer="edited")
        )
    result = verify_chain(await collect(store.audit.iter()))
    assert (result.ok, result.first_bad_id, result.checked) == (False, ids[2], 2)
    assert "edited" in (result.reason or "")


async def test_verify_catches_a_deleted_row(store: SqlStore) -> None:
    ids = await _chain_of(store, 5)
    async with store.engine.begin() as conn:
        await conn.execute(sa.delete(audit_events).where(audit_events.c.id == ids[2]))
    result = verify_chain(await collect(store.audit.iter()))
    assert (result.ok, result.first_bad_id) == (False, ids[3])
    assert "deleted" in (result.reason or "")


@pytest.mark.parametrize("with_hashes", [False, True], ids=["content", "whole-rows"])
async def test_verify_catches_swapped_rows(store: SqlStore, with_hashes: bool) -> None:
    ids = await _chain_of(store, 5)
    # Contents trade places; each row keeps its place in the chain (id and seq).
    skip = {"id", "seq"} if with_hashes else {"id", "seq", "hash", "prev_hash"}
    columns = [c for c in audit_events.c if c.name not in skip]
    async with store.engine.begin() as conn:
        rows = {
            row.id: row
            for row in await conn.execute(
                sa.select(audit_events).where(audit_events.c.id.in_([ids[1], ids[3]]))
            )
        }
        for mine, theirs in ((ids[1], ids[3]), (ids[3], ids[1])):
            values = {c.name: rows[theirs]._mapping[c.name] for c in columns}
            await conn.execute(
                sa.update(audit_events).where(audit_events.c.id == mine).values(values)
            )
    result = verify_chain(await collect(store.audit.iter()))
    assert (result.ok, result.first_bad_id) == (False, ids[1])


async def test_feedback_is_upserted_beside_the_row(store: SqlStore) -> None:
    (audit_id,) = await _chain_of(store, 1)
    await store.audit.set_feedback(audit_id, "slack:T1:U1", 1)
    await store.audit.set_feedback(audit_id, "slack:T1:U1", -1)
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(audit_feedback.c.identity, audit_feedback.c.value))
        ).all()
    assert [tuple(r) for r in rows] == [("slack:T1:U1", -1)]


async def test_audit_and_usage_stream_page_by_page(store: SqlStore, monkeypatch) -> None:
    monkeypatch.setattr("adapters.store.audit_log.BATCH", 7)
    monkeypatch.setattr("adapters.store.usage_log.BATCH", 7)
    ids = await _chain_of(store, 21)  # three full pages, then an empty one
    for i in range(15):
        await store.usage.record(usage_record("org1", T0, str(i)))
    assert [r.id for r in await collect(store.audit.iter())] == ids
    assert [r.id for r in await collect(store.audit.iter(since=T0 + timedelta(minutes=10)))] == ids[
        10:
    ]
    costs = [r.usage.cost_usd for r in await collect(store.usage.iter(org_id="org1"))]
    assert costs == [Decimal(i) for i in range(15)]


async def test_ping_raises_when_the_database_is_unreachable() -> None:
    store = await open_store("postgresql+asyncpg://postgres@127.0.0.1:9/none")
    try:
        with pytest.raises(OSError):
            await store.ping()
    finally:
        await store.close()


async def test_the_sealer_chains_rows_with_no_reader_asking(store: SqlStore, db_url: str) -> None:
    # A process that wrote a row and died before sealing it (kill -9): its row waits, durable.
    dead = await open_store(db_url)
    async with dead.engine.begin() as conn:
        await conn.run_sync(append_in, audit_record(0))
    await dead.engine.dispose()  # no close(): nothing of the dead process seals anything
    # Read straight from the table: `audit.iter` would seal by itself and hide a dead sealer.
    for n in range(1, 3):
        await store.audit.append(audit_record(n))
    unsealed = sa.select(sa.func.count()).where(audit_events.c.seq.is_(None))
    for _ in range(250):  # the sealer waits 50 ms after a write; 5 s is far beyond it
        async with store.engine.connect() as conn:
            left = await conn.scalar(unsealed)
        if left == 0:
            break
        await asyncio.sleep(0.02)
    assert left == 0, "rows stayed unchained though the sealer was woken"
    async with store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_events).order_by(audit_events.c.seq))).all()
    chained = [dict(row._mapping) for row in rows]
    assert [row["seq"] for row in chained] == [1, 2, 3]
    assert [row["question"] for row in chained] == [f"question {n}" for n in range(3)]
    assert chained[0]["prev_hash"] == GENESIS
    assert [row["prev_hash"] for row in chained[1:]] == [row["hash"] for row in chained[:-1]]
