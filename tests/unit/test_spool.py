"""While the database is down, audit rows wait on disk; they land once it is back, and a
line that cannot be replayed is set aside without holding back the rows behind it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from adapters.spool.audit_spool import STRIKES, AuditSpool, decode, encode
from adapters.stackdock.demo import DEMO_USERS
from core.audit import verify_chain
from core.models import AuditRecord, ErrorReply, Final, Inbound, Outcome, Usage, UsageRecord
from tests.fakes.ports.memory_store import MemoryStore

ADMIN = f"email:{DEMO_USERS['admin']}"


class Outage:
    """Wraps a working store; while `down`, every write and read raises like a dead database."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner, self.down = inner, True

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name in {"record_exchange", "ping"}:

            async def guarded(*args, **kwargs):
                if self.down:
                    raise ConnectionRefusedError("database unreachable")
                return await attr(*args, **kwargs)

            return guarded
        return attr


async def test_rows_kept_during_an_outage_land_in_order_when_it_ends(kit, tmp_path):
    outage = Outage(kit.store)
    kit.store = outage
    spool = kit.spool = AuditSpool(tmp_path / "spool.jsonl")
    assistant = kit.assistant

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


def kit_inbound(text: str, identity: str = ADMIN) -> Inbound:
    return Inbound(identity=identity, text=text, platform="console", is_dm=True)


def test_encode_decode_round_trips_exact_costs():
    when = datetime(2026, 11, 26, 12, tzinfo=UTC)
    record = AuditRecord(when, "email:a@b", "slack", Outcome.FAILED, cost_usd=Decimal("0.00001234"))
    usage = UsageRecord(
        when, "org", "usr", "email:a@b", Usage("openai", "m", 1, 2, cost_usd=Decimal("0.5"))
    )
    back, back_usage = decode(encode(record, usage))
    assert back == record and back_usage == usage


WHEN = datetime(2026, 11, 26, 12, tzinfo=UTC)


def row(identity: str) -> str:
    return encode(AuditRecord(WHEN, identity, "slack", Outcome.ANSWERED, question="q"), None)


async def identities(store: MemoryStore) -> list[str]:
    return [r.identity async for r in store.audit.iter()]


async def test_torn_and_foreign_lines_are_set_aside_and_the_rest_replays(tmp_path, caplog):
    path = tmp_path / "spool.jsonl"
    torn = row("b")[:40]
    lines = [
        row("a").encode(),
        torn.encode(),  # the process died mid-write...
        (torn + row("c")).encode(),  # ...and an older writer glued the next row onto it
        b"\xff\xfe not utf-8",
        b'{"audit": {"identity": "no other field"}}',
        row("d").encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    store, spool = MemoryStore(), AuditSpool(path)

    with caplog.at_level(logging.WARNING, logger="adapters.spool.audit_spool"):
        assert await spool.replay(store) == 3

    assert await identities(store) == ["a", "c", "d"]
    assert verify_chain([r async for r in store.audit.iter()]).ok
    assert spool.pending() == 0
    # Kept byte for byte, one per line, for an operator to read or mend and re-append.
    assert spool.set_aside_path.read_bytes().split(b"\n")[:-1] == [
        torn.encode(),
        torn.encode(),
        b"\xff\xfe not utf-8",
        b'{"audit": {"identity": "no other field"}}',
    ]
    warned = [r.getMessage() for r in caplog.records]
    for number in (2, 3, 4, 5):
        assert any(f"{path} line {number}:" in m for m in warned), warned


async def test_a_row_after_a_torn_tail_starts_its_own_line(tmp_path):
    path = tmp_path / "spool.jsonl"
    path.write_text(row("a") + "\n" + row("b")[:30], "utf-8")  # no newline: torn by a crash
    spool = AuditSpool(path)
    await spool.put(decode(row("c"))[0])
    store = MemoryStore()
    assert await spool.replay(store) == 2
    assert await identities(store) == ["a", "c"]
    assert spool.set_aside_path.read_text("utf-8") == row("b")[:30] + "\n"


class Refusing:
    """A database that is up but refuses one row, as PostgreSQL refuses text with a NUL."""

    def __init__(self, inner: MemoryStore, poison: str) -> None:
        self.inner, self.poison = inner, poison

    async def record_exchange(self, record, **kwargs):
        if record.identity == self.poison:
            raise ValueError("A string literal cannot contain NUL (0x00) characters.")
        return await self.inner.record_exchange(record, **kwargs)

    async def ping(self) -> None:
        await self.inner.ping()


async def test_a_row_the_database_keeps_refusing_is_set_aside_after_strikes(tmp_path):
    path = tmp_path / "spool.jsonl"
    path.write_text("".join(row(who) + "\n" for who in ("a", "poison", "b")), "utf-8")
    inner = MemoryStore()
    store, spool = Refusing(inner, "poison"), AuditSpool(path)
    for _ in range(STRIKES - 1):  # a passing refusal is retried, not thrown away
        await spool.replay(store)
        assert await identities(inner) == ["a"]
        assert spool.pending() == 2
    assert await spool.replay(store) == 1
    assert await identities(inner) == ["a", "b"]
    assert spool.pending() == 0
    assert spool.set_aside_path.read_text("utf-8") == row("poison") + "\n"
