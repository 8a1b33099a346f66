"""The words of alert messages, the same on every platform (adapters only lay them out).

Every piece of StackDock text shown here (names, details) is one line, scrubbed of secrets,
and, unless the channel's binding allows detail, stripped of IPs, URLs and hostnames.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from core.alert_model import AlertState, severity_rank
from core.ports import AlertCard
from core.problems import Problem
from core.redact import mask_network_detail, one_line, scrub_text

GROUP_LINES = 15  # lines of a grouped message or a digest list before "and N more"
_NAME_CHARS = 120
_DETAIL_CHARS = 240
_KIND_WORDS = {
    "docks": "dock sync",
    "monitors": "monitor",
    "issues": "alert",
    "backupSchedules": "backups",
    "domains": "domain",
}


def shown(text: str, show_detail: bool, limit: int) -> str:
    """StackDock text as a channel may see it."""
    text = scrub_text(text)
    if not show_detail:
        text = mask_network_detail(text, hostnames=True)
    return one_line(text, limit)


def kind_word(kind: str) -> str:
    return _KIND_WORDS.get(kind, kind)


def duration(span: timedelta) -> str:
    """ "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    seconds = max(int(span.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def at(moment: datetime, tz: tzinfo) -> str:
    """ "2026-06-02 09:30 UTC" in the alerts' time zone."""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def resolved_text(took: str) -> str:
    return f"✅ Resolved after {took}."


def reopened_text(gone: str) -> str:
    return f"🔁 It is back, {gone} after it resolved; this alert is open again."


def subscribed_text(open_now: int, threshold: str, digest_at: str | None) -> str:
    problems = "problem is" if open_now == 1 else "problems are"
    digest = f" A digest follows every day at {digest_at}." if digest_at else ""
    return (
        f"🔔 Subscribed: this channel now hears about new StackDock problems of {threshold} "
        f"severity and above. {open_now} {problems} open now.{digest}"
    )


def _status(alert: AlertState, now: datetime, tz: tzinfo) -> str:
    if alert.status == "resolved" and alert.resolved_at is not None:
        text = f"✅ Resolved after {duration(alert.resolved_at - alert.opened_at)}"
    else:
        text = f"Open since {at(alert.opened_at, tz)}"
    if alert.muted(now) and alert.muted_until is not None:
        text += f" · 🔕 muted until {at(alert.muted_until, tz)}"
    return text


def alert_card(
    alerts: Sequence[AlertState], ref: str, *, show_detail: bool, now: datetime, tz: tzinfo
) -> AlertCard:
    """One top-level message: a single alert, or a group posted together."""
    ordered = sorted(alerts, key=lambda a: (severity_rank(a.severity), a.kind, a.name.lower()))
    worst = ordered[0].severity if ordered else "high"
    resolved = all(a.status == "resolved" for a in ordered)
    if len(ordered) == 1:
        alert = ordered[0]
        name = shown(alert.name, show_detail, _NAME_CHARS) or alert.resource_id
        headline = f"{alert.severity.capitalize()} · {kind_word(alert.kind)} · {name}"
        wrong = f"What is wrong: {shown(alert.detail, show_detail, _DETAIL_CHARS)}"
        return AlertCard(headline, (wrong, _status(alert, now, tz)), worst, ref, resolved)
    counts = Counter(a.severity for a in ordered)
    split = ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=severity_rank))
    still = sum(a.status == "open" for a in ordered)
    headline = f"{len(ordered)} problems at once ({split}); {still} still open"
    listed = [_group_line(a, show_detail, now, tz) for a in ordered[:GROUP_LINES]]
    if len(ordered) > GROUP_LINES:
        listed.append(f"…and {len(ordered) - GROUP_LINES} more.")
    return AlertCard(headline, tuple(listed), worst, ref, resolved)


def _group_line(alert: AlertState, show_detail: bool, now: datetime, tz: tzinfo) -> str:
    name = shown(alert.name, show_detail, 80)
    detail = shown(alert.detail, show_detail, 120)
    return f"• {alert.severity} · {kind_word(alert.kind)} · {name}: {detail} ({_status(alert, now, tz)})"


def notice_card(text: str) -> AlertCard:
    """A message with no alert of its own (subscribed, digest): no buttons."""
    first, _, rest = text.partition("\n")
    return AlertCard(first, tuple(line for line in rest.split("\n") if line), "low")


def digest_text(
    open_now: Sequence[Problem],
    opened: Sequence[AlertState],
    resolved: Sequence[AlertState],
    since: datetime,
    tz: tzinfo,
    *,
    show_detail: bool,
) -> str:
    """The daily digest: what is open, and what opened and resolved since the last one."""
    lines = [
        f"📋 Daily digest: {len(open_now)} open now; since {at(since, tz)}, "
        f"{len(opened)} opened and {len(resolved)} resolved"
    ]
    if open_now:
        lines.append("Open now:")
        for problem in open_now[:GROUP_LINES]:
            name = shown(problem.name, show_detail, 80)
            detail = shown(problem.detail, show_detail, 120)
            lines.append(f"• {problem.severity} · {kind_word(problem.kind)} · {name}: {detail}")
        if len(open_now) > GROUP_LINES:
            lines.append(f"…and {len(open_now) - GROUP_LINES} more.")
    for title, alerts in (("Opened", opened), ("Resolved", resolved)):
        if alerts:
            names = ", ".join(shown(a.name, show_detail, 60) for a in alerts[:GROUP_LINES])
            more = f" and {len(alerts) - GROUP_LINES} more" if len(alerts) > GROUP_LINES else ""
            lines.append(f"{title}: {names}{more}")
    if not (open_now or opened or resolved):
        lines.append("Nothing open, nothing changed. 🎉")
    return "\n".join(lines)


def muted_text(by: str, until: datetime, tz: tzinfo) -> str:
    return f"🔕 Muted by {by} until {at(until, tz)}: no more messages about this until then."


def explain_question(alerts: Sequence[AlertState], *, show_detail: bool, tz: tzinfo) -> str:
    """What Explain asks on the presser's behalf."""
    facts = "; ".join(
        f"{a.severity} {kind_word(a.kind)} problem on “{shown(a.name, show_detail, 80)}” "
        f"({shown(a.detail, show_detail, 160)}), {a.status} since {at(a.opened_at, tz)}"
        for a in alerts[:5]
    )
    if len(alerts) == 1:
        return f"Explain this alert: what is wrong, why it matters and what to check first. {facts}"
    return (
        f"Explain these {len(alerts)} alerts: what is wrong, how they relate and which to "
        f"look at first. {facts}"
    )
