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
    "backupSchedules": "backup schedules",
}
STALE_DEPLOY_DAYS = 30
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
    kind = "sites" if problem.get("kind") == "backupSchedules" else label(problem.get("kind"))
    return f"- {prefix}{kind[:-1] if kind.endswith('s') else kind} `{problem.get('name')}`: " + str(
        problem.get("detail") or ""
    )


def _problem_block(content: Mapping[str, Any], only: str | None, limit: int = 12) -> list[str]:
    problems = _problems(content, only)
    if not problems:
        what = f"{label(only)} problems" if only else "problems"
        return [
            f"No {what} right now: no dock sync is failing, no monitor is down, no open "
            "critical or high alert, every site's backups run, and no domain's registrar "
            "expiry is within 30 days."
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
        show = ("lastDeployedAt",) if plan.kind == "webServices" else ()
        return "\n".join(_list_block(results.get("list_resources", {}), plan.kind, show))
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
        return "\n".join(_deploy_block(results.get("list_resources", {})))
    if intent == "backups":
        asked = dict(plan.calls[0][1]).get("name_contains") if plan.calls else None
        return "\n".join(_backup_block(results.get("list_resources", {}), asked))
    if intent == "expiry":
        return "\n".join(_expiry_block(results.get("list_resources", {})))
    if intent == "engines":
        items = results.get("list_resources", {}).get("items") or []
        engines = Counter(str(i.get("engine") or "unknown") for i in items)
        if not engines:
            return "You have no databases in StackDock."
        return "Your database engines:\n" + "\n".join(
            f"- {e}: {n}" for e, n in engines.most_common()
        )
    return "I couldn't work that out."


def _day(stamp: Any) -> str:
    return str(stamp)[:10] if stamp else "?"


def _deploy_block(content: Mapping[str, Any]) -> list[str]:
    """Deploy times where the provider reports them (oldest first), and who reports none."""
    items = list(content.get("items") or [])
    if not items:
        return ["No web services match."]
    known = sorted(
        (i for i in items if i.get("lastDeployedAt")), key=lambda i: str(i["lastDeployedAt"])
    )
    unknown = [i for i in items if not i.get("lastDeployedAt")]
    if len(items) == 1 and known:
        (one,) = known
        return [
            f"`{item_name(one)}` ({one.get('provider')}) was last deployed "
            f"{_day(one['lastDeployedAt'])}, {one.get('daysSinceDeploy')} days ago "
            f"(from {one.get('lastDeploySource')})."
        ]
    lines = []
    if known:
        stale = [i for i in known if int(i.get("daysSinceDeploy") or 0) > STALE_DEPLOY_DAYS]
        lines.append(
            f"**Last deploys** (oldest first; {len(stale)} not deployed in over "
            f"{STALE_DEPLOY_DAYS} days):"
        )
        for i in known:
            days = i.get("daysSinceDeploy")
            ago = f", {days} days ago" if days is not None else ""
            lines.append(
                f"- `{item_name(i)}` ({i.get('provider')}): {_day(i['lastDeployedAt'])}{ago}"
                f" — from {i.get('lastDeploySource')}"
            )
    if unknown:
        providers = sorted({str(i.get("provider") or "unknown") for i in unknown})
        names = ", ".join(f"`{item_name(i)}`" for i in unknown)
        lines.append(
            f"No deploy time for {names}: {', '.join(providers)} "
            f"{'does' if len(providers) == 1 else 'do'} not report deploy times to StackDock "
            "(its sync time is not a deploy time)."
        )
    return lines


def _backup_block(content: Mapping[str, Any], asked: str | None = None) -> list[str]:
    sites = content.get("sites") or {}
    on = list(sites.get("withBackupsOn") or [])
    off = list(sites.get("withoutBackups") or [])
    if not on and not off:
        which = f"a site matching `{asked}`" if asked else "any site"
        return [f"StackDock holds no backup schedule for {which} (only GridPane syncs them)."]
    if asked:  # one site asked about: its state says on or off, and how
        return [f"`{site.get('site')}`: {site.get('state')}" for site in off + on]
    if off:
        lines = [f"**{len(off)} {'site has' if len(off) == 1 else 'sites have'} no backups:**"]
        lines += [f"- `{site.get('site')}`: {site.get('state')}" for site in off]
    else:
        lines = ["Backups are on for every site StackDock holds backup schedules for."]
    if on and len(on) + len(off) <= 5:
        lines.append("Backups on:")
        lines += [f"- `{site.get('site')}`: {site.get('state')}" for site in on]
    elif on:
        names = ", ".join(f"`{site.get('site')}`" for site in on)
        lines.append(f"Backups on for {names}.")
    return lines


def _expiry_block(content: Mapping[str, Any]) -> list[str]:
    """Real expiries first; StackDock's guesses labelled as such; no date said plainly."""
    items = list(content.get("items") or [])
    if not items:
        return ["You have no domains in StackDock."]
    real = sorted((i for i in items if i.get("expiresAt")), key=lambda i: str(i["expiresAt"]))
    guessed = [i for i in items if i.get("estimatedExpiresAt")]
    unknown = [i for i in items if not i.get("expiresAt") and not i.get("estimatedExpiresAt")]
    lines = []
    soon = [i for i in real if int(i.get("daysToExpiry") or 0) <= 30]
    if real:
        lines.append(f"**Registrar expiry** ({len(soon)} within 30 days):")
        lines += [
            f"- `{item_name(i)}`: {_day(i['expiresAt'])} (in {i.get('daysToExpiry')} days)"
            for i in real
        ]
    else:
        lines.append("None of your domains has a registrar expiry date in StackDock.")
    if guessed:
        lines.append("Estimates only, not registrar dates (never an alarm):")
        lines += [
            f"- `{item_name(i)}`: about {_day(i['estimatedExpiresAt'])} — {i.get('expiryNote')}"
            for i in guessed
        ]
    if unknown:
        names = ", ".join(f"`{item_name(i)}`" for i in unknown)
        notes = sorted({str(i.get("expiryNote") or "no known expiry") for i in unknown})
        lines.append(f"No known expiry for {names} ({'; '.join(notes)}).")
    return lines
