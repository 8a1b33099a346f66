"""The org summary the model starts from: small, and the same size for 50 or 10,000 resources.

Only counts and the top few of each grouping go in (kinds, top 8 providers, top 6 statuses,
top 8 problems); everything else is one tool call away. Only kinds the asker's role may read
are counted, and every name passes through the same redaction as tool output.

Every value that comes from StackDock (names, providers, statuses, alert titles, sync errors)
goes in `quoted`: one bounded line in quotes, so data cannot pose as a line of instructions;
`system_prompt` then fences the whole block off as data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.access import BACKUP_KINDS, KINDS, can_read, readable_kinds
from core.models import Principal
from core.ports import Mirror
from core.problems import PROBLEM_KINDS, Problem, find_problems
from core.prompts import quoted
from core.redact import redact_for_channel

TOP_PROVIDERS = 8
TOP_STATUSES = 6
TOP_PROBLEMS = 8
STALE_AFTER = timedelta(hours=1)
# Connections, groupings and configuration: counted by kind, not as resources.
_NOT_RESOURCES = frozenset({"docks", "projects", *BACKUP_KINDS})
_NAME_CHARS = 48
_DETAIL_CHARS = 120  # a sync error and how long the dock has failed
_VALUE_CHARS = 32  # providers and statuses: short ids in StackDock, bounded if they are not


def _top(counter: Counter[str], n: int) -> str:
    top = counter.most_common(n)
    parts = [f"{quoted(name, _VALUE_CHARS)} {count}" for name, count in top]
    rest = sum(counter.values()) - sum(count for _, count in top)
    if rest:
        parts.append(f"others {rest}")
    return ", ".join(parts) or "none"


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


def org_summary(mirror: Mirror, principal: Principal, now: datetime) -> str:
    """A compact block for the system prompt: who asks, what the org has, what is wrong."""
    return _asker_line(principal) + "\n" + _org_body(mirror, principal, now)


def _asker_line(principal: Principal) -> str:
    return str(
        redact_for_channel(
            f"Asking: {quoted(principal.user_name, _NAME_CHARS)}, "
            f"role {quoted(principal.role_name, _NAME_CHARS)}.",
            principal.show_detail,
        )
    )


def _org_body(mirror: Mirror, principal: Principal, now: datetime) -> str:
    kinds = readable_kinds(principal.permissions)
    by_kind: dict[str, int] = {}
    providers: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for kind in kinds:
        rows = mirror.rows(principal.org_id, kind)
        by_kind[kind] = len(rows)
        if kind in _NOT_RESOURCES:
            continue
        providers.update(str(d.get("provider") or "unknown") for d in rows)
        statuses.update(str(d["status"]) for d in rows if d.get("status"))  # repos have none

    lines = [
        f"Organisation: {quoted(principal.org_name, _NAME_CHARS)} "
        f"(id {quoted(principal.org_id, _NAME_CHARS)})."
    ]
    if mirror.as_of is not None and now - mirror.as_of > STALE_AFTER:
        lines.append(
            f"Note: the data was last synced from StackDock {_age(now - mirror.as_of)} ago; "
            "say so if freshness matters."
        )
    total = sum(n for k, n in by_kind.items() if k not in _NOT_RESOURCES)
    lines.append(f"Resources ({total}): " + ", ".join(f"{k} {n}" for k, n in by_kind.items()) + ".")
    lines.append(f"By provider: {_top(providers, TOP_PROVIDERS)}.")
    lines.append(f"By status: {_top(statuses, TOP_STATUSES)}.")
    lines.extend(_problem_lines(mirror, principal, now))
    hidden = [k for k in KINDS if k not in kinds]
    if hidden:
        lines.append(
            f"Not readable with this role, so not counted: {', '.join(hidden)}. "
            "Say so rather than guessing about them."
        )
    return str(redact_for_channel("\n".join(lines), principal.show_detail))


# Together they bound the summaries kept whole (MAX_ENTRIES x MAX_ASKERS_PER_ENTRY strings of a
# few KB: ~25 MB at worst); past a bound the cache starts over, which costs one rebuild.
MAX_ENTRIES = 512
MAX_ASKERS_PER_ENTRY = 16


class SummaryCache:
    """Org summaries, rebuilt when the mirror changes or `ttl` passes (expiry dates move).

    Building one walks every row of the org (about 10 ms at 10,000 resources); a question
    should not pay that when nothing changed.
    """

    def __init__(self, mirror: Mirror, ttl: timedelta = timedelta(seconds=60)) -> None:
        self._mirror = mirror
        self._ttl = ttl
        self._entries: dict[tuple[object, ...], _Entry] = {}
        # The asker's line costs two scrubs and a redaction, and depends on nothing else.
        self._askers: dict[tuple[str, str, bool], str] = {}

    def summary(self, principal: Principal, now: datetime) -> str:
        key = (
            principal.org_id,
            principal.org_name,
            readable_kinds(principal.permissions),
            principal.show_detail,
        )
        version = self._mirror.version
        entry = self._entries.get(key)
        if entry is None or entry.version != version or now - entry.built > self._ttl:
            if len(self._entries) > MAX_ENTRIES:  # orgs x roles x detail: never unbounded
                self._entries.clear()
            entry = _Entry(version, now, _org_body(self._mirror, principal, now))
            self._entries[key] = entry
        asker = self._asker(principal)
        whole = entry.joined.get(asker)
        if whole is None:
            # The same string for the same asker: the system prompt is kept by it, and a
            # string kept whole hashes once.
            if len(entry.joined) > MAX_ASKERS_PER_ENTRY:
                entry.joined.clear()
            whole = entry.joined[asker] = asker + "\n" + entry.body
        return whole

    def _asker(self, principal: Principal) -> str:
        key = (principal.user_name, principal.role_name, principal.show_detail)
        line = self._askers.get(key)
        if line is None:
            if len(self._askers) > 4096:
                self._askers.clear()
            line = self._askers[key] = _asker_line(principal)
        return line


@dataclass(slots=True)
class _Entry:
    version: int
    built: datetime
    body: str
    joined: dict[str, str] = field(default_factory=dict)  # the asker's line -> the summary


def _problem_lines(mirror: Mirror, principal: Principal, now: datetime) -> Iterable[str]:
    kinds = [k for k in PROBLEM_KINDS if can_read(k, principal.permissions)]
    if not kinds:
        return []
    problems = find_problems(mirror, principal.org_id, now, kinds)
    if not problems:
        return [f"Problems: none found in {', '.join(kinds)}."]
    by_kind = Counter(p.kind for p in problems)
    kinds_text = ", ".join(f"{kind} {n}" for kind, n in by_kind.most_common())
    lines = [f"Problems ({len(problems)}: {kinds_text}), most severe first:"]
    for p in _varied(problems, TOP_PROBLEMS):
        name, detail = quoted(p.name, _NAME_CHARS), quoted(p.detail, _DETAIL_CHARS)
        lines.append(f"- [{p.severity}] {p.kind} {name}: {detail}")
    if len(problems) > TOP_PROBLEMS:
        lines.append(f"- and {len(problems) - TOP_PROBLEMS} more; call find_problems.")
    return lines


def _varied(problems: list[Problem], n: int) -> list[Problem]:
    """The `n` most severe problems, at most three of a kind while others are waiting, so a
    flood of one kind (a hundred expiring domains) does not hide a failed sync."""
    chosen: list[Problem] = []
    per_kind: Counter[str] = Counter()
    for p in problems:
        if len(chosen) < n and per_kind[p.kind] < 3:
            chosen.append(p)
            per_kind[p.kind] += 1
    for p in problems:
        if len(chosen) >= n:
            break
        if p not in chosen:
            chosen.append(p)
    return sorted(chosen, key=problems.index)
