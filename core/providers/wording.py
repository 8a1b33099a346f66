"""Wording tool results as Markdown answers, for the offline provider."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from core.providers.intents import Plan

KIND_LABELS = {
    "servers": "servers",
    "webServices": "web services",
    "domains": "domains",
    "databases": "databases",
    "blockVolumes": "block volumes",
    "buckets": "buckets",
    "monitors": "monitors",
    "issues": "alerts",
    "repositories": "repositories",
    "deployments": "deployments",
    "docks": "docks",
    "projects": "projects",
}
NAME_FIELDS = ("name", "domainName", "title", "fullName")


def label(kind: str | None) -> str:
    return KIND_LABELS.get(kind or "", kind or "resources")


def item_name(item: Mapping[str, Any]) -> str:
    for field in NAME_FIELDS:
        if item.get(field):
            return str(item[field])
    return str(item.get("id") or item.get("_id") or "?")


def _groups(content: Mapping[str, Any]) -> list[tuple[str, int]]:
    groups = content.get("groups") or content.get("counts") or {}
    if isinstance(groups, Mapping):
        pairs = [(str(k), int(v)) for k, v in groups.items()]
    else:
        pairs = [
            (str(g.get("key") or g.get("value") or g.get("name")), int(g["count"])) for g in groups
        ]
    return sorted(pairs, key=lambda kv: (-kv[1], kv[0]))


def _problems(content: Mapping[str, Any], only: str | None) -> list[Mapping[str, Any]]:
    problems = list(content.get("problems") or content.get("items") or [])
    return [p for p in problems if only is None or p.get("kind") == only]


def _problem_line(problem: Mapping[str, Any]) -> str:
    severity = str(problem.get("severity") or "").upper()
    prefix = f"**{severity}** " if severity else ""
    kind = label(problem.get("kind"))
    return f"- {prefix}{kind[:-1] if kind.endswith('s') else kind} `{problem.get('name')}`: " + str(
        problem.get("detail") or ""
    )


def _problem_block(content: Mapping[str, Any], only: str | None, limit: int = 12) -> list[str]:
    problems = _problems(content, only)
    if not problems:
        what = f"{label(only)} problems" if only else "problems"
        return [
            f"No {what} right now: every dock synced, monitors are up, no high-severity "
            "alerts, and no domain expires within 30 days."
            if not only
            else f"No {what} right now."
        ]
    lines = [
        f"**{len(problems)} {'problem' if len(problems) == 1 else 'problems'} need attention:**"
    ]
    lines += [_problem_line(p) for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"…and {len(problems) - limit} more.")
    return lines


def _list_block(
    content: Mapping[str, Any], kind: str | None, show: Sequence[str] = ()
) -> list[str]:
    items = list(content.get("items") or [])
    total = int(content.get("total", len(items)))
    what = label(content.get("kind") or kind)
    if not items:
        return [f"No {what} match."]
    lines = [
        f"**{total} {what}**" + (f" (showing {len(items)})" if total > len(items) else "") + ":"
    ]
    for item in items:
        facts = [str(item[f]) for f in ("provider", "status", *show) if item.get(f)]
        lines.append(f"- `{item_name(item)}`" + (f" ({', '.join(facts)})" if facts else ""))
    if content.get("note"):
        lines.append(f"_{content['note']}_")
    return lines


def compose(plan: Plan, results: Mapping[str, Mapping[str, Any]]) -> str:
    intent = plan.intent
    if intent == "overview":
        counts = results.get("count_resources", {})
        lines = ["**Your infrastructure at a glance**"]
        pairs = _groups(counts)
        total = sum(n for _, n in pairs)
        lines.append(f"{total} resources: " + ", ".join(f"{n} {label(k)}" for k, n in pairs) + ".")
        lines.append("")
        lines += _problem_block(results.get("find_problems", {}), None)
        return "\n".join(lines)
    if intent == "problems":
        return "\n".join(_problem_block(results.get("find_problems", {}), plan.kind))
    if intent == "count":
        content = results.get("count_resources", {})
        what = label(plan.kind)
        pairs = _groups(content)
        total = int(content.get("total", sum(n for _, n in pairs)))
        if not pairs or (content.get("group_by") in (None, "") and len(pairs) <= 1):
            return f"You have **{total}** {what}."
        by = content.get("group_by") or "kind"
        lines = [f"You have **{total}** {what}, by {by}:"]
        lines += [f"- {label(k) if by == 'kind' else k}: {n}" for k, n in pairs]
        return "\n".join(lines)
    if intent == "list":
        return "\n".join(_list_block(results.get("list_resources", {}), plan.kind))
    if intent == "get":
        content = results.get("get_resource", {})
        item = content.get("item") or content
        lines = [f"**{item_name(item)}**"]
        lines += [
            f"- {k}: {v}"
            for k, v in item.items()
            if k not in NAME_FIELDS and v not in (None, "", {})
        ]
        return "\n".join(lines)
    if intent == "updates":
        lines = [
            "StackDock doesn't track pending OS or package updates for servers, so I can't say "
            "which need them. Here are your servers with their provider and status:"
        ]
        return "\n".join(
            lines + _list_block(results.get("list_resources", {}), "servers", ("region",))
        )
    if intent == "deploys":
        lines = [
            "StackDock doesn't record deploy times for web services, so I can't tell which "
            "haven't been deployed recently. Here are your web services:"
        ]
        return "\n".join(
            lines + _list_block(results.get("list_resources", {}), "webServices", ("environment",))
        )
    if intent == "engines":
        items = results.get("list_resources", {}).get("items") or []
        engines = Counter(str(i.get("engine") or "unknown") for i in items)
        if not engines:
            return "You have no databases in StackDock."
        return "Your database engines:\n" + "\n".join(
            f"- {e}: {n}" for e, n in engines.most_common()
        )
    return "I couldn't work that out."
