"""While the database is down, audit rows wait on disk; they land once it is back."""

from __future__ import annotations

from decimal import Decimal

from adapters.spool.audit_spool import AuditSpool, decode, encode
from adapters.stackdock.demo import DEMO_USERS
from core.audit import verify_chain
from core.models import ErrorReply, Final, Outcome, Usage, UsageRecord
from tests.fakes.memory_store import MemoryStore

ADMIN = f"email:{DEMO_USERS['admin']}"


class Outage:
    """Wraps a working store; while `down`, every write and read raises like a dead database."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner, self.down = inner, True

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name in {"record_exchange"}:

            async def guarded(*args, **kwargs):
                if self.down:
                    raise ConnectionRefusedError("database unreachable")
                return await attr(*args, **kwargs)

            return guarded
        return attr


async def test_rows_kept_during_an_outage_land_in_order_when_it_ends(kit, tmp_path):
    outage = Outage(kit.store)
    kit.store = outage
    spool = AuditSpool(tmp_path / "spool.jsonl")
    assistant = kit.assistant
    assistant.spool = spool

    answered = [e async for e in assistant.handle(kit_inbound("How many servers do I have?"))]
    refused = [
        e async for e in assistant.handle(kit_inbound("x", identity="email:ghost@x.example"))
    ]
    assert isinstance(answered[-1], Final)  # the person still got the answer
    assert isinstance(refused[-1], ErrorReply)
    assert spool.pending() == 2
    assert [r async for r in outage.inner.audit.iter()] == []

    assert await spool.replay(outage) == 0  # still down: nothing is lost, nothing written
    assert spool.pending() == 2

    outage.down = False
    assert await spool.replay(outage) == 2
    assert spool.pending() == 0
    rows = [r async for r in outage.inner.audit.iter()]
    assert [r.result for r in rows] == [Outcome.ANSWERED, Outcome.DENIED]
    assert all(r.metadata.get("spooled") for r in rows)
    assert verify_chain(rows).ok


def kit_inbound(text: str, identity: str = ADMIN):
    from core.models import Inbound

    return Inbound(identity=identity, text=text)


def test_encode_decode_round_trips_exact_costs():
    from datetime import UTC, datetime

    from core.models import AuditRecord

    when = datetime(2026, 11, 26, 12, tzinfo=UTC)
    record = AuditRecord(when, "email:a@b", "slack", Outcome.FAILED, cost_usd=Decimal("0.00001234"))
    usage = UsageRecord(
        when, "org", "usr", "email:a@b", Usage("openai", "m", 1, 2, cost_usd=Decimal("0.5"))
    )
    back, back_usage = decode(encode(record, usage))
    assert back == record and back_usage == usage
