"""The audit hash chain's pure functions: canonical payload, sealing, verification."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.audit import (
    GENESIS,
    ChainVerifier,
    canonical_payload,
    chain_hash,
    seal,
    verify_chain,
    verify_chain_stream,
)
from core.models import AuditRecord, Outcome

T0 = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def record(n: int = 0, **overrides: object) -> AuditRecord:
    values: dict[str, object] = {
        "timestamp": T0 + timedelta(seconds=n),
        "identity": "slack:T1:U1",
        "platform": "slack",
        "result": Outcome.ANSWERED,
        "question": f"q{n}",
        "answer": f"a{n}",
    }
    values.update(overrides)
    return AuditRecord(**values)  # type: ignore[arg-type]


def chain(n: int) -> list[AuditRecord]:
    rows: list[AuditRecord] = []
    for i in range(n):
        sealed = seal(record(i), rows[-1].hash if rows else GENESIS)
        sealed.id = i + 1
        rows.append(sealed)
    return rows


def test_payload_format_is_pinned() -> None:
    # Changing this format would make every existing chain fail verification.
    payload = canonical_payload(record(cost_usd=Decimal("0.50"), tools=["get_resource"]))
    assert payload == (
        b'{"action":"ai.chat","answer":"a0","channel":null,"cost_usd":"0.5",'
        b'"error_message":null,"identity":"slack:T1:U1","input_tokens":null,"is_dm":true,'
        b'"latency_ms":null,"metadata":{},"model":null,"org_id":null,"output_tokens":null,'
        b'"platform":"slack","provider":null,"question":"q0","reason":null,"result":"answered",'
        b'"retry_after_s":null,"timestamp":"2025-03-01T12:00:00.250000Z","tools":["get_resource"],'
        b'"user_id":null}'
    )


def test_payload_ignores_chain_fields_and_representation_noise() -> None:
    base = record(cost_usd=Decimal("0.0012"))
    same = [
        dataclasses.replace(base, id=7, prev_hash="a" * 64, hash="b" * 64),
        dataclasses.replace(base, cost_usd=Decimal("0.00120000")),
        dataclasses.replace(base, timestamp=T0.astimezone(timezone(timedelta(hours=-5)))),
        dataclasses.replace(base, timestamp=T0.replace(tzinfo=None)),
    ]
    assert {canonical_payload(r) for r in same} == {canonical_payload(base)}


def test_every_content_field_changes_the_hash() -> None:
    base = record()
    changed = {
        "timestamp": T0 + timedelta(microseconds=1),
        "identity": "slack:T1:U2",
        "platform": "discord",
        "result": Outcome.DENIED,
        "org_id": "org1",
        "user_id": "user1",
        "channel": "C1",
        "is_dm": False,
        "action": "rbac.deny",
        "reason": "denied",
        "question": "q?",
        "answer": "a!",
        "tools": ["x"],
        "provider": "openai",
        "model": "m",
        "input_tokens": 1,
        "output_tokens": 1,
        "cost_usd": Decimal("0.00000001"),
        "latency_ms": 1,
        "error_message": "boom",
        "retry_after_s": 1.5,
        "metadata": {"k": 1},
    }
    content = {f.name for f in dataclasses.fields(AuditRecord)} - {"id", "prev_hash", "hash"}
    assert set(changed) == content, "a new field must be added here and to the payload"
    hashes = {chain_hash(GENESIS, dataclasses.replace(base, **{k: v})) for k, v in changed.items()}
    assert len(hashes | {chain_hash(GENESIS, base)}) == len(changed) + 1


def test_chain_hash_is_sha256_of_prev_then_payload() -> None:
    r = record()
    expected = hashlib.sha256(("1" * 64).encode() + canonical_payload(r)).hexdigest()
    assert chain_hash("1" * 64, r) == expected != chain_hash(GENESIS, r)


def test_seal_normalizes_a_copy() -> None:
    original = record(cost_usd=Decimal("0.123456789"), timestamp=T0.replace(tzinfo=None))
    sealed = seal(original, GENESIS)
    assert sealed.cost_usd == Decimal("0.12345679")
    assert sealed.timestamp == T0 and sealed.timestamp.tzinfo is UTC
    assert sealed.prev_hash == GENESIS and sealed.hash == chain_hash(GENESIS, sealed)
    assert original.hash is None and original.cost_usd == Decimal("0.123456789")


def test_intact_chain_verifies() -> None:
    rows = chain(5)
    result = verify_chain(rows)
    assert (result.ok, result.checked, result.first_bad_id, result.last_hash) == (
        True,
        5,
        None,
        rows[-1].hash,
    )
    assert verify_chain([]) == verify_chain([], anchor_prev=None)
    assert verify_chain([]).ok and verify_chain([]).checked == 0


def test_edit_is_caught_at_the_edited_row() -> None:
    rows = chain(5)
    rows[2].answer = "something else"
    result = verify_chain(rows)
    assert (result.ok, result.checked, result.first_bad_id) == (False, 2, 3)
    assert "edited" in (result.reason or "")


def test_deletion_is_caught_at_the_next_row() -> None:
    rows = chain(5)
    assert verify_chain(rows[:2] + rows[3:]).first_bad_id == 4
    assert verify_chain(rows[1:]).first_bad_id == 2, "the first row must follow GENESIS"


def test_segment_verifies_against_its_anchor() -> None:
    rows = chain(5)
    assert verify_chain(rows[2:], anchor_prev=rows[1].hash).ok
    assert not verify_chain(rows[2:], anchor_prev=rows[0].hash).ok


def test_tail_truncation_shows_only_in_last_hash() -> None:
    rows = chain(5)
    truncated = verify_chain(rows[:4])
    assert truncated.ok and truncated.last_hash != verify_chain(rows).last_hash


@given(st.data())
def test_any_reordering_or_deletion_is_caught(data: st.DataObject) -> None:
    rows = chain(data.draw(st.integers(2, 8)))
    order = data.draw(st.permutations(range(len(rows))))
    keep = data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    tampered = [rows[i] for i, kept in zip(order, keep, strict=True) if kept]
    if [r.id for r in tampered] == [r.id for r in rows[: len(tampered)]]:
        # Only rows cut off at the end: the one change a chain alone cannot see.
        assert verify_chain(tampered).ok
    else:
        assert not verify_chain(tampered).ok


def test_verifier_stops_at_the_first_failure() -> None:
    rows = chain(4)
    rows[1].answer = "x"
    rows[3].answer = "y"
    verifier = ChainVerifier()
    assert [verifier.add(r) for r in rows] == [True, False, False, False]
    assert verifier.result().first_bad_id == 2


async def test_stream_verification_matches_list_verification() -> None:
    rows = chain(4)
    rows[2].question = "edited"

    async def stream():
        for r in rows:
            yield r

    assert await verify_chain_stream(stream()) == verify_chain(rows)
