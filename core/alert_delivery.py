"""Delivering alert messages: exactly once, in order, within the platform's rate limits.

A process holding a Slack or Discord connection claims one channel's undelivered messages at
a time under a lease (the store makes the claim atomic across processes), posts them in order,
and marks each delivered with the platform's message id and its audit row in one transaction.
A process killed between claim and post leaves a lease that expires; the next claim, in any
process, posts the messages then. A delivered message is never claimed again. The one gap
left is a kill between the platform accepting a post and the mark that follows it (a few
milliseconds), where the message may be posted a second time.

Rate limits: one channel's messages go out one at a time, `pace_s` apart (Slack allows about one
post per second per channel), and more than GROUP_AT new alerts waiting together become one
grouped message; replies to one message waiting together become one reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from core.alert_messages import alert_card, notice_card
from core.alert_model import AlertState, OutboxRow, Posted, Target
from core.alerts import audit_row, binding_of
from core.metrics import ALERT_DELIVERY_LAG_SECONDS, ALERTS_SENT
from core.models import Outcome
from core.ports import AlertCard, AlertSink, DeliveryError, Store

log = logging.getLogger(__name__)

GROUP_AT = 3  # more new alerts than this waiting for one channel are posted as one message
GIVE_UP_AFTER = timedelta(days=1)  # a message the platform keeps refusing is given up then
BACKOFF_CAP_S = 300.0


@dataclass
class _Batch:
    target: Target
    org_id: str | None
    show_detail: bool
    rows: list[OutboxRow]


class AlertDelivery:
    """Posts one platform's alert messages (see the module)."""

    def __init__(
        self,
        store: Store,
        sink: AlertSink,
        clock: Callable[[], datetime],
        tz: tzinfo,
        *,
        worker: str,
        lease_s: float = 60.0,
        pace_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._repo = store.alerts
        self._sink = sink
        self._clock = clock
        self._tz = tz
        self._worker = worker
        self._lease_s = lease_s
        self._pace_s = pace_s
        self._sleep = sleep
        self._spoke = False  # whether the next call in the channel must wait its turn

    async def deliver(self) -> int:
        """Delivers every channel's waiting messages; returns how many were handled."""
        handled = 0
        while self._sink.ready() and (
            rows := await self._repo.claim(
                self._sink.platform, self._worker, self._clock(), self._lease_s
            )
        ):
            handled += await self._channel(rows)
        return handled

    async def _channel(self, rows: list[OutboxRow]) -> int:
        target = Target.parse(rows[0].target)
        subscription = await self._repo.subscription(str(target))
        bindings = {b.target: b for b in await self._store.bindings.all()}
        binding = binding_of(bindings, str(target))
        batch = _Batch(
            target,
            subscription.org_id if subscription else (binding.org_id if binding else None),
            binding is not None and binding.allow_detail,
            rows,
        )
        self._spoke = False
        done = 0
        pending = list(rows)
        while pending:
            try:
                step = await self._next(batch, pending)
            except DeliveryError as exc:
                await self._failed(batch, pending, exc)
                return done
            except Exception as exc:
                # Not a refusal the sink understood: tried again later, like a transient one.
                log.exception("alert message to %s failed", batch.target)
                await self._failed(batch, pending, DeliveryError(type(exc).__name__))
                return done
            done += len(step)
            pending = [r for r in pending if r.id not in step]
            if pending:
                await self._repo.renew(
                    [r.id for r in pending],
                    self._worker,
                    self._clock() + timedelta(seconds=self._lease_s),
                )
        return done

    async def _next(self, batch: _Batch, pending: list[OutboxRow]) -> set[int]:
        """Delivers the first waiting message (with the ones it stands for); their ids."""
        row = pending[0]
        if row.kind == "post":
            posts = [r for r in pending if r.kind == "post"]
            together = posts if len(posts) > GROUP_AT else [row]
            return await self._post(batch, together)
        if row.kind == "notice":
            card = notice_card(row.text)
            ref = await self._say(lambda: self._sink.post(batch.target.channel, card))
            await self._done(batch, [row], ref, card.headline, [])
            return {row.id}
        posted = await self._posted(row)
        if posted is None or not posted.ref:
            # Its alert is gone (unsubscribed) or its message never made it: nothing to edit.
            await self._repo.delivered([row.id], None, self._clock(), None)
            return {row.id}
        same = [r for r in pending if r.kind == row.kind and self._same(r, posted)]
        if row.kind == "update":
            card = self._card(batch, posted.alerts, posted)
            await self._say(lambda: self._sink.edit(batch.target.channel, posted.ref, card))
            await self._done(batch, same, posted.ref, card.headline, list(posted.alerts))
        else:
            text = self._reply_text(same, posted)
            reply = await self._say(
                lambda: self._sink.reply(batch.target.channel, posted.ref, text)
            )
            await self._done(batch, same, reply, text, list(posted.alerts))
        return {r.id for r in same}

    async def _post(self, batch: _Batch, rows: list[OutboxRow]) -> set[int]:
        alerts = await self._repo.alerts_of([r.id for r in rows])
        if not alerts:
            await self._repo.delivered([r.id for r in rows], None, self._clock(), None)
            return {r.id for r in rows}
        card = self._card(batch, alerts, None, ref=str(rows[0].id))
        ref = await self._say(lambda: self._sink.post(batch.target.channel, card))
        await self._done(batch, rows, ref, card.headline, alerts)
        return {r.id for r in rows}

    def _card(
        self,
        batch: _Batch,
        alerts: Sequence[AlertState],
        posted: Posted | None,
        ref: str = "",
    ) -> AlertCard:
        button = ref or (str(min(posted.post_ids)) if posted else "")
        return alert_card(
            alerts, button, show_detail=batch.show_detail, now=self._clock(), tz=self._tz
        )

    async def _posted(self, row: OutboxRow) -> Posted | None:
        alert = await self._repo.alert(row.alert_id) if row.alert_id else None
        if alert is None or alert.post_id is None:
            return None
        return await self._repo.posted(alert.post_id)

    @staticmethod
    def _same(row: OutboxRow, posted: Posted) -> bool:
        """Whether `row` is about the message `posted` (one edit or reply serves them all)."""
        return row.alert_id is not None and any(a.id == row.alert_id for a in posted.alerts)

    @staticmethod
    def _reply_text(rows: Sequence[OutboxRow], posted: Posted) -> str:
        if len(posted.alerts) == 1:
            return "\n".join(dict.fromkeys(r.text for r in rows))
        names = {a.id: a.name for a in posted.alerts}
        return "\n".join(f"{names.get(r.alert_id or '', '?')}: {r.text}" for r in rows)

    async def _say(self, call: Callable[[], Awaitable[str | None]]) -> str:
        if self._spoke:
            await self._sleep(self._pace_s)
        self._spoke = True
        return (await call()) or ""

    async def _done(
        self,
        batch: _Batch,
        rows: Sequence[OutboxRow],
        ref: str,
        text: str,
        alerts: Sequence[AlertState],
    ) -> None:
        now = self._clock()
        actions = list(dict.fromkeys(r.action for r in rows))
        audit = audit_row(
            str(batch.target),
            batch.org_id,
            actions[-1],
            now,
            text=text,
            metadata={
                "message": ref,
                "kind": rows[0].kind,
                "actions": actions,
                "alerts": [a.problem_key for a in alerts][:50],
            },
        )
        await self._repo.delivered([r.id for r in rows], ref, now, audit)
        for row in rows:
            ALERTS_SENT.labels(batch.target.platform, row.action).inc()
            ALERT_DELIVERY_LAG_SECONDS.observe(max((now - row.created_at).total_seconds(), 0.0))

    async def _failed(self, batch: _Batch, pending: list[OutboxRow], exc: DeliveryError) -> None:
        row = pending[0]
        now = self._clock()
        if exc.permanent or now - row.created_at > GIVE_UP_AFTER:
            log.warning("alert message %s to %s given up: %s", row.id, batch.target, exc)
            audit = audit_row(
                str(batch.target),
                batch.org_id,
                row.action,
                now,
                result=Outcome.FAILED,
                metadata={"error": str(exc)[:200], "kind": row.kind},
            )
            await self._repo.delivered([row.id], None, now, audit)
            rest = pending[1:]
            if rest:
                await self._repo.release([r.id for r in rest], now, "")
            return
        delay = min(2.0 ** min(row.attempts, 20), BACKOFF_CAP_S)
        log.warning(
            "alert messages to %s not delivered (%s); trying again in %.0f s",
            batch.target,
            exc,
            delay,
        )
        await self._repo.release(
            [r.id for r in pending], now + timedelta(seconds=delay), str(exc)[:200]
        )


async def deliver_forever(delivery: AlertDelivery, every_s: float = 1.0) -> None:
    """Delivers waiting messages every `every_s` until cancelled; a failure is logged."""
    while True:
        try:
            await delivery.deliver()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The database being down is expected here; messages wait in the outbox.
            log.warning("alert delivery failed (%s); retrying", type(exc).__name__)
        await asyncio.sleep(every_s)
