"""MemoryStore: a real, working in-memory Store for unit tests of the core.

Same behaviour as adapters.store.SqlStore (tests/store_contract.py runs the same checks against
both): a hash-chained audit trail sealed by core.audit, sliding-window rate limits, one-time
event claims, newest-first history limits, exact Decimal costs to 1e-8. Values are copied in
and out, so a caller mutating a record afterwards cannot change what was stored.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.alert_model import (
    KEPT_FOR,
    AlertState,
    OutboxRow,
    Outgoing,
    Plan,
    Posted,
    Subscription,
)
from core.audit import GENESIS, normalized, quantize_cost, seal, utc
from core.models import (
    Admission,
    AuditRecord,
    Binding,
    ChatMessage,
    PruneResult,
    SpendCap,
    ToolCall,
    UsageRecord,
)
from core.ports import QUESTION_ID, Document

KEEP_CLAIMS = timedelta(days=1)


class MemoryLinkRepo:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str | None]] = {}

    async def set(self, identity: str, user_ref: str, org_id: str | None = None) -> None:
        self.rows[identity] = (user_ref, org_id)

    async def remove(self, identity: str) -> bool:
        return self.rows.pop(identity, None) is not None

    async def get(self, identity: str) -> str | None:
        row = self.rows.get(identity)
        return row[0] if row else None

    async def vouched(self, identity: str) -> tuple[str, str | None] | None:
        return self.rows.get(identity)

    async def all(self) -> list[tuple[str, str]]:
        return sorted((identity, ref) for identity, (ref, _) in self.rows.items())

    async def all_vouched(self) -> list[tuple[str, str, str | None]]:
        return sorted((identity, ref, org) for identity, (ref, org) in self.rows.items())


class MemoryBindingRepo:
    def __init__(self) -> None:
        self.rows: dict[str, Binding] = {}

    async def set(self, binding: Binding) -> None:
        self.rows[binding.target] = binding

    async def remove(self, target: str) -> bool:
        return self.rows.pop(target, None) is not None

    async def get(self, target: str) -> Binding | None:
        return self.rows.get(target)

    async def all(self) -> list[Binding]:
        return [self.rows[target] for target in sorted(self.rows)]


class MemoryConversationRepo:
    def __init__(self) -> None:
        self.rows: dict[str, list[ChatMessage]] = defaultdict(list)
        self.orgs: dict[str, list[str]] = defaultdict(list)  # the org of each row, in step

    async def history(self, key: str, limit: int, org_id: str | None = None) -> list[ChatMessage]:
        if limit <= 0:
            return []
        rows = zip(self.rows.get(key, []), self.orgs.get(key, []), strict=True)
        kept = [m for m, org in rows if org_id is None or org == org_id]
        return kept[-limit:]

    async def append(
        self, key: str, messages: Sequence[ChatMessage], *, org_id: str, user_id: str
    ) -> None:
        self.append_now(key, messages, org_id=org_id, user_id=user_id)

    def append_now(
        self, key: str, messages: Sequence[ChatMessage], *, org_id: str, user_id: str
    ) -> None:
        for m in messages:
            # Round-trips arguments the way the JSON column does: a fresh plain dict.
            calls = tuple(
                ToolCall(c.id, c.name, copy.deepcopy(dict(c.arguments))) for c in m.tool_calls
            )
            self.rows[key].append(dataclasses.replace(m, tool_calls=calls))
            self.orgs[key].append(org_id)


def _copied(record: AuditRecord) -> AuditRecord:
    """A copy sharing nothing mutable with `record` (its other fields are immutable values)."""
    return dataclasses.replace(
        record, tools=list(record.tools), metadata=copy.deepcopy(record.metadata)
    )


class MemoryAuditRepo:
    def __init__(self) -> None:
        self.rows: list[AuditRecord] = []
        self.feedback: dict[tuple[int, str], int] = {}
        self.anchor_hash: str | None = None
        self._next_id = 1  # ids are never reused, as a database sequence never reuses them

    async def append(self, record: AuditRecord) -> AuditRecord:
        return self.append_now(record)

    def append_now(self, record: AuditRecord) -> AuditRecord:
        # As the SQL store does: stored unchained, chained by `seal` (which readers run first).
        stored = normalized(_copied(record))
        stored.id = self._next_id
        self._next_id += 1
        self.rows.append(stored)
        return _copied(stored)

    async def seal(self) -> int:
        return self.seal_now()

    def seal_now(self) -> int:
        sealed = 0
        prev = GENESIS
        for i, row in enumerate(self.rows):
            if row.hash is None:
                self.rows[i] = row = seal(row, prev)
                sealed += 1
            prev = row.hash or GENESIS
        return sealed

    async def iter(self, since: datetime | None = None) -> AsyncIterator[AuditRecord]:
        self.seal_now()
        for row in list(self.rows):
            if since is None or row.timestamp >= utc(since):
                yield _copied(row)

    async def asker(self, audit_id: int) -> str | None:
        return next((row.identity for row in self.rows if row.id == audit_id), None)

    async def set_feedback(self, audit_id: int, identity: str, value: int) -> bool:
        if not any(row.id == audit_id for row in self.rows):
            return False
        self.feedback[(audit_id, identity)] = value
        return True

    async def anchor(self) -> str | None:
        return self.anchor_hash

    async def prune(self, before: datetime) -> PruneResult:
        before = utc(before)
        self.seal_now()
        if not self.rows:
            return PruneResult(0, None, self.anchor_hash)
        # The first row at or after `before`, else the newest row: it is always kept.
        keep = next((i for i, row in enumerate(self.rows) if row.timestamp >= before), None)
        keep = len(self.rows) - 1 if keep is None else keep
        gone = {row.id for row in self.rows[:keep]}
        self.rows = self.rows[keep:]
        self.feedback = {k: v for k, v in self.feedback.items() if k[0] not in gone}
        if gone:
            self.anchor_hash = self.rows[0].prev_hash
        return PruneResult(len(gone), self.rows[0].id, self.anchor_hash)


class MemoryUsageRepo:
    def __init__(self) -> None:
        self.rows: list[UsageRecord] = []

    async def record(self, record: UsageRecord) -> None:
        self.record_now(record)

    def record_now(self, record: UsageRecord) -> None:
        usage = dataclasses.replace(record.usage, cost_usd=quantize_cost(record.usage.cost_usd))
        self.rows.append(dataclasses.replace(record, timestamp=utc(record.timestamp), usage=usage))

    async def spend(self, org_id: str, since: datetime) -> Decimal:
        return self.spend_now(org_id, since)

    def spend_now(self, org_id: str, since: datetime) -> Decimal:
        since = utc(since)
        return sum(
            (
                r.usage.cost_usd
                for r in self.rows
                if r.org_id == org_id and r.timestamp >= since and r.usage.cost_usd is not None
            ),
            Decimal(0),
        )

    async def iter(
        self, since: datetime | None = None, org_id: str | None = None
    ) -> AsyncIterator[UsageRecord]:
        for r in list(self.rows):
            if (since is None or r.timestamp >= utc(since)) and (org_id in (None, r.org_id)):
                yield dataclasses.replace(r, usage=dataclasses.replace(r.usage))


class MemoryRateLimitRepo:
    def __init__(
        self, pending: MemoryPendingRepo | None = None, usage: MemoryUsageRepo | None = None
    ) -> None:
        self.hits: dict[str, list[datetime]] = defaultdict(list)
        self._pending = pending
        self._usage = usage or MemoryUsageRepo()

    async def admit(
        self,
        key: str,
        limit: int,
        window_s: float,
        now: datetime,
        *,
        pending: AuditRecord | None = None,
        cap: SpendCap | None = None,
    ) -> Admission:
        # No await inside: on one event loop this is atomic, as the SQL store's lock makes it.
        spent = None if cap is None else self._usage.spend_now(cap.org_id, cap.since)
        if cap is not None and spent is not None and spent >= cap.budget:
            return Admission(False, 0, 0.0, spent)
        now = utc(now)
        window = timedelta(seconds=window_s)
        start = now - window
        live = [at for at in self.hits[key] if at > start]
        self.hits[key] = live
        if len(live) < limit:
            live.append(now)
            if pending is not None and self._pending is not None:
                self._pending.open_now(pending, slot=(key, now))
            return Admission(True, len(live), 0.0, spent)
        retry_after = (min(live) + window - now).total_seconds() if live else window_s
        return Admission(False, len(live), max(retry_after, 0.0), spent)


class MemoryEventRepo:
    def __init__(self) -> None:
        self.claims: dict[str, datetime] = {}

    async def claim(self, event_id: str, now: datetime) -> bool:
        now = utc(now)
        inserted = event_id not in self.claims
        if inserted:
            self.claims[event_id] = now
        self.claims = {e: at for e, at in self.claims.items() if at >= now - KEEP_CLAIMS}
        return inserted


class MemoryMarkerRepo:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def mark(self, key: str, value: str) -> bool:
        if key in self.values:
            return False
        self.values[key] = value
        return True

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        return {key: self.values[key] for key in keys if key in self.values}


class MemoryMirrorRepo:
    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.state: dict[str, str] = {}

    @staticmethod
    def _doc_id(table: str, doc: Document) -> str:
        doc_id = doc.get("_id")
        if not isinstance(doc_id, str) or not doc_id:
            raise ValueError(f"a {table} document without an _id: {dict(doc)!r:.200}")
        return doc_id

    async def replace(self, tables: Mapping[str, Sequence[Document]]) -> None:
        fresh = {
            table: {self._doc_id(table, d): copy.deepcopy(dict(d)) for d in docs}
            for table, docs in tables.items()
        }
        self.tables = {table: docs for table, docs in fresh.items() if docs}

    async def apply(self, table: str, upserts: Sequence[Document], deletes: Sequence[str]) -> None:
        rows = self.tables.setdefault(table, {})
        for doc in upserts:
            rows[self._doc_id(table, doc)] = copy.deepcopy(dict(doc))
        for doc_id in deletes:
            rows.pop(doc_id, None)
        if not rows:
            del self.tables[table]

    async def load(self) -> dict[str, list[dict[str, Any]]]:
        return {
            table: [copy.deepcopy(rows[doc_id]) for doc_id in sorted(rows)]
            for table, rows in sorted(self.tables.items())
        }

    async def get_state(self, key: str) -> str | None:
        return self.state.get(key)

    async def set_state(self, key: str, value: str) -> None:
        self.state[key] = value


class MemoryPendingRepo:
    """Pending questions of one process. A test plays a restart by giving `owner` a new
    value: what the previous owner left is then stale, as a dead process's rows are."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.owner = "first process"
        # question id -> (record as admitted, owner, the rate-limit hit it holds)
        self.rows: dict[str, tuple[AuditRecord, str, tuple[str, datetime] | None]] = {}

    async def open(self, record: AuditRecord) -> None:
        self.open_now(record)

    def open_now(self, record: AuditRecord, slot: tuple[str, datetime] | None = None) -> None:
        self.rows[record.metadata[QUESTION_ID]] = (copy.deepcopy(record), self.owner, slot)

    def clear_now(self, record: AuditRecord) -> None:
        self.rows.pop(record.metadata.get(QUESTION_ID, ""), None)

    async def stale(self, lease_s: float, now: datetime) -> list[AuditRecord]:
        # One process: another owner is a stopped one, gone whatever the lease says.
        found = [record for record, owner, _ in self.rows.values() if owner != self.owner]
        return [copy.deepcopy(r) for r in sorted(found, key=lambda r: utc(r.timestamp))]

    async def settle(self, record: AuditRecord) -> AuditRecord | None:
        taken = self.rows.pop(record.metadata.get(QUESTION_ID, ""), None)
        if taken is None:
            return None
        sealed = self._store.audit.append_now(record)
        slot = taken[2]
        hits = self._store.rate_limits.hits
        if slot is not None and slot[1] in hits[slot[0]]:  # else it has left the window anyway
            hits[slot[0]].remove(slot[1])
        self._store.events.claims.pop(record.metadata.get("event_id", ""), None)
        return sealed


@dataclasses.dataclass
class _Queued:
    row: OutboxRow
    not_before: datetime
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    delivered_at: datetime | None = None
    message_ref: str | None = None
    error: str | None = None


class MemoryAlertRepo:
    """Alerts in memory, as adapters/store/alerts.py keeps them (one process: no awaits
    inside a transition, so each is atomic on the event loop as the SQL locks make it)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.subs: dict[str, Subscription] = {}
        self.alerts: dict[str, AlertState] = {}
        self.outbox: dict[int, _Queued] = {}
        self.watermark: datetime | None = None
        self._next_id = 1

    def _queue(self, message: Outgoing, now: datetime) -> int | None:
        if any(q.row.dedupe == message.dedupe for q in self.outbox.values()):
            return None
        row_id, self._next_id = self._next_id, self._next_id + 1
        row = OutboxRow(
            row_id,
            message.target,
            message.kind,
            message.dedupe,
            message.action,
            message.alert_id,
            message.text,
            now,
        )
        self.outbox[row_id] = _Queued(row, now)
        return row_id

    def _drop(self, target: str) -> None:
        self.alerts = {k: a for k, a in self.alerts.items() if a.target != target}
        self.outbox = {
            k: q
            for k, q in self.outbox.items()
            if q.row.target != target or q.delivered_at is not None
        }

    async def subscribe(
        self,
        subscription: Subscription,
        baseline: Sequence[AlertState],
        notice: Outgoing,
        audit: AuditRecord,
    ) -> None:
        self._drop(subscription.target)
        self.subs[subscription.target] = subscription
        self.alerts.update((a.id, a) for a in baseline)
        self._queue(notice, audit.timestamp)
        self._store.audit.append_now(audit)

    async def unsubscribe(self, target: str, audit: AuditRecord | None = None) -> bool:
        removed = self.subs.pop(target, None) is not None
        self._drop(target)
        if removed and audit is not None:
            self._store.audit.append_now(audit)
        return removed

    async def subscriptions(self) -> list[Subscription]:
        return [self.subs[t] for t in sorted(self.subs)]

    async def subscription(self, target: str) -> Subscription | None:
        return self.subs.get(target)

    async def detect(
        self,
        as_of: datetime,
        now: datetime,
        decide: Callable[[list[Subscription], list[AlertState]], Plan],
    ) -> Plan | None:
        if self.watermark is not None and self.watermark > as_of:
            return None
        in_view = [
            a
            for a in self.alerts.values()
            if a.status == "open"
            or (a.resolved_at is not None and a.resolved_at > now - KEPT_FOR)
            or a.muted(now)
        ]
        plan = decide(list(self.subs.values()), in_view)
        for alert in plan.new:
            self.alerts[alert.id] = alert
        for alert in plan.changed:
            self.alerts[alert.id] = dataclasses.replace(
                alert, post_id=self.alerts[alert.id].post_id
            )
        for message in plan.messages:
            row_id = self._queue(message, now)
            if message.kind == "post" and row_id is not None and message.alert_id:
                self.alerts[message.alert_id] = dataclasses.replace(
                    self.alerts[message.alert_id], post_id=row_id
                )
        for target, sent in plan.digests.items():
            self.subs[target] = dataclasses.replace(self.subs[target], last_digest_at=sent)
        self.watermark = as_of
        return plan

    async def claim(
        self, platform: str, worker: str, now: datetime, lease_s: float
    ) -> list[OutboxRow]:
        waiting = [
            q
            for _, q in sorted(self.outbox.items())
            if q.delivered_at is None and q.row.target.startswith(platform + ":")
        ]
        leased = {
            q.row.target
            for q in waiting
            if q.claimed_by is not None and q.claimed_until is not None and q.claimed_until >= now
        }
        first = next(
            (q for q in waiting if q.not_before <= now and q.row.target not in leased), None
        )
        if first is None:
            return []
        taken = []
        for q in waiting:
            if q.row.target != first.row.target:
                continue
            q.claimed_by, q.claimed_until = worker, now + timedelta(seconds=lease_s)
            q.row = dataclasses.replace(q.row, attempts=q.row.attempts + 1)
            taken.append(q.row)
        return taken

    async def renew(self, ids: Sequence[int], worker: str, until: datetime) -> None:
        for row_id in ids:
            q = self.outbox.get(row_id)
            if q is not None and q.claimed_by == worker:
                q.claimed_until = until

    async def alerts_of(self, post_ids: Sequence[int]) -> list[AlertState]:
        return [a for a in self.alerts.values() if a.post_id in set(post_ids)]

    async def posted(self, post_id: int) -> Posted | None:
        post = self.outbox.get(post_id)
        if post is None or post.row.kind != "post":
            return None
        ids = [post_id]
        if post.message_ref:
            ids = [
                k
                for k, q in self.outbox.items()
                if q.row.kind == "post"
                and q.row.target == post.row.target
                and q.message_ref == post.message_ref
            ]
        shown = tuple(a for a in self.alerts.values() if a.post_id in set(ids))
        return Posted(post.message_ref or "", tuple(sorted(ids)), shown)

    async def alert(self, alert_id: str) -> AlertState | None:
        return self.alerts.get(alert_id)

    async def delivered(
        self, ids: Sequence[int], ref: str | None, now: datetime, audit: AuditRecord | None
    ) -> None:
        for row_id in ids:
            q = self.outbox[row_id]
            q.delivered_at, q.message_ref, q.claimed_until = now, ref, None
        if audit is not None:
            self._store.audit.append_now(audit)

    async def release(self, ids: Sequence[int], retry_at: datetime, error: str) -> None:
        for row_id in ids:
            q = self.outbox[row_id]
            if q.delivered_at is None:
                q.claimed_by = q.claimed_until = None
                q.not_before, q.error = retry_at, error

    async def mute(
        self, post_id: int, until: datetime, by: str, update: Outgoing, audit: AuditRecord
    ) -> Posted | None:
        posted = await self.posted(post_id)
        if posted is None or not posted.alerts:
            return None
        for alert in posted.alerts:
            self.alerts[alert.id] = dataclasses.replace(alert, muted_until=until, muted_by=by)
        self._queue(update, audit.timestamp)
        self._store.audit.append_now(audit)
        return await self.posted(post_id)


class MemoryStore:
    def __init__(self) -> None:
        self.links = MemoryLinkRepo()
        self.bindings = MemoryBindingRepo()
        self.conversations = MemoryConversationRepo()
        self.audit = MemoryAuditRepo()
        self.usage = MemoryUsageRepo()
        self.pending = MemoryPendingRepo(self)
        self.rate_limits = MemoryRateLimitRepo(self.pending, self.usage)
        self.events = MemoryEventRepo()
        self.mirror = MemoryMirrorRepo()
        self.markers = MemoryMarkerRepo()
        self.alerts = MemoryAlertRepo(self)
        self.closed = False

    async def record_exchange(
        self,
        record: AuditRecord,
        *,
        conversation_key: str | None = None,
        messages: Sequence[ChatMessage] = (),
        usage: UsageRecord | None = None,
    ) -> AuditRecord:
        # Single-threaded asyncio with no await in between: as atomic as the SQL transaction.
        sealed = self.audit.append_now(record)
        self.pending.clear_now(record)
        if conversation_key and messages and record.org_id and record.user_id:
            self.conversations.append_now(
                conversation_key, messages, org_id=record.org_id, user_id=record.user_id
            )
        if usage is not None:
            self.usage.record_now(dataclasses.replace(usage, audit_id=sealed.id))
        return sealed

    async def ping(self) -> None:
        if self.closed:
            raise RuntimeError("the store is closed")

    async def close(self) -> None:
        self.closed = True
