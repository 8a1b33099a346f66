"""Alerts in SQL: subscriptions, alert states and the outbox, with exactly-once claims.

Detection runs under one transaction-scoped lock ("alerts:detect": an advisory lock on
PostgreSQL, BEGIN IMMEDIATE on SQLite), reads the alerts in view, lets the core decide and
writes its plan before committing, so two processes never both open the same alert. Messages
carry a unique `dedupe` name and are inserted with ON CONFLICT DO NOTHING besides.

Delivery claims one channel's waiting messages with UPDATE … RETURNING under the claim lock
(rows locked FOR UPDATE SKIP LOCKED on PostgreSQL), leased to one worker: a channel leased to
a live worker is never claimed by another, and a lease whose worker died expires.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.audit_log import CHAIN_LOCK
from adapters.store.audit_log import append_in as append_audit
from adapters.store.audit_sealer import ChainSealer
from adapters.store.dialects import insert, upsert
from adapters.store.locks import KeyedLocks
from adapters.store.tables import alert_outbox, alert_subscriptions, alerts, sync_state
from core.alert_model import (
    KEPT_FOR,
    AlertState,
    OutboxRow,
    Outgoing,
    Plan,
    Posted,
    Subscription,
)
from core.models import AuditRecord

DETECT_LOCK = "stackdock-assistant:alerts-detect"
CLAIM_LOCK = "stackdock-assistant:alerts-claim"
WATERMARK_KEY = "alerts:as_of"  # the newest mirror data a detection pass has run over
CLAIM_LIMIT = 200  # one channel's messages per claim; the rest wait for the next

_ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(AlertState))
_SUB_FIELDS = tuple(f.name for f in dataclasses.fields(Subscription))
_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(OutboxRow))


def _alert(row: sa.Row[Any]) -> AlertState:
    mapping = row._mapping
    return AlertState(**{name: mapping[name] for name in _ALERT_FIELDS})


def _subscription(row: sa.Row[Any]) -> Subscription:
    mapping = row._mapping
    return Subscription(**{name: mapping[name] for name in _SUB_FIELDS})


def _outbox(row: sa.Row[Any]) -> OutboxRow:
    mapping = row._mapping
    return OutboxRow(**{name: mapping[name] for name in _ROW_FIELDS})


def _values(alert: AlertState) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in _ALERT_FIELDS}


async def _queue(conn: AsyncConnection, message: Outgoing, now: datetime) -> int | None:
    """Inserts a message unless one of its name exists; its row id when inserted."""
    row = {
        "target": message.target,
        "platform": message.target.split(":", 1)[0],
        "kind": message.kind,
        "dedupe": message.dedupe,
        "action": message.action,
        "alert_id": message.alert_id,
        "text": message.text,
        "created_at": now,
        "not_before": now,
        "attempts": 0,
    }
    stmt = (
        insert(conn, alert_outbox)
        .values(row)
        .on_conflict_do_nothing(index_elements=["dedupe"])
        .returning(alert_outbox.c.id)
    )
    return (await conn.execute(stmt)).scalar()


async def _link_post(conn: AsyncConnection, alert_id: str, post_id: int) -> None:
    await conn.execute(sa.update(alerts).where(alerts.c.id == alert_id).values(post_id=post_id))


class SqlAlertRepo:
    def __init__(self, engine: AsyncEngine, locks: KeyedLocks, sealer: ChainSealer) -> None:
        self._engine = engine
        self._locks = locks
        self._sealer = sealer  # woken after a transaction that wrote an audit row
        self._postgres = engine.dialect.name == "postgresql"

    # ---- subscriptions ----

    async def subscribe(
        self,
        subscription: Subscription,
        baseline: Sequence[AlertState],
        notice: Outgoing,
        audit: AuditRecord,
    ) -> None:
        # Under the detection lock too, so no pass sees the subscription without its baseline.
        async with self._locks.transaction(CHAIN_LOCK) as conn:
            await self._lock_detection(conn)
            target = subscription.target
            await self._drop(conn, target)
            row = {name: getattr(subscription, name) for name in _SUB_FIELDS}
            await upsert(conn, alert_subscriptions, row)
            if baseline:
                await conn.execute(sa.insert(alerts), [_values(a) for a in baseline])
            await _queue(conn, notice, audit.timestamp)
            await conn.run_sync(append_audit, audit)
        self._sealer.nudge()

    async def _lock_detection(self, conn: AsyncConnection) -> None:
        if self._postgres:
            await conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": DETECT_LOCK},
            )

    async def _drop(self, conn: AsyncConnection, target: str) -> None:
        await conn.execute(sa.delete(alerts).where(alerts.c.target == target))
        await conn.execute(
            sa.delete(alert_outbox).where(
                alert_outbox.c.target == target, alert_outbox.c.delivered_at.is_(None)
            )
        )

    async def unsubscribe(self, target: str, audit: AuditRecord | None = None) -> bool:
        async with self._locks.transaction(CHAIN_LOCK) as conn:
            await self._lock_detection(conn)
            removed = await conn.execute(
                sa.delete(alert_subscriptions).where(alert_subscriptions.c.target == target)
            )
            await self._drop(conn, target)
            if removed.rowcount and audit is not None:
                await conn.run_sync(append_audit, audit)
        self._sealer.nudge()
        return removed.rowcount > 0

    async def subscriptions(self) -> list[Subscription]:
        stmt = sa.select(alert_subscriptions).order_by(alert_subscriptions.c.target)
        async with self._engine.connect() as conn:
            return [_subscription(r) for r in (await conn.execute(stmt)).all()]

    async def subscription(self, target: str) -> Subscription | None:
        stmt = sa.select(alert_subscriptions).where(alert_subscriptions.c.target == target)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _subscription(row)

    # ---- detection ----

    async def detect(
        self,
        as_of: datetime,
        now: datetime,
        decide: Callable[[list[Subscription], list[AlertState]], Plan],
    ) -> Plan | None:
        async with self._locks.transaction(DETECT_LOCK) as conn:
            mark = await conn.scalar(
                sa.select(sync_state.c.value).where(sync_state.c.key == WATERMARK_KEY)
            )
            if mark is not None and datetime.fromisoformat(mark) > as_of:
                return None  # another process has run over newer data: ours is stale
            subs = [_subscription(r) for r in (await conn.execute(sa.select(alert_subscriptions)))]
            in_view = sa.or_(
                alerts.c.status == "open",
                alerts.c.resolved_at > now - KEPT_FOR,
                alerts.c.muted_until > now,
            )
            current = [_alert(r) for r in (await conn.execute(sa.select(alerts).where(in_view)))]
            plan = decide(subs, current)
            await self._write(conn, plan, now)
            await upsert(conn, sync_state, {"key": WATERMARK_KEY, "value": as_of.isoformat()})
            await self._prune(conn, now)
        return plan

    async def _write(self, conn: AsyncConnection, plan: Plan, now: datetime) -> None:
        if plan.new:
            await conn.execute(sa.insert(alerts), [_values(a) for a in plan.new])
        for alert in plan.changed:
            changed = _values(alert)
            del changed["id"], changed["post_id"]
            await conn.execute(sa.update(alerts).where(alerts.c.id == alert.id).values(changed))
        for message in plan.messages:
            row_id = await _queue(conn, message, now)
            if message.kind == "post" and row_id is not None and message.alert_id:
                await _link_post(conn, message.alert_id, row_id)
        for target, sent in plan.digests.items():
            await conn.execute(
                sa.update(alert_subscriptions)
                .where(alert_subscriptions.c.target == target)
                .values(last_digest_at=sent)
            )

    async def _prune(self, conn: AsyncConnection, now: datetime) -> None:
        """Alerts long resolved, and delivered messages no kept alert refers to."""
        old = now - KEPT_FOR
        await conn.execute(
            sa.delete(alerts).where(
                alerts.c.status == "resolved",
                alerts.c.resolved_at < old,
                sa.or_(alerts.c.muted_until.is_(None), alerts.c.muted_until < now),
            )
        )
        still_posted = sa.select(alerts.c.post_id).where(alerts.c.post_id.is_not(None))
        await conn.execute(
            sa.delete(alert_outbox).where(
                alert_outbox.c.delivered_at < old, alert_outbox.c.id.not_in(still_posted)
            )
        )

    # ---- delivery ----

    async def claim(
        self, platform: str, worker: str, now: datetime, lease_s: float
    ) -> list[OutboxRow]:
        box = alert_outbox
        waiting = sa.and_(box.c.delivered_at.is_(None), box.c.platform == platform)
        leased = (
            sa.select(box.c.target)
            .where(waiting, box.c.claimed_by.is_not(None), box.c.claimed_until >= now)
            .scalar_subquery()
        )
        # Most polls find nothing: a plain read answers them without taking the claim lock
        # (on SQLite, the database's one write lock).
        due = sa.select(box.c.id).where(waiting, box.c.not_before <= now).limit(1)
        async with self._engine.connect() as conn:
            if (await conn.execute(due)).first() is None:
                return []
        async with self._locks.transaction(CLAIM_LOCK) as conn:
            # The oldest waiting message decides the channel: it is due, and no live worker
            # holds any message of that channel (which keeps each channel's order).
            first = (
                sa.select(box.c.id, box.c.target)
                .where(waiting, box.c.not_before <= now, box.c.target.not_in(leased))
                .order_by(box.c.id)
                .limit(1)
            )
            if self._postgres:
                first = first.with_for_update(skip_locked=True)
            found = (await conn.execute(first)).first()
            if found is None:
                return []
            ids = (
                sa.select(box.c.id)
                .where(waiting, box.c.target == found.target)
                .order_by(box.c.id)
                .limit(CLAIM_LIMIT)
            )
            if self._postgres:
                ids = ids.with_for_update(skip_locked=True)
            take = [r.id for r in (await conn.execute(ids)).all()]
            claimed = await conn.execute(
                sa.update(box)
                .where(
                    box.c.id.in_(take),
                    box.c.delivered_at.is_(None),
                    sa.or_(box.c.claimed_by.is_(None), box.c.claimed_until < now),
                )
                .values(
                    claimed_by=worker,
                    claimed_until=now + timedelta(seconds=lease_s),
                    attempts=box.c.attempts + 1,
                )
                .returning(*(box.c[name] for name in _ROW_FIELDS))
            )
            rows = [_outbox(r) for r in claimed.all()]
        return sorted(rows, key=lambda r: r.id)

    async def renew(self, ids: Sequence[int], worker: str, until: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(alert_outbox)
                .where(alert_outbox.c.id.in_(list(ids)), alert_outbox.c.claimed_by == worker)
                .values(claimed_until=until)
            )

    async def alerts_of(self, post_ids: Sequence[int]) -> list[AlertState]:
        stmt = sa.select(alerts).where(alerts.c.post_id.in_(list(post_ids)))
        async with self._engine.connect() as conn:
            return [_alert(r) for r in (await conn.execute(stmt)).all()]

    async def posted(self, post_id: int) -> Posted | None:
        box = alert_outbox
        async with self._engine.connect() as conn:
            post = (
                await conn.execute(
                    sa.select(box.c.target, box.c.message_ref).where(
                        box.c.id == post_id, box.c.kind == "post"
                    )
                )
            ).first()
            if post is None:
                return None
            ids: list[int] = [post_id]
            if post.message_ref:
                same = sa.select(box.c.id).where(
                    box.c.target == post.target,
                    box.c.kind == "post",
                    box.c.message_ref == post.message_ref,
                )
                ids = [r.id for r in (await conn.execute(same)).all()]
            shown = await conn.execute(sa.select(alerts).where(alerts.c.post_id.in_(ids)))
            return Posted(post.message_ref or "", tuple(sorted(ids)), tuple(map(_alert, shown)))

    async def alert(self, alert_id: str) -> AlertState | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(alerts).where(alerts.c.id == alert_id))).first()
        return None if row is None else _alert(row)

    async def delivered(
        self, ids: Sequence[int], ref: str | None, now: datetime, audit: AuditRecord | None
    ) -> None:
        async with self._locks.transaction(CHAIN_LOCK) as conn:
            await conn.execute(
                sa.update(alert_outbox)
                .where(alert_outbox.c.id.in_(list(ids)))
                .values(delivered_at=now, message_ref=ref, claimed_until=None)
            )
            if audit is not None:
                await conn.run_sync(append_audit, audit)
        self._sealer.nudge()

    async def release(self, ids: Sequence[int], retry_at: datetime, error: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(alert_outbox)
                .where(alert_outbox.c.id.in_(list(ids)), alert_outbox.c.delivered_at.is_(None))
                .values(claimed_by=None, claimed_until=None, not_before=retry_at, error=error)
            )

    async def mute(
        self, post_id: int, until: datetime, by: str, update: Outgoing, audit: AuditRecord
    ) -> Posted | None:
        posted = await self.posted(post_id)
        if posted is None or not posted.alerts:
            return None
        async with self._locks.transaction(CHAIN_LOCK) as conn:
            await conn.execute(
                sa.update(alerts)
                .where(alerts.c.id.in_([a.id for a in posted.alerts]))
                .values(muted_until=until, muted_by=by)
            )
            await _queue(conn, update, audit.timestamp)
            await conn.run_sync(append_audit, audit)
        self._sealer.nudge()
        return await self.posted(post_id)
