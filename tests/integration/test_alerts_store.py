"""The alert rules on the real SQL store (SQLite and PostgreSQL): transitions, the outbox,
leases, and exactly-once under processes racing for the same work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.store import open_store
from adapters.store.database import SqlStore
from core.alerts import AlertDetector
from core.audit import verify_chain
from tests.unit.alert_kit import AlertWorld, RecordingSink, monitor


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    opened = await open_store(db_url, upgrade=True)
    yield opened
    await opened.close()


async def ready(world: AlertWorld) -> None:
    await world.bind()
    await world.subscribe()
    await world.step()
    world.sink.clear()


async def test_new_resolved_reopened_and_new_again(store: SqlStore) -> None:
    world = AlertWorld(store=store)
    world.put("monitors", monitor("m0", "down"))  # open before subscribing: counted, not posted
    await world.bind()
    assert await world.subscribe() == 1
    await world.step()
    [notice] = world.sink.ops("post")
    assert notice.card is not None and "1 problem is open now" in notice.card.headline
    world.sink.clear()

    world.put("monitors", monitor("m1", "down"))
    await world.step()
    [post] = world.sink.ops("post")
    world.clock.advance(minutes=4)
    world.put("monitors", monitor("m1", "up"))
    await world.step()
    world.clock.advance(minutes=10)
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    assert len(world.sink.ops("post")) == 1
    assert [s.op for s in world.sink.sent] == ["post", "edit", "reply", "edit", "reply"]
    assert {s.ref for s in world.sink.sent if s.op != "post"} == {post.ref}
    world.clock.advance(minutes=1)
    world.put("monitors", monitor("m0", "up"))  # the baseline problem resolves silently
    world.put("monitors", monitor("m1", "up"))
    await world.step()
    world.clock.advance(minutes=20)
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    assert len(world.sink.ops("post")) == 2
    rows = [row async for row in store.audit.iter()]
    assert verify_chain(rows).ok
    actions = [row.action for row in rows]
    # One row per message posted or edited: a resolution is an edit and a thread reply.
    assert actions.count("alert.sent") == 2 and actions.count("alert.resolved") == 4
    assert actions.count("alert.reopened") == 2
    sent = next(row for row in rows if row.action == "alert.sent")
    assert sent.org_id == "org_acme" and sent.metadata["target"] == "slack:T1:C1"
    assert sent.metadata["message"] == post.ref


async def test_a_burst_is_one_grouped_message(store: SqlStore) -> None:
    world = AlertWorld(store=store)
    await ready(world)
    for n in range(50):
        world.tables["monitors"][f"m{n}"] = monitor(f"m{n}", "down")
    await world.step()
    [post] = world.sink.ops("post")
    assert post.card is not None and post.card.headline.startswith("50 problems at once")
    world.clock.advance(minutes=1)
    for n in range(50):
        world.tables["monitors"][f"m{n}"] = monitor(f"m{n}", "up")
    await world.step()
    [edit] = world.sink.ops("edit")
    [reply] = world.sink.ops("reply")  # one reply for all fifty
    assert edit.card is not None and edit.card.resolved and reply.text.count("\n") == 49


async def test_detectors_racing_write_each_message_once(store: SqlStore) -> None:
    world = AlertWorld(store=store)
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    others = [AlertDetector(store, world.mirror, world.clock, world.tz) for _ in range(4)]
    await asyncio.gather(*(d.detect() for d in others))
    await world.delivery.deliver()
    assert len(world.sink.ops("post")) == 1


async def test_workers_racing_post_each_message_once(store: SqlStore) -> None:
    world = AlertWorld(store=store)
    await ready(world)
    for n in range(3):
        world.put("monitors", monitor(f"m{n}", "down"))
        await world.detector.detect()
        world.clock.advance(seconds=1)
    workers = [world.worker(f"w{n}") for n in range(5)]
    await asyncio.gather(*(w.deliver() for w in workers))
    assert len(world.sink.ops("post")) == 3
    assert await world.delivery.deliver() == 0


async def test_a_lease_left_by_a_dead_worker_expires(store: SqlStore) -> None:
    world = AlertWorld(store=store)
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    await world.detector.detect()
    assert len(await store.alerts.claim("slack", "dead", world.clock(), 60)) == 1
    late = RecordingSink()
    assert await world.worker("w2", late).deliver() == 0
    world.clock.advance(seconds=61)
    assert await world.worker("w2", late).deliver() == 1
    assert await world.delivery.deliver() == 0
    assert len(late.ops("post")) == 1 and world.sink.sent == []
