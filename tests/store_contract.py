"""Behaviour every Store must have. Run against SqlStore (tests/integration/test_store.py, on
SQLite and PostgreSQL) and against MemoryStore (tests/unit/test_memory_store.py), so the fake
the unit tests lean on cannot drift from the real thing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterable, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from core.audit import GENESIS, verify_chain
from core.models import (
    AuditRecord,
    Binding,
    ChatMessage,
    Outcome,
    SpendCap,
    ToolCall,
    Usage,
    UsageRecord,
)
from core.ports import QUESTION_ID, Store

T = TypeVar("T")

T0 = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def audit_record(n: int, **overrides: object) -> AuditRecord:
    values: dict[str, object] = {
        "timestamp": T0 + timedelta(minutes=n),
        "identity": f"slack:T1:U{n}",
        "platform": "slack",
        "result": Outcome.ANSWERED,
        "org_id": "org1",
        "question": f"question {n}",
        "answer": f"answer {n}",
    }
    values.update(overrides)
    return AuditRecord(**values)  # type: ignore[arg-type]


async def collect(iterator: AsyncIterable[T]) -> list[T]:
    return [item async for item in iterator]


async def check_links(store: Store) -> None:
    assert await store.links.get("slack:T1:U1") is None
    await store.links.set("slack:T1:U1", "user_a")
    await store.links.set("discord:G1:U2", "b@example.com")
    await store.links.set("slack:T1:U1", "user_c")  # relinking replaces
    assert await store.links.get("slack:T1:U1") == "user_c"
    assert await store.links.all() == [
        ("discord:G1:U2", "b@example.com"),
        ("slack:T1:U1", "user_c"),
    ]
    assert await store.links.remove("slack:T1:U1") is True
    assert await store.links.remove("slack:T1:U1") is False
    assert await store.links.get("slack:T1:U1") is None
    assert await store.links.all() == [("discord:G1:U2", "b@example.com")]


async def check_bindings(store: Store) -> None:
    assert await store.bindings.get("slack:T1") is None
    await store.bindings.set(Binding("slack:T1", "org1"))
    await store.bindings.set(Binding("slack:T1:C1", "org2", allow_detail=True))
    await store.bindings.set(Binding("slack:T1", "org3"))
    assert await store.bindings.get("slack:T1") == Binding("slack:T1", "org3", False)
    assert await store.bindings.get("slack:T1:C1") == Binding("slack:T1:C1", "org2", True)
    assert [b.target for b in await store.bindings.all()] == ["slack:T1", "slack:T1:C1"]
    assert await store.bindings.remove("slack:T1") is True
    assert await store.bindings.remove("slack:T1") is False
    assert await store.bindings.all() == [Binding("slack:T1:C1", "org2", True)]


async def check_binding_instructions(store: Store) -> None:
    words = 'Antworte auf Deutsch. "Quotes", <tags> and ünïcode stay as written.'
    await store.bindings.set(Binding("discord:G1:C1", "org1", instructions=words))
    assert await store.bindings.get("discord:G1:C1") == Binding(
        "discord:G1:C1", "org1", False, words
    )
    # Re-binding without instructions clears them: a binding is stored whole.
    await store.bindings.set(Binding("discord:G1:C1", "org1"))
    assert (await store.bindings.get("discord:G1:C1")).instructions == ""  # type: ignore[union-attr]
    await store.bindings.set(Binding("discord:@me:U1", "org2", instructions="Be terse."))
    stored = {b.target: b.instructions for b in await store.bindings.all()}
    assert stored == {"discord:G1:C1": "", "discord:@me:U1": "Be terse."}


async def check_history_order_and_limit(store: Store) -> None:
    call = ToolCall("call_1", "list_resources", {"kind": "servers", "filters": {"status": "up"}})
    turn = [
        ChatMessage("user", "which servers?"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"count": 2}', tool_call_id="call_1", name="list_resources"),
        ChatMessage("assistant", "You have 2 servers."),
    ]
    await store.conversations.append("thread-1", turn[:2], org_id="org1", user_id="u1")
    await store.conversations.append(
        "thread-2", [ChatMessage("user", "other")], org_id="org1", user_id="u2"
    )
    await store.conversations.append("thread-1", turn[2:], org_id="org1", user_id="u1")
    await store.conversations.append("thread-1", [], org_id="org1", user_id="u1")

    assert await store.conversations.history("thread-1", 50) == turn
    assert await store.conversations.history("thread-1", 3) == turn[1:]
    assert await store.conversations.history("thread-1", 1) == [turn[-1]]
    assert await store.conversations.history("thread-1", 0) == []
    assert await store.conversations.history("thread-2", 50) == [ChatMessage("user", "other")]
    assert await store.conversations.history("nobody", 5) == []
    restored = (await store.conversations.history("thread-1", 3))[0].tool_calls[0]
    assert restored.arguments["filters"] == {"status": "up"}

    # A thread that later answers for another org (its channel rebound) shows each org its own.
    later = [ChatMessage("user", "and now?"), ChatMessage("assistant", "Org 2 here.")]
    await store.conversations.append("thread-1", later, org_id="org2", user_id="u9")
    assert await store.conversations.history("thread-1", 50, "org1") == turn
    assert await store.conversations.history("thread-1", 50, "org2") == later
    assert await store.conversations.history("thread-1", 1, "org1") == [turn[-1]]
    assert await store.conversations.history("thread-1", 50) == [*turn, *later]


async def check_audit_round_trip(store: Store) -> None:
    record = audit_record(
        1,
        user_id="user_a",
        channel="C1",
        is_dm=False,
        reason=None,
        tools=["list_resources", "find_problems"],
        provider="openai",
        model="gpt-4o-mini",
        input_tokens=1200,
        output_tokens=345,
        cost_usd=Decimal("0.00012345"),
        latency_ms=812,
        retry_after_s=12.5,
        metadata={"nested": {"ids": [1, 2, 3]}, "big": 1e16, "text": "naïve ✓"},
    )
    stored = await store.audit.append(record)
    assert stored.id is not None
    assert record.id is None and record.hash is None, "append must not mutate its argument"

    (row,) = await collect(store.audit.iter())  # a reader seals what is stored first
    assert row.prev_hash == GENESIS and len(row.hash or "") == 64
    unchained = {"prev_hash": None, "hash": None}
    assert dataclasses.replace(row, **unchained) == dataclasses.replace(stored, **unchained)
    assert row.cost_usd == Decimal("0.00012345")
    assert row.timestamp == record.timestamp and row.timestamp.tzinfo is not None
    assert row.result is Outcome.ANSWERED
    assert verify_chain([row]).ok


async def check_audit_chain_and_since(store: Store) -> None:
    appended = [await store.audit.append(audit_record(n)) for n in range(5)]
    assert [r.id for r in appended] == sorted({r.id for r in appended})

    rows = await collect(store.audit.iter())
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    result = verify_chain(rows)
    assert result.ok and result.checked == 5 and result.last_hash == rows[-1].hash
    assert await store.audit.seal() == 0, "nothing is left to seal once read"
    later = await collect(store.audit.iter(since=T0 + timedelta(minutes=3)))
    assert [r.id for r in later] == [appended[3].id, appended[4].id]


async def check_audit_concurrent_appends(store: Store) -> None:
    stored = await asyncio.gather(*(store.audit.append(audit_record(n)) for n in range(100)))
    rows = await collect(store.audit.iter())
    result = verify_chain(rows)
    assert result.ok, result
    assert result.checked == 100
    assert len({r.prev_hash for r in rows}) == 100, "two rows share a parent: the chain forked"
    # Chain order is sealing order: a row committed late is chained after later ids.
    assert sorted(r.id for r in stored) == sorted(r.id for r in rows)


async def check_feedback(store: Store) -> None:
    row = await store.audit.append(audit_record(1))
    assert await store.audit.set_feedback(row.id, "slack:T1:U1", 1) is True
    assert await store.audit.set_feedback(row.id, "slack:T1:U1", -1) is True  # changes its mind
    assert await store.audit.set_feedback(row.id, "slack:T1:U2", 1) is True
    assert await store.audit.set_feedback(row.id + 1000, "slack:T1:U1", 1) is False
    assert verify_chain(await collect(store.audit.iter())).ok, "feedback must not touch the chain"
    assert await store.audit.asker(row.id) == row.identity
    assert await store.audit.asker(row.id + 1000) is None


def usage_record(org: str, at: datetime, cost: str | None, **usage: object) -> UsageRecord:
    spent = None if cost is None else Decimal(cost)
    return UsageRecord(
        at, org, "user_a", "slack:T1:U1", Usage("openai", "gpt-4o", cost_usd=spent, **usage)
    )


async def check_usage(store: Store) -> None:
    full = usage_record(
        "org1",
        T0,
        "12345.67890123",
        input_tokens=1000,
        output_tokens=200,
        cache_read_tokens=50,
        cache_write_tokens=7,
        calls=3,
    )
    await store.usage.record(full)
    await store.usage.record(usage_record("org1", T0 + timedelta(hours=1), "0.00000001"))
    await store.usage.record(usage_record("org1", T0 + timedelta(hours=2), None))
    await store.usage.record(usage_record("org1", T0 + timedelta(hours=3), "0.00000002"))
    await store.usage.record(usage_record("org2", T0 + timedelta(hours=1), "5"))

    assert await store.usage.spend("org1", T0) == Decimal("12345.67890126")
    assert await store.usage.spend("org1", T0 + timedelta(minutes=1)) == Decimal("0.00000003")
    assert await store.usage.spend("org2", T0) == Decimal(5)
    assert await store.usage.spend("nobody", T0) == Decimal(0)

    everything = await collect(store.usage.iter())
    assert len(everything) == 5 and everything[0] == full
    unknown = await collect(store.usage.iter(since=T0 + timedelta(hours=2), org_id="org1"))
    assert [r.usage.cost_usd for r in unknown] == [None, Decimal("0.00000002")]
    assert unknown[0].usage.input_tokens is None
    assert [r.org_id for r in await collect(store.usage.iter(org_id="org2"))] == ["org2"]


async def check_rate_limit_window(store: Store) -> None:
    admit = store.rate_limits.admit
    first = [await admit("user:a", 3, 60, T0 + timedelta(seconds=s)) for s in (0, 1, 2)]
    assert [(a.admitted, a.count) for a in first] == [(True, 1), (True, 2), (True, 3)]
    refused = await admit("user:a", 3, 60, T0 + timedelta(seconds=3))
    assert (refused.admitted, refused.count, refused.retry_after_s) == (False, 3, 57.0)
    assert (await admit("user:b", 3, 60, T0 + timedelta(seconds=3))).count == 1, "keys are apart"
    # The hit at T0 leaves the window exactly at T0+60 (a hit counts while at > now - window).
    again = await admit("user:a", 3, 60, T0 + timedelta(seconds=60))
    assert (again.admitted, again.count) == (True, 3)
    refused = await admit("user:a", 3, 60, T0 + timedelta(seconds=60, milliseconds=500))
    assert (refused.admitted, refused.retry_after_s) == (False, 0.5)


async def check_rate_limit_concurrent(store: Store) -> None:
    results = await asyncio.gather(
        *(store.rate_limits.admit("user:busy", 50, 3600, T0) for _ in range(200))
    )
    admitted = [r for r in results if r.admitted]
    assert len(admitted) == 50
    assert sorted(r.count for r in admitted) == list(range(1, 51))
    assert {(r.count, r.retry_after_s) for r in results if not r.admitted} == {(50, 3600.0)}
    later = await store.rate_limits.admit("user:busy", 50, 3600, T0 + timedelta(seconds=600))
    assert (later.admitted, later.retry_after_s) == (False, 3000.0)


async def check_rate_limit_with_budget(store: Store) -> None:
    def question(n: int) -> AuditRecord:
        return audit_record(n, result=Outcome.FAILED, metadata={QUESTION_ID: f"qb{n}"})

    await store.usage.record(usage_record("org1", T0 - timedelta(days=40), "9"))  # last month
    await store.usage.record(usage_record("org1", T0, "0.60"))
    await store.usage.record(usage_record("org2", T0, "5"))  # another org's spend is not ours
    cap = SpendCap("org1", T0 - timedelta(days=1), Decimal("1"))
    admit = store.rate_limits.admit
    under = await admit("user:c", 2, 3600, T0, pending=question(1), cap=cap)
    assert (under.admitted, under.count, under.spent) == (True, 1, Decimal("0.60"))
    assert (await admit("user:c", 2, 3600, T0)).spent is None, "no cap, no spend read"

    await store.usage.record(usage_record("org1", T0, "0.40"))  # exactly the budget now
    over = await admit("user:c", 2, 3600, T0, pending=question(2), cap=cap)
    assert (over.admitted, over.spent) == (False, Decimal("1.00"))
    # Refused for the budget: no slot was taken and no question was left pending.
    assert await store.pending.settle(question(2)) is None
    assert (
        await admit("user:d", 1, 3600, T0, cap=dataclasses.replace(cap, budget=Decimal("2")))
    ).admitted
    window_full = await admit(
        "user:c", 1, 3600, T0, cap=dataclasses.replace(cap, budget=Decimal("2"))
    )
    assert (window_full.admitted, window_full.count, window_full.spent) == (
        False,
        2,
        Decimal("1.00"),
    )
    assert (await store.pending.settle(question(1))) is not None, "the admitted one is pending"


async def check_event_claims(store: Store) -> None:
    assert await store.events.claim("Ev1", T0) is True
    assert await store.events.claim("Ev1", T0 + timedelta(seconds=5)) is False
    wins = await asyncio.gather(*(store.events.claim("Ev2", T0) for _ in range(20)))
    assert wins.count(True) == 1
    # Claims older than a day are pruned, so such an old id could be claimed again.
    assert await store.events.claim("Ev3", T0 + timedelta(days=2)) is True
    assert await store.events.claim("Ev1", T0 + timedelta(days=2)) is True


async def check_pending_questions(store: Store) -> None:
    def admitted(n: int) -> AuditRecord:
        return audit_record(
            n,
            result=Outcome.FAILED,
            answer=None,
            metadata={QUESTION_ID: f"q{n}", "event_id": f"Ev-pending-{n}"},
        )

    admit = store.rate_limits.admit
    assert await store.events.claim("Ev-pending-1", T0)
    assert (await admit("user:p", 2, 3600, T0, pending=admitted(1))).admitted
    assert (await admit("user:p", 2, 3600, T0, pending=admitted(2))).admitted
    assert not (await admit("user:p", 2, 3600, T0, pending=admitted(3))).admitted

    # Answered: its row clears it, so there is nothing left to settle.
    await store.record_exchange(dataclasses.replace(admitted(2), result=Outcome.ANSWERED))
    assert await store.pending.settle(admitted(2)) is None

    # Interrupted: settled once, with its slot given back and its event free again.
    lost = dataclasses.replace(admitted(1), reason="interrupted")
    sealed = await store.pending.settle(lost)
    assert sealed is not None and sealed.reason == "interrupted"
    assert sealed.metadata[QUESTION_ID] == "q1" and sealed.question == "question 1"
    assert await store.pending.settle(lost) is None
    assert (await admit("user:p", 2, 3600, T0 + timedelta(seconds=1))).admitted
    assert await store.events.claim("Ev-pending-1", T0 + timedelta(seconds=2))
    rows = await collect(store.audit.iter())
    assert [r.metadata[QUESTION_ID] for r in rows] == ["q2", "q1"]
    assert verify_chain(rows).ok

    # Without a slot (no per-user limit) a question is opened on its own.
    await store.pending.open(admitted(4))
    assert (await store.pending.settle(admitted(4))) is not None


def _sorted(tables: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {t: sorted(docs, key=lambda d: d["_id"]) for t, docs in tables.items()}


async def check_mirror(store: Store) -> None:
    server = {"_id": "s1", "orgId": "org1", "name": "web-1", "fullApiData": {"ip": [1, 2]}}
    await store.mirror.replace(
        {"servers": [server], "organizations": [{"_id": "org1", "name": "Acme"}]}
    )
    loaded = await store.mirror.load()
    assert loaded == {"organizations": [{"_id": "org1", "name": "Acme"}], "servers": [server]}

    renamed = {**server, "name": "web-1b"}
    new = {"_id": "s2", "orgId": "org2", "name": "db-1"}
    await store.mirror.apply("servers", [renamed, new], [])
    await store.mirror.apply("servers", [], ["s1", "missing"])
    assert (await store.mirror.load())["servers"] == [new]

    await store.mirror.replace({"domains": [{"_id": "d1", "orgId": "org1"}]})
    assert await store.mirror.load() == {"domains": [{"_id": "d1", "orgId": "org1"}]}

    assert await store.mirror.get_state("convex:cursor") is None
    await store.mirror.set_state("convex:cursor", "100")
    await store.mirror.set_state("convex:cursor", "205")
    assert await store.mirror.get_state("convex:cursor") == "205"


async def check_mirror_bulk(store: Store) -> None:
    tables = {
        table: [
            {"_id": f"{table}-{i}", "orgId": f"org{i % 7}", "name": f"n{i}", "n": i}
            for i in range(5000)
        ]
        for table in ("servers", "domains")
    }
    await store.mirror.replace(tables)
    await store.mirror.apply("servers", [{"_id": "servers-1", "orgId": "org9"}], ["servers-2"])
    loaded = _sorted(await store.mirror.load())
    expected = _sorted(tables)
    expected["servers"] = [d for d in expected["servers"] if d["_id"] != "servers-2"]
    expected["servers"] = [
        {"_id": "servers-1", "orgId": "org9"} if d["_id"] == "servers-1" else d
        for d in expected["servers"]
    ]
    assert loaded == expected


CHECKS: list[Callable[[Store], Awaitable[None]]] = [
    check_links,
    check_bindings,
    check_binding_instructions,
    check_history_order_and_limit,
    check_audit_round_trip,
    check_audit_chain_and_since,
    check_audit_concurrent_appends,
    check_feedback,
    check_usage,
    check_rate_limit_window,
    check_rate_limit_concurrent,
    check_rate_limit_with_budget,
    check_event_claims,
    check_pending_questions,
    check_mirror,
    check_mirror_bulk,
]
