"""Backups of GridPane sites: which have them on, which have none, and one site's schedules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.providers.offline.query import Query
from core.providers.offline.results import Result
from core.providers.offline.wording import code


def backups_answer(q: Query, results: Sequence[Result]) -> str:
    content: Mapping[str, Any] = next(
        (r.content for r in results if r.name == "list_resources"), {}
    )
    if content.get("error"):
        return str(content["error"])
    sites = content.get("sites") or {}
    on = list(sites.get("withBackupsOn") or [])
    off = list(sites.get("withoutBackups") or [])
    asked = q.name
    if not on and not off:
        which = f"a site matching {code(asked)}" if asked else "any site"
        return f"StackDock holds no backup schedule for {which} (only GridPane syncs them)."
    if asked:  # one site asked about: its state says on or off, and how
        return "\n".join(f"{code(site.get('site'))}: {site.get('state')}" for site in off + on)
    wants_on = q.status_class == "ok"
    if wants_on:
        if not on:
            return "No site has backups on."
        lines = [f"**{len(on)} {'site has' if len(on) == 1 else 'sites have'} backups on:**"]
        lines += [f"- {code(site.get('site'))}: {site.get('state')}" for site in on]
        return "\n".join(lines)
    if off:
        lines = [f"**{len(off)} {'site has' if len(off) == 1 else 'sites have'} no backups:**"]
        lines += [f"- {code(site.get('site'))}: {site.get('state')}" for site in off]
    else:
        lines = ["Backups are on for every site StackDock holds backup schedules for."]
    if on and len(on) + len(off) <= 5:
        lines.append("Backups on:")
        lines += [f"- {code(site.get('site'))}: {site.get('state')}" for site in on]
    elif on:
        lines.append(f"Backups on for {', '.join(code(site.get('site')) for site in on)}.")
    return "\n".join(lines)
