"""What needs attention (find_problems) and the overview: counts by kind, then the problems."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.providers.offline.query import Query
from core.providers.offline.results import Result
from core.providers.offline.vocabulary import label
from core.providers.offline.wording import code, kind_totals, plural

PROBLEM_LINES = 12
_ONLY = re.compile(r"\b(?:only|just|solely|nothing but)\b")
_NONE_AT_ALL = (
    "No problems right now: no dock sync is failing, no monitor is down, no open critical or "
    "high alert, every site's backups run, and no domain's registrar date is within 30 days."
)


def _content(results: Sequence[Result], tool: str) -> Mapping[str, Any]:
    return next((r.content for r in results if r.name == tool), {})


def _line(problem: Mapping[str, Any]) -> str:
    severity = str(problem.get("severity") or "").upper()
    prefix = f"**{severity}** " if severity else ""
    kind = problem.get("kind")
    what = "site" if kind == "backupSchedules" else label(str(kind), 1)
    return f"- {prefix}{what} {code(problem.get('name'))}: {problem.get('detail') or ''}"


def problem_block(content: Mapping[str, Any], q: Query | None = None) -> list[str]:
    if content.get("error"):
        return [str(content["error"])]
    only = q.kind if q is not None and q.intent == "problems" else None
    severity = q.severity if q is not None else None
    if severity == "critical" and q is not None and not _ONLY.search(q.said):
        severity = None  # "any critical issues?" means anything serious, most severe first
    problems = [
        p
        for p in content.get("problems") or []
        if (only is None or p.get("kind") == only)
        and (severity is None or p.get("severity") == severity)
    ]
    what = " ".join(w for w in (severity, "problems") if w)
    if only:
        what = f"{what} with {label(only)}"
    if not problems:
        text = f"No {what} right now." if (only or severity) else _NONE_AT_ALL
        return [text, *_unchecked(content)]
    n = len(problems)
    total = int(content.get("total", n)) if not (only or severity) else n
    head = f"**{total} {' '.join(w for w in (severity, plural(total, 'problem')) if w)}"
    lines = [f"{head} {'needs' if total == 1 else 'need'} attention:**"]
    lines += [_line(p) for p in problems[:PROBLEM_LINES]]
    if total > min(n, PROBLEM_LINES):
        lines.append(f"…and {total - min(n, PROBLEM_LINES)} more, all less severe.")
    return lines + _unchecked(content)


def _unchecked(content: Mapping[str, Any]) -> list[str]:
    skipped = content.get("not_checked")
    if not skipped:
        return []
    return [f"_Not checked (your role can't read them): {', '.join(skipped)}._"]


def problems_answer(q: Query, results: Sequence[Result]) -> str:
    return "\n".join(problem_block(_content(results, "find_problems"), q))


def overview_answer(results: Sequence[Result]) -> str:
    counts = _content(results, "count_resources")
    if counts.get("error"):
        return str(counts["error"])
    groups = counts.get("groups") or {}
    pairs = sorted(((str(k), int(v)) for k, v in groups.items()), key=lambda kv: (-kv[1], kv[0]))
    lines = ["**Your infrastructure at a glance**", kind_totals(pairs)[0]]
    lines.append("")
    lines += problem_block(_content(results, "find_problems"))
    return "\n".join(lines)
