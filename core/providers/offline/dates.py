"""Dates StackDock knows, said for what they are: a registrar's expiry (real) versus
StackDock's GridPane guess (an estimate, never an alarm), and deploy times only where the
provider reports them (the sync time is never one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.providers.offline.filters import matches
from core.providers.offline.query import Query
from core.providers.offline.results import Result, item_name
from core.providers.offline.wording import code, counted, listed, plural, subject

STALE_DEPLOY_DAYS = 30


def _day(stamp: Any) -> str:
    return str(stamp)[:10] if stamp else "?"


def _items(q: Query, results: Sequence[Result]) -> tuple[list[Mapping[str, Any]], str | None]:
    found = matches(q, results)
    errors = [m.error for m in found if m.error]
    return [item for m in found for item in m.items], (errors[0] if errors else None)


def expiry_answer(q: Query, results: Sequence[Result]) -> str:
    items, error = _items(q, results)
    if error:
        return error
    exact = [i for i in items if q.name and item_name(i).lower() == q.name.lower()]
    if len(exact) == 1:
        return _one_expiry(exact[0])
    if not items:
        return (
            f"No domain matches {code(q.name)}." if q.name else "You have no domains in StackDock."
        )
    window = q.window_days or 30
    within = q.window_label or f"within {window} days"
    real = sorted((i for i in items if i.get("expiresAt")), key=lambda i: str(i["expiresAt"]))
    guessed = [i for i in items if i.get("estimatedExpiresAt")]
    unknown = [i for i in items if not i.get("expiresAt") and not i.get("estimatedExpiresAt")]
    lines = []
    if real:
        soon = [i for i in real if 0 <= int(i.get("daysToExpiry") or 0) <= window]
        gone = [i for i in real if int(i.get("daysToExpiry") or 0) < 0]
        if soon:
            lines.append(
                f"**{counted(len(soon), 'domains')} {plural(len(soon), 'expires', 'expire')} "
                f"{within}** (registrar dates):"
            )
            lines += [
                f"- {code(item_name(i))}: {_day(i['expiresAt'])} (in {i.get('daysToExpiry')} "
                f"{plural(int(i.get('daysToExpiry') or 0), 'day')})"
                for i in soon
            ]
        else:
            lines.append(f"No domain's registrar expiry falls {within}.")
        if gone:
            names = listed(f"{code(item_name(i))} ({_day(i['expiresAt'])})" for i in gone)
            lines.append(f"Already past its registrar expiry: {names}.")
        later = len(real) - len(soon) - len(gone)
        if later:
            lines.append(f"{counted(later, 'domains')} with a registrar date expire later.")
    else:
        lines.append(
            "None of your domains has a registrar expiry date in StackDock. So none is known "
            f"to expire {within}."
        )
    if guessed:
        lines.append("Estimates only, not registrar dates (never an alarm):")
        lines += [
            f"- {code(item_name(i))}: about {_day(i['estimatedExpiresAt'])} — {i.get('expiryNote')}"
            for i in guessed
        ]
    if unknown:
        names = ", ".join(code(item_name(i)) for i in unknown)
        notes = sorted({str(i.get("expiryNote") or "no known expiry") for i in unknown})
        lines.append(f"No known expiry for {names} ({'; '.join(notes)}).")
    return "\n".join(lines)


def _one_expiry(item: Mapping[str, Any]) -> str:
    name = code(item_name(item))
    if item.get("expiresAt"):
        days = int(item.get("daysToExpiry") or 0)
        when = f"in {days} {plural(days, 'day')}" if days >= 0 else f"{-days} days ago"
        return f"{name} expires {_day(item['expiresAt'])} ({when}), by its registrar's date."
    if item.get("estimatedExpiresAt"):
        return (
            f"{name} has no registrar expiry date in StackDock; its estimate is about "
            f"{_day(item['estimatedExpiresAt'])} ({item.get('expiryNote')})."
        )
    return f"{name} has no known expiry: {item.get('expiryNote') or 'none is recorded'}."


def deploys_answer(q: Query, results: Sequence[Result]) -> str:
    items, error = _items(q, results)
    if error:
        return error
    if not items:
        return (
            f"No {subject(q, 'webServices', 2)[2:]}." if q.filtered else "You have no web services."
        )
    known = [i for i in items if i.get("lastDeployedAt")]
    unknown = [i for i in items if not i.get("lastDeployedAt")]
    if len(items) == 1 and known:
        (one,) = known
        return (
            f"{code(item_name(one))} ({one.get('provider')}) was last deployed "
            f"{_day(one['lastDeployedAt'])}, {_ago(one)} (from {one.get('lastDeploySource')})."
        )
    lines: list[str] = []
    if q.stale:
        lines += _stale(known, q.window_days or STALE_DEPLOY_DAYS)
    elif q.window_days:
        lines += _recent(
            known, q.window_days, q.window_label or f"in the last {q.window_days} days"
        )
    elif q.order == "newest" and known:
        newest = max(known, key=lambda i: str(i["lastDeployedAt"]))
        lines.append(
            f"The most recent deploy is {code(item_name(newest))} ({newest.get('provider')}): "
            f"{_day(newest['lastDeployedAt'])}, {_ago(newest)}."
        )
    elif known:
        lines.append("**Last deploys** (newest first):")
        lines += [_line(i) for i in sorted(known, key=lambda i: str(i["lastDeployedAt"]),
                                           reverse=True)]  # fmt: skip
    if unknown:
        lines.append(_unknown(unknown))
    return "\n".join(lines)


def _ago(item: Mapping[str, Any]) -> str:
    days = item.get("daysSinceDeploy")
    if days is None:
        return "at an unknown time"
    return "today" if int(days) == 0 else f"{days} {plural(int(days), 'day')} ago"


def _line(item: Mapping[str, Any]) -> str:
    return (
        f"- {code(item_name(item))} ({item.get('provider')}): {_day(item['lastDeployedAt'])}, "
        f"{_ago(item)} — from {item.get('lastDeploySource')}"
    )


def _stale(known: list[Mapping[str, Any]], days: int) -> list[str]:
    stale = sorted(
        (i for i in known if int(i.get("daysSinceDeploy") or 0) > days),
        key=lambda i: str(i["lastDeployedAt"]),
    )
    if not stale:
        return [f"Every web service with a known deploy time was deployed in the last {days} days."]
    lines = [f"**{len(stale)} not deployed in over {days} days** (oldest first):"]
    return lines + [_line(i) for i in stale]


def _recent(known: list[Mapping[str, Any]], days: int, said: str) -> list[str]:
    recent = sorted(
        (i for i in known if int(i.get("daysSinceDeploy") or 0) <= days),
        key=lambda i: str(i["lastDeployedAt"]),
        reverse=True,
    )
    if not recent:
        return [f"No web service with a known deploy time was deployed {said}."]
    head = f"**{counted(len(recent), 'webServices')} deployed {said}** (newest first):"
    return [head, *(_line(i) for i in recent)]


def _unknown(unknown: list[Mapping[str, Any]]) -> str:
    providers = sorted({str(i.get("provider") or "unknown") for i in unknown})
    names = ", ".join(code(item_name(i)) for i in unknown)
    return (
        f"No deploy time for {names}: {', '.join(providers)} "
        f"{'does' if len(providers) == 1 else 'do'} not report deploy times to StackDock "
        "(its sync time is not a deploy time)."
    )
