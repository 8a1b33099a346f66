"""The audit trail's hash chain: each row's hash covers its content and the previous row's hash.

Pure functions, no storage. A store writes a question's row unchained, so that answers never
queue behind one chain; a sealer then chains the rows in the order it finds them with `seal`,
one sealer at a time. `verify_chain` (or `ChainVerifier` for a stream) later proves that no
sealed row was edited, deleted, inserted or reordered since.

The row id is deliberately left out of the hashed payload: the database assigns it after the
hash is computed, and the order of the chain is already carried by each row's `prev_hash`. An
export re-imported under new ids therefore still verifies.

What a chain alone cannot show: rows cut off at the end, or a rewrite that recomputes every
later hash. Keep `VerifyResult.last_hash` somewhere else (a ticket, a log line) to catch those.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from core.models import AuditRecord

GENESIS = "0" * 64

# The precision the store keeps (Numeric(18, 8)). A record is rounded to it before hashing so
# that what was hashed is exactly what a round trip through the database gives back.
COST_QUANTUM = Decimal("0.00000001")

_CHAIN_FIELDS = ("id", "prev_hash", "hash")


def utc(moment: datetime) -> datetime:
    """The same instant as an aware UTC datetime; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def quantize_cost(cost: Decimal | None) -> Decimal | None:
    return None if cost is None else cost.quantize(COST_QUANTUM)


def _decimal_text(value: Decimal) -> str:
    # normalize() drops the exponent a database may add (0.0012 vs 0.00120000); "f" avoids 1E+2.
    return format(value.normalize(), "f")


def canonical_payload(record: AuditRecord) -> bytes:
    """Stable bytes of every content field of a record: sorted-key compact ASCII JSON.

    Decimals are written as plain strings, datetimes as ISO-8601 in UTC with microseconds,
    the outcome as its value. id, prev_hash and hash are excluded (see the module docstring).
    """
    payload = {}
    for f in dataclasses.fields(record):
        if f.name in _CHAIN_FIELDS:
            continue
        value = getattr(record, f.name)
        if isinstance(value, Decimal):
            value = _decimal_text(value)
        elif isinstance(value, datetime):
            value = utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        payload[f.name] = value
    # ASCII escapes keep the bytes well defined even for text a UTF-8 encoder would refuse.
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")


def chain_hash(prev_hash: str, record: AuditRecord) -> str:
    """SHA-256 (hex) of the previous row's hash followed by this record's canonical payload."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical_payload(record))
    return digest.hexdigest()


def normalized(record: AuditRecord) -> AuditRecord:
    """A copy of `record` as the store keeps it, not yet chained (no prev_hash, no hash)."""
    return dataclasses.replace(
        record,
        timestamp=utc(record.timestamp),
        cost_usd=quantize_cost(record.cost_usd),
        tools=list(record.tools),
        metadata=dict(record.metadata),
        prev_hash=None,
        hash=None,
    )


def seal(record: AuditRecord, prev_hash: str) -> AuditRecord:
    """A copy of `record`, normalized the way the store keeps it, chained after `prev_hash`."""
    sealed = normalized(record)
    sealed.prev_hash = prev_hash
    sealed.hash = chain_hash(prev_hash, sealed)
    return sealed


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int  # rows found intact, in order, before the first bad one (all of them when ok)
    first_bad_id: int | None = None
    reason: str | None = None
    last_hash: str = GENESIS  # hash of the last intact row; anchor it elsewhere


class ChainVerifier:
    """Checks a chain one row at a time, so a stream of any length fits in constant memory."""

    def __init__(self, anchor_prev: str | None = None) -> None:
        self._expected_prev = anchor_prev if anchor_prev is not None else GENESIS
        self._checked = 0
        self._failure: VerifyResult | None = None

    def add(self, record: AuditRecord) -> bool:
        """Checks the next row; False once the chain is broken (later rows are then ignored)."""
        if self._failure is not None:
            return False
        if record.prev_hash != self._expected_prev:
            reason = "prev_hash does not match the previous row: a row was deleted or reordered"
        elif record.hash != chain_hash(self._expected_prev, record):
            reason = "hash does not match the row's content: the row was edited"
        else:
            self._checked += 1
            self._expected_prev = record.hash
            return True
        self._failure = VerifyResult(
            False, self._checked, record.id, reason, last_hash=self._expected_prev
        )
        return False

    def result(self) -> VerifyResult:
        if self._failure is not None:
            return self._failure
        return VerifyResult(True, self._checked, last_hash=self._expected_prev)


def verify_chain(records: Iterable[AuditRecord], anchor_prev: str | None = None) -> VerifyResult:
    """Verifies rows given in chain order. The first row must follow `anchor_prev` (GENESIS
    when None, i.e. the whole trail); pass a known earlier hash to verify a later segment."""
    verifier = ChainVerifier(anchor_prev)
    for record in records:
        if not verifier.add(record):
            break
    return verifier.result()


async def verify_chain_stream(
    records: AsyncIterable[AuditRecord], anchor_prev: str | None = None
) -> VerifyResult:
    """`verify_chain` for a store's streamed `audit.iter()`."""
    verifier = ChainVerifier(anchor_prev)
    async for record in records:
        if not verifier.add(record):
            break
    return verifier.result()
