"""A question's audit row, messages and usage land together or not at all (SQLite and PG)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters.store import open_store
from core.audit import verify_chain
from core.models import AuditRecord, ChatMessage, Outcome, Usage, UsageRecord

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def record(question: str) -> AuditRecord:
    return AuditRecord(
        timestamp=NOW,
        identity="email:ada@acme.example",
        platform="console",
        result=Outcome.ANSWERED,
        org_id="org_acme",
        user_id="usr_ada",
        question=question,
        answer="42",
    )


def usage() -> UsageRecord:
    cost = Decimal("0.00012345")
    return UsageRecord(
        NOW,
        "org_acme",
        "usr_ada",
        "email:ada@acme.example",
        Usage("openai", "m", 10, 2, cost_usd=cost),
    )


async def test_exchange_writes_row_messages_and_usage_linked(db_url):
    store = await open_store(db_url, upgrade=True)
    try:
        messages = [ChatMessage("user", "how many?"), ChatMessage("assistant", "42")]
        sealed = await store.record_exchange(
            record("how many?"), conversation_key="t1", messages=messages, usage=usage()
        )
        assert sealed.id is not None and sealed.hash is None, "chained off the answer path"
        assert [m.content for m in await store.conversations.history("t1", 10)] == [
            "how many?",
            "42",
        ]
        (used,) = [u async for u in store.usage.iter()]
        assert used.audit_id == sealed.id and used.usage.cost_usd == Decimal("0.00012345")
        assert verify_chain([r async for r in store.audit.iter()]).ok
    finally:
        await store.close()


async def test_a_failing_part_leaves_nothing_half_recorded(db_url):
    store = await open_store(db_url, upgrade=True)
    try:
        await store.record_exchange(record("first"))
        broken = [ChatMessage("user", None)]  # type: ignore[arg-type]  # NOT NULL column
        with pytest.raises(Exception) as failed:  # the driver's error differs per database
            await store.record_exchange(
                record("second, from Ada"), conversation_key="t2", messages=broken, usage=usage()
            )
        # The error goes to the log and the row's error message: it names no values.
        assert "from Ada" not in str(failed.value) and "usr_ada" not in str(failed.value)
        rows = [r async for r in store.audit.iter()]
        assert [r.question for r in rows] == ["first"]
        assert [u async for u in store.usage.iter()] == []
        assert await store.conversations.history("t2", 10) == []
        # The chain goes on from the last row that really landed.
        await store.record_exchange(record("third"))
        assert verify_chain([r async for r in store.audit.iter()]).ok
    finally:
        await store.close()
