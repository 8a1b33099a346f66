"""Counts and lists: "how many servers are running", "which web services are in error",
"whats on digitalocean", grouped by provider, status or region when asked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from core.providers.offline.context import Asker
from core.providers.offline.filters import Matches, matches
from core.providers.offline.query import Query
from core.providers.offline.results import Result, item_name
from core.providers.offline.vocabulary import label, provider_name, statuses_for
from core.providers.offline.wording import (
    capped,
    code,
    counted,
    item_line,
    kind_totals,
    listed,
    none_of,
    sentence,
    status_phrase,
    subject,
    verb,
)

_MANY_NAMES = 5  # a count names what it counted up to this many
_STATUS_SAID = {"error": "in error", "success": "syncing fine"}
_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def _groups(content: Mapping[str, Any]) -> list[tuple[str, int]]:
    groups = content.get("groups") or {}
    pairs = [(str(k), int(v)) for k, v in groups.items()] if isinstance(groups, Mapping) else []
    return sorted(pairs, key=lambda kv: (-kv[1], kv[0]))


def _group_label(by: str, key: str, n: int) -> str:
    if by == "kind":
        return label(key, n)
    if by == "provider":
        return provider_name(key)
    return key


def count_answer(q: Query, results: Sequence[Result], who: Asker) -> str:
    counted_result = next((r for r in results if r.name == "count_resources"), None)
    if counted_result is not None:
        return _counted(q, counted_result.content)
    found = matches(q, results)
    if errors := _only_errors(found):
        return errors
    if q.group_by:
        return _grouped(q, found)
    if len(found) == 1:
        return _one_count(q, found[0], who)
    total = sum(m.total for m in found)
    parts = [counted(m.total, m.kind) for m in found if m.total]
    what = status_phrase(q, found[0].kind) if q.status_class else ""
    head = f"**{total}** {'resource' if total == 1 else 'resources'}"
    if q.provider:
        head += f" on {provider_name(q.provider)}"
    if q.region:
        head += f" in {q.region}"
    text = f"{head} {verb(total)} {q.status_word or what}" if q.status_class else head
    text += f": {listed(parts)}." if parts else "."
    return text + _partial_note(found)


def _counted(q: Query, content: Mapping[str, Any]) -> str:
    if content.get("error"):
        return str(content["error"])
    total = int(content.get("total", 0))
    kind = q.kind
    by = content.get("group_by")
    what = label(kind, total)
    if by == "kind" and kind is None:
        text, _ = kind_totals(_groups(content))
        count, rest = text.split(" ", 1)
        lines = [f"You have **{count}** {rest}"]
    elif by:
        lines = [f"You have **{total}** {what}, by {by}:"]
        lines += [f"- {_group_label(by, k, n)}: {n}" for k, n in _groups(content)]
    else:
        lines = [f"You have **{total}** {what}."]
    if content.get("not_counted"):
        lines.append(
            f"Not counted (your role can't read them): {', '.join(content['not_counted'])}."
        )
    return "\n".join(lines)


def _one_count(q: Query, found: Matches, who: Asker) -> str:
    text = sentence(q, found.kind, found.total, items=found.items)
    if not found.complete:
        text = "At least " + text
    names = [code(item_name(item)) for item in found.items]
    if 0 < found.total <= _MANY_NAMES and len(names) == found.total:
        text = text[:-1] + f": {listed(names)}."
    if found.total == 0 and q.name_is_qualifier:
        text += " " + _not_theirs(q, who)
    return text + _partial_note([found])


def _grouped(q: Query, found: Sequence[Matches]) -> str:
    by = q.group_by or "kind"
    field = {"provider": "provider", "status": "status", "region": "region",
             "language": "language"}.get(by)  # fmt: skip
    counts: Counter[str] = Counter()
    for m in found:
        for item in m.items:
            counts[m.kind if field is None else str(item.get(field) or "(none)")] += 1
    total = sum(counts.values())
    kind = found[0].kind if len(found) == 1 else None
    lines = [f"**{subject(q, kind, total)}**, by {by}:"]
    lines += [
        f"- {_group_label(by, k, n)}: {n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])
    ]
    return "\n".join(lines) + _partial_note(found)


def list_answer(q: Query, results: Sequence[Result], who: Asker) -> str:
    found = matches(q, results)
    if errors := _only_errors(found):
        return errors
    if len(found) == 1:
        return "\n".join(_kind_block(q, found[0], who, alone=True)) + _partial_note(found)
    lines: list[str] = []
    empty = [m for m in found if not m.total and not m.error]
    for m in found:
        if m.total:
            lines += _kind_block(q, m, who, alone=False)
        elif m.error:
            lines.append(f"_{m.error}_")
    if not any(m.total for m in found):
        return _nothing(q, [m.kind for m in empty], who)
    if empty:
        lines.append(none_of(q, [m.kind for m in empty]))
    return "\n".join(lines) + _partial_note(found)


def _kind_block(q: Query, found: Matches, who: Asker, *, alone: bool) -> list[str]:
    if found.total == 0:
        text = sentence(q, found.kind, 0, bold=False)
        text = "No " + text[2:]
        if q.name_is_qualifier:
            text += " " + _not_theirs(q, who)
        return [text]
    items = found.items
    if q.order == "severity":
        items = sorted(items, key=lambda i: _SEVERITY_RANK.get(str(i.get("severity")), 9))
        if q.top and q.top < len(items):
            top = items[: q.top]
            most = "most severe" if len(top) == 1 else f"{len(top)} most severe"
            status = f"{q.status_word} " if q.status_word else ""
            head = f"The {most} {status}{label(found.kind, len(top))}"
            rows = [item_line(found.kind, item, item_name(item)) for item in top]
            return [f"**{head}:**", *rows]
    head = sentence(q, found.kind, found.total, bold=False, items=items)[:-1]
    lines = [f"**{'At least ' if not found.complete else ''}{head}:**"]
    rows = [item_line(found.kind, item, item_name(item)) for item in items]
    return lines + capped(rows, found.total)


def _nothing(q: Query, kinds: Sequence[str], who: Asker) -> str:
    if q.provider and not (q.status_class or q.region or q.name):
        name = provider_name(q.provider)
        labels = listed((label(k) for k in kinds), "or")
        return f"{who.org_label} has nothing on {name} in StackDock: no {name} {labels}."
    return none_of(q, kinds)


def _not_theirs(q: Query, who: Asker) -> str:
    return (
        f"I can only see {who.org_label}'s data: if {code(q.name)} is another organisation, "
        "I can't show its resources."
    )


def _only_errors(found: Sequence[Matches]) -> str | None:
    """A tool's refusal, relayed as it is, when every lookup was refused."""
    if found and all(m.error for m in found):
        return "\n".join(dict.fromkeys(str(m.error) for m in found))
    if not found:
        return "I found nothing to answer that with."
    return None


def _partial_note(found: Sequence[Matches]) -> str:
    partial = [m for m in found if not m.complete]
    if not partial:
        return ""
    looked = sum(m.looked_at for m in partial)
    available = sum(m.available for m in partial)
    return (
        f"\n_Only the first {looked} of your {available} {label(partial[0].kind)} were checked "
        "for that filter (a lookup returns at most 50); narrow by provider or name to see the "
        "rest._"
    )


def engines_answer(results: Sequence[Result]) -> str:
    found = matches(Query("engines", kind="databases"), results)
    if errors := _only_errors(found):
        return errors
    engines = Counter(str(i.get("engine") or "unknown") for m in found for i in m.items)
    if not engines:
        return "You have no databases in StackDock."
    return "Your database engines:\n" + "\n".join(
        f"- {e}: {counted(n, 'databases')}" for e, n in engines.most_common()
    )


def sync_answer(results: Sequence[Result]) -> str:
    found = matches(Query("sync", kind="docks"), results)
    if errors := _only_errors(found):
        return errors
    docks = [item for m in found for item in m.items]
    if not docks:
        return "No docks are connected, so nothing syncs."
    lines = [f"**Last syncs of your {counted(len(docks), 'docks')}:**"]
    for item in docks:
        when = str(item.get("lastSyncAt") or "never")[:16].replace("T", " ")
        state = str(item.get("status") or item.get("lastSyncStatus") or "?")
        line = f"- {code(item_name(item))} ({item.get('provider')}): {state}, last sync {when}"
        if item.get("syncState"):
            line += f" — {item['syncState']}"
        lines.append(line)
    return "\n".join(lines)


def all_answer(q: Query, results: Sequence[Result]) -> str:
    """ "Are all my servers running?": yes, or no with the ones that are not."""
    found = matches(q.replace(status_class=None), results)
    if errors := _only_errors(found):
        return errors
    kind = found[0].kind
    items = found[0].items
    wanted = statuses_for(kind, q.status_class or "")
    phrase = status_phrase(q, kind, [i for i in items if _status(i) in wanted])
    others = [i for i in items if _status(i) not in wanted]
    what = subject(q.replace(status_class=None), kind, len(items))
    if not items:
        return f"You have no {what.split(' ', 1)[1]}."
    if len(items) == 1:
        (one,) = items
        status = str(one.get("status") or one.get("lastSyncStatus") or "of unknown status")
        said = _STATUS_SAID.get(status, status)
        return f"{'No' if others else 'Yes'}: {code(item_name(one))} is {said}."
    if not others:
        return f"Yes: all {what} {verb(len(items))} {phrase}."
    names = listed(f"{code(item_name(i))} ({_status(i) or 'no status'})" for i in others)
    return (
        f"No: {len(others)} of your {what} {verb(len(others))} not {phrase}: {names}."
        + _partial_note(found)
    )


def _status(item: Mapping[str, Any]) -> str:
    """An item's status; a dock's is its last sync's."""
    return str(item.get("status") or item.get("lastSyncStatus") or "")
