"""The alert rules: from the problems open now and the alerts in view, what changes and what
is said in each channel. Pure: no I/O, the clock and ids are given.

- A problem at or above the subscription's severity with no alert in view opens one: a
  top-level message.
- An open alert whose problem is gone (or fell below the threshold) resolves: its message is
  edited to say so and after how long, and its thread is told.
- A problem back within FLAP_WINDOW of resolving reopens the same alert (edit and thread
  reply); later than that it is a new alert.
- A muted alert changes state silently until the mute ends.
- A digest, when the subscription has one, is due once a day at its local time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, tzinfo

from core.alert_messages import digest_text, duration, reopened_text, resolved_text
from core.alert_model import (
    FLAP_WINDOW,
    AlertState,
    Outgoing,
    Plan,
    Subscription,
    at_least,
)
from core.problems import Problem
from core.redact import scrub_text

# Why a problem is one: stable across syncs, unlike its detail (event counts, retry times).
_REASONS: dict[str, Callable[[Problem], str]] = {
    "docks": lambda p: "sync_failed",
    "monitors": lambda p: "down" if p.severity == "critical" else "not_up",
    "issues": lambda p: "open_alert",
    "backupSchedules": lambda p: "backups_off",
    "domains": lambda p: "expired" if p.detail.startswith("expired") else "expiring",
}


def problem_key(problem: Problem) -> str:
    """A problem's identity: kind, resource id and reason."""
    reason = _REASONS.get(problem.kind, lambda p: p.severity)(problem)
    return f"{problem.kind}:{problem.id}:{reason}"


@dataclass(frozen=True, slots=True)
class World:
    """What one pass sees besides the store: problems per org, bindings, time."""

    problems: Mapping[str, Sequence[Problem]]  # org id -> its problems now
    bound_org: Callable[[str], str | None]  # target -> the org its binding names, if any
    show_detail: Callable[[str], bool]  # target -> its binding allows network detail
    now: datetime
    tz: tzinfo
    new_id: Callable[[], str]


def wanted(problems: Iterable[Problem], threshold: str) -> dict[str, Problem]:
    """The problems a subscription hears about, by identity."""
    return {problem_key(p): p for p in problems if at_least(p.severity, threshold)}


def new_alert(sub: Subscription, problem: Problem, world: World, *, post: bool) -> AlertState:
    return AlertState(
        id=world.new_id(),
        target=sub.target,
        org_id=sub.org_id,
        problem_key=problem_key(problem),
        kind=problem.kind,
        resource_id=problem.id,
        name=scrub_text(problem.name),
        severity=problem.severity,
        detail=scrub_text(problem.detail),
        opened_at=world.now,
        announced=post,
    )


def latest(alerts: Iterable[AlertState]) -> dict[tuple[str, str], AlertState]:
    """The newest alert per (target, problem) among those in view."""
    found: dict[tuple[str, str], AlertState] = {}
    for alert in sorted(alerts, key=lambda a: a.opened_at):
        found[(alert.target, alert.problem_key)] = alert
    return found


def decide(subs: Sequence[Subscription], alerts: Sequence[AlertState], world: World) -> Plan:
    plan = Plan()
    newest = latest(alerts)
    for sub in subs:
        if world.bound_org(sub.target) != sub.org_id:
            continue  # unbound, or bound elsewhere since: this org's alerts no longer go here
        if sub.org_id not in world.problems:
            continue  # no data on the org: nothing is known to have changed
        mine = {key: a for (target, key), a in newest.items() if target == sub.target}
        now_wanted = wanted(world.problems.get(sub.org_id, ()), sub.min_severity)
        _follow(sub, mine, now_wanted, world, plan)
        digest = _digest(sub, mine, now_wanted, world, plan)
        if digest is not None:
            plan.messages.append(digest)
            plan.digests[sub.target] = world.now
    return plan


def _follow(
    sub: Subscription,
    mine: Mapping[str, AlertState],
    now_wanted: Mapping[str, Problem],
    world: World,
    plan: Plan,
) -> None:
    now = world.now
    for key, problem in now_wanted.items():
        alert = mine.get(key)
        if alert is None or (
            alert.status == "resolved"
            and alert.resolved_at is not None
            and now - alert.resolved_at > FLAP_WINDOW
            and not alert.muted(now)
        ):
            fresh = new_alert(sub, problem, world, post=True)
            plan.new.append(fresh)
            plan.messages.append(
                Outgoing(sub.target, "post", f"post:{fresh.id}", "alert.sent", fresh.id)
            )
        elif alert.status == "resolved":
            _reopen(alert, problem, world, plan)
        elif (alert.severity, alert.name) != (problem.severity, scrub_text(problem.name)):
            changed = _refreshed(alert, problem)
            plan.changed.append(changed)
            if alert.severity != problem.severity and _speaks(changed, now):
                plan.messages.append(_update(changed, "alert.changed"))
    for key, alert in mine.items():
        if alert.status == "open" and key not in now_wanted:
            _resolve(alert, world, plan)


def _refreshed(alert: AlertState, problem: Problem) -> AlertState:
    return replace(
        alert,
        name=scrub_text(problem.name),
        severity=problem.severity,
        detail=scrub_text(problem.detail),
    )


def _speaks(alert: AlertState, now: datetime) -> bool:
    """Whether a change of this alert is told in its channel."""
    return alert.announced and not alert.muted(now)


def _update(alert: AlertState, action: str) -> Outgoing:
    return Outgoing(alert.target, "update", f"update:{alert.id}:{alert.changes}", action, alert.id)


def _reply(alert: AlertState, action: str, text: str) -> Outgoing:
    return Outgoing(
        alert.target, "reply", f"reply:{alert.id}:{alert.changes}", action, alert.id, text
    )


def _resolve(alert: AlertState, world: World, plan: Plan) -> None:
    done = replace(alert, status="resolved", resolved_at=world.now, changes=alert.changes + 1)
    plan.changed.append(done)
    if _speaks(done, world.now):
        took = duration(world.now - alert.opened_at)
        plan.messages.append(_update(done, "alert.resolved"))
        plan.messages.append(_reply(done, "alert.resolved", resolved_text(took)))


def _reopen(alert: AlertState, problem: Problem, world: World, plan: Plan) -> None:
    back = replace(
        _refreshed(alert, problem), status="open", resolved_at=None, changes=alert.changes + 1
    )
    plan.changed.append(back)
    if _speaks(back, world.now):
        gone = duration(world.now - (alert.resolved_at or world.now))
        plan.messages.append(_update(back, "alert.reopened"))
        plan.messages.append(_reply(back, "alert.reopened", reopened_text(gone)))


def digest_due(sub: Subscription, now: datetime, tz: tzinfo) -> bool:
    """Whether today's digest time (in `tz`) has come and no digest went out since it."""
    if not sub.digest_at:
        return False
    hour, minute = (int(part) for part in sub.digest_at.split(":"))
    local = now.astimezone(tz)
    today = datetime.combine(local.date(), time(hour, minute), tz)
    due = today if local >= today else today - timedelta(days=1)
    last = sub.last_digest_at or sub.created_at
    # A subscription made after today's time waits for tomorrow's.
    return last is None or last < due


def _digest(
    sub: Subscription,
    mine: Mapping[str, AlertState],
    now_wanted: Mapping[str, Problem],
    world: World,
    plan: Plan,
) -> Outgoing | None:
    if not digest_due(sub, world.now, world.tz):
        return None
    since = sub.last_digest_at or sub.created_at or world.now
    # This pass's own changes count too: they happened before the digest is sent.
    current = {a.id: a for a in mine.values()}
    for alert in [*plan.new, *plan.changed]:
        if alert.target == sub.target:
            current[alert.id] = alert
    opened = [a for a in current.values() if a.opened_at > since and a.announced]
    resolved = [a for a in current.values() if a.resolved_at is not None and a.resolved_at > since]
    text = digest_text(
        list(now_wanted.values()),
        opened,
        resolved,
        since,
        world.tz,
        show_detail=world.show_detail(sub.target),
    )
    day = world.now.astimezone(world.tz).date().isoformat()
    return Outgoing(sub.target, "notice", f"digest:{sub.target}:{day}", "alert.digest", None, text)
