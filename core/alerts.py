"""Alerts: subscribing a channel, and detecting what changed for the channels subscribed.

Detection runs wherever the mirror changes (the `sync` process for Convex, every process that
reloads a snapshot file). Each pass asks `find_problems` for every subscribed org, and the store
runs the rules (core/alert_rules.py) against the alerts in view inside one transaction that no
other process runs at the same time, writing state changes and one outbox message per thing to
say. Two processes detecting over the same data therefore write each message once; a process
holding older data than a pass already made writes nothing. Delivery is core/alert_delivery.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo

from core.alert_messages import subscribed_text
from core.alert_model import AlertState, Outgoing, Plan, Subscription, Target
from core.alert_rules import World, decide, new_alert, wanted
from core.metrics import ALERTS_DETECTED, ALERTS_RESOLVED
from core.models import AuditRecord, Binding, Outcome
from core.ports import Mirror, Store
from core.problems import Problem, find_problems

log = logging.getLogger(__name__)

SYSTEM_IDENTITY = "stackdock-assistant"  # who the audit trail says sent an alert


def new_id() -> str:
    return uuid.uuid4().hex


def binding_of(bindings: Mapping[str, Binding], target: str) -> Binding | None:
    """The binding covering a channel: its own, else its workspace's or guild's."""
    try:
        keys = Target.parse(target).bindings
    except ValueError:
        return None
    return next((bindings[k] for k in keys if k in bindings), None)


def audit_row(
    target: str,
    org_id: str | None,
    action: str,
    now: datetime,
    *,
    identity: str = SYSTEM_IDENTITY,
    result: Outcome = Outcome.ANSWERED,
    text: str = "",
    metadata: Mapping[str, object] | None = None,
) -> AuditRecord:
    """The audit row of something alerts did or someone did to alerts, in a channel."""
    where = Target.parse(target)
    return AuditRecord(
        timestamp=now,
        identity=identity,
        platform=where.platform,
        result=result,
        org_id=org_id,
        channel=where.channel,
        is_dm=False,
        action=action,
        answer=text or None,
        metadata={"target": target, **(metadata or {})},
    )


def org_problems(mirror: Mirror, org_ids: set[str], now: datetime) -> dict[str, list[Problem]]:
    """Problems of the orgs the mirror holds. An org it does not hold is left out, so that
    missing data is never read as every problem having resolved."""
    return {
        org: find_problems(mirror, org, now)
        for org in org_ids
        if mirror.organization(org) is not None
    }


async def subscribe(
    store: Store,
    mirror: Mirror,
    subscription: Subscription,
    *,
    now: datetime,
    by: str,
    make_id: Callable[[], str] = new_id,
) -> int:
    """Subscribes the channel; returns how many problems at its threshold are open now.

    Those are its baseline: counted in the one "subscribed" message, and never posted one
    by one. Re-subscribing starts a new baseline (earlier messages are left as they are).
    """
    problems = org_problems(mirror, {subscription.org_id}, now).get(subscription.org_id, [])
    world = World({}, lambda _: None, lambda _: False, now, UTC, make_id)
    baseline = [
        new_alert(subscription, p, world, post=False)
        for p in wanted(problems, subscription.min_severity).values()
    ]
    text = subscribed_text(len(baseline), subscription.min_severity, subscription.digest_at)
    target = subscription.target
    notice = Outgoing(
        target, "notice", f"subscribed:{target}:{now.isoformat()}", "alert.subscribed", None, text
    )
    audit = audit_row(
        target,
        subscription.org_id,
        "alert.subscribed",
        now,
        identity=by,
        text=text,
        metadata={"min_severity": subscription.min_severity, "digest": subscription.digest_at},
    )
    await store.alerts.subscribe(subscription, baseline, notice, audit)
    return len(baseline)


class AlertDetector:
    """One process's detection passes over its mirror."""

    def __init__(
        self,
        store: Store,
        mirror: Mirror,
        clock: Callable[[], datetime],
        tz: tzinfo,
        make_id: Callable[[], str] = new_id,
    ) -> None:
        self._store = store
        self._mirror = mirror
        self._clock = clock
        self._tz = tz
        self._make_id = make_id

    async def detect(self) -> Plan | None:
        """A pass; what it wrote, or None when there was nothing to do."""
        as_of = self._mirror.as_of
        if as_of is None:
            return None  # no data yet: nothing can be said about anything
        subscriptions = await self._store.alerts.subscriptions()
        if not subscriptions:
            return None
        now = self._clock()
        bindings = {b.target: b for b in await self._store.bindings.all()}

        def bound_org(target: str) -> str | None:
            binding = binding_of(bindings, target)
            return binding.org_id if binding is not None else None

        def show_detail(target: str) -> bool:
            binding = binding_of(bindings, target)
            return binding is not None and binding.allow_detail

        world = World(
            org_problems(self._mirror, {s.org_id for s in subscriptions}, now),
            bound_org,
            show_detail,
            now,
            self._tz,
            self._make_id,
        )

        def rules(subs: list[Subscription], alerts: list[AlertState]) -> Plan:
            return decide(subs, alerts, world)

        plan = await self._store.alerts.detect(as_of, now, rules)
        if plan:
            _count(plan, now)
        return plan


def _count(plan: Plan, now: datetime) -> None:
    for message in plan.messages:
        if message.kind in ("post", "reply", "notice"):
            ALERTS_DETECTED.labels(message.action).inc()
    ALERTS_RESOLVED.inc(sum(1 for a in plan.changed if a.resolved_at == now))
