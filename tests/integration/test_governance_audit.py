"""The audit trail an auditor can prove, on SQLite and PostgreSQL: tampering (edit, delete,
reorder) is caught before and after a prune, concurrent writers keep one chain, prune keeps it
verifiable from an anchor, and AUDIT_STORE_CONTENT=false leaves no text in the table."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from adapters.stackdock.demo import DEMO_USERS, load_demo
from adapters.store import SqlStore, open_store
from adapters.store.tables import audit_events, audit_feedback
from bot.reports import verify
from bot.wiring import build_assistant, build_service
from core.assistant import AssistantConfig
from core.audit import GENESIS, VerifyResult, verify_chain_stream
from core.limits import LimitPolicy
from core.models import Inbound
from core.ports import Store
from core.providers.offline import OfflineProvider
from core.stackdock.mirror import InMemoryMirror
from tests.fakes.ports.memory_store import MemoryStore
from tests.store_contract import T0, audit_record, collect

# A row's place in the chain (id, seq) stays; everything else is what an attacker rewrites.
CONTENT_COLUMNS = [c.name for c in audit_events.columns if c.name not in ("id", "seq")]


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    store = await open_store(db_url, upgrade=True)
    yield store
    await store.close()


async def check(store: Store) -> VerifyResult:
    return await verify_chain_stream(store.audit.iter(), await store.audit.anchor())


async def chain(store: Store, n: int, days: bool = False) -> list[int]:
    step = timedelta(days=1) if days else timedelta(0)
    return [
        (await store.audit.append(audit_record(i, timestamp=T0 + i * step))).id for i in range(n)
    ]


async def edit(store: SqlStore, row_id: int) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.update(audit_events).where(audit_events.c.id == row_id).values(answer="edited")
        )


async def delete(store: SqlStore, row_id: int) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(sa.delete(audit_events).where(audit_events.c.id == row_id))


async def reorder(store: SqlStore, a: int, b: int) -> None:
    """Swaps two rows' whole content, hashes included, so each row is intact but misplaced."""
    async with store.engine.begin() as conn:
        rows = {
            row.id: {name: row._mapping[name] for name in CONTENT_COLUMNS}
            for row in await conn.execute(
                sa.select(audit_events).where(audit_events.c.id.in_([a, b]))
            )
        }
        for target, source in ((a, b), (b, a)):
            await conn.execute(
                sa.update(audit_events).where(audit_events.c.id == target).values(rows[source])
            )


Tamper = Callable[[SqlStore, list[int]], Awaitable[int]]  # returns the id verify must blame


async def _edit_third(store: SqlStore, ids: list[int]) -> int:
    await edit(store, ids[2])
    return ids[2]


async def _delete_third(store: SqlStore, ids: list[int]) -> int:
    await delete(store, ids[2])
    return ids[3]


async def _swap_third_and_fourth(store: SqlStore, ids: list[int]) -> int:
    await reorder(store, ids[2], ids[3])
    return ids[2]


TAMPERING = [_edit_third, _delete_third, _swap_third_and_fourth]


@pytest.mark.parametrize("tamper", TAMPERING, ids=["edit", "delete", "reorder"])
async def test_verify_names_the_first_tampered_row(store: SqlStore, tamper: Tamper) -> None:
    ids = await chain(store, 6)
    assert (await check(store)).ok
    blamed = await tamper(store, ids)
    result = await check(store)
    assert (result.ok, result.first_bad_id, result.checked) == (False, blamed, 2)
    out = io.StringIO()
    assert await verify(store, out) == 1
    assert f"BROKEN at row {blamed}" in out.getvalue()


@pytest.mark.parametrize("tamper", TAMPERING, ids=["edit", "delete", "reorder"])
async def test_tampering_after_a_prune_is_caught_too(store: SqlStore, tamper: Tamper) -> None:
    ids = await chain(store, 10, days=True)
    pruned = await store.audit.prune(T0 + timedelta(days=4))
    kept = ids[4:]
    assert (pruned.deleted, pruned.first_kept_id) == (4, kept[0])
    result = await check(store)
    assert result.ok and result.checked == 6
    # The helpers tamper with the third id they are given: here, the first kept row.
    blamed = await tamper(store, [kept[0] - 2, kept[0] - 1, *kept])
    result = await check(store)
    assert (result.ok, result.first_bad_id, result.checked) == (False, blamed, 0)


async def test_deleting_the_first_row_after_a_prune_is_caught(store: SqlStore) -> None:
    ids = await chain(store, 6, days=True)
    await store.audit.prune(T0 + timedelta(days=3))
    await delete(store, ids[3])
    result = await check(store)
    assert (result.ok, result.first_bad_id) == (False, ids[4])


async def test_prune_anchors_the_chain_and_new_rows_chain_on(store: SqlStore) -> None:
    ids = await chain(store, 5, days=True)
    await store.audit.set_feedback(ids[0], "slack:T1:U9", 1)
    assert await store.audit.anchor() is None
    before = [row.hash for row in await collect(store.audit.iter())]
    # Everything is older than the date: the newest row stays, so the chain can go on.
    result = await store.audit.prune(T0 + timedelta(days=365))
    assert (result.deleted, result.first_kept_id, result.anchor_hash) == (4, ids[4], before[3])
    async with store.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(audit_feedback)) == 0
    await store.audit.append(audit_record(99))
    assert (await check(store)).checked == 2
    again = await store.audit.prune(T0)  # nothing older: a no-op that keeps the anchor
    assert (again.deleted, again.anchor_hash) == (0, before[3])
    # Without the anchor the kept rows do not verify from genesis: the anchor is load-bearing.
    assert not (await verify_chain_stream(store.audit.iter(), GENESIS)).ok


async def test_memory_store_prunes_like_the_sql_store(store: SqlStore) -> None:
    memory = MemoryStore()
    for target in (store, memory):
        await chain(target, 7, days=True)
        await target.audit.append(audit_record(50, timestamp=T0))  # late row with an old time
    results = [await s.audit.prune(T0 + timedelta(days=3)) for s in (store, memory)]
    assert results[0] == results[1]
    rows = [[r.hash for r in await collect(s.audit.iter())] for s in (store, memory)]
    assert rows[0] == rows[1] and len(rows[0]) == 5
    assert (await check(memory)).ok and (await check(store)).ok


async def test_concurrent_writers_keep_one_chain(store: SqlStore) -> None:
    records = [audit_record(n) for n in range(120)]
    await asyncio.gather(
        *(store.record_exchange(r) for r in records[:60]),
        *(store.audit.append(r) for r in records[60:]),
    )
    rows = await collect(store.audit.iter())
    assert len(rows) == 120 and len({row.prev_hash for row in rows}) == 120
    result = await check(store)
    assert result.ok and result.checked == 120


async def test_markers_are_won_once(store: SqlStore) -> None:
    won = await asyncio.gather(*(store.markers.mark("k", str(n)) for n in range(20)))
    assert sum(won) == 1
    assert await store.markers.get("k") == str(won.index(True))
    assert await store.mirror.get_state("k") is None  # its own key space


async def test_without_content_the_table_holds_hashes_only(store: SqlStore) -> None:
    now = T0
    loaded = load_demo(now)
    mirror = InMemoryMirror(loaded.tables, loaded.as_of)
    service = build_service(
        build_assistant(
            store=store,
            mirror=mirror,
            providers=[OfflineProvider()],
            clock=lambda: now,
            policy=LimitPolicy(per_user_per_hour=1),
            config=AssistantConfig(store_content=False),
        ),
        clock=lambda: now,
    )
    question = "How many servers do I have in total?"
    admin = f"email:{DEMO_USERS['admin']}"
    for _ in range(2):  # one answered, one refused: both kinds of answer text
        inbound = Inbound(identity=admin, text=question, platform="console", is_dm=True)
        events = [event async for event in service.answer(inbound)]
    assert "Try again in" in events[-1].text
    async with store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_events))).all()
    assert len(rows) == 2
    for row in rows:
        assert row.question.startswith("sha256:") and row.answer.startswith("sha256:")
        assert len(row.question) == len("sha256:") + 64
        text = " ".join(str(value) for value in row)
        assert "servers" not in text and "Try again" not in text
    assert (await check(store)).ok
