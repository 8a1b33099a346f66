"""The small pieces every offline answer is worded with: grammar, filters said in words, and
one line per item.

Counts agree with their nouns ("1 server", "2 servers", "1 problem needs attention"), and a
filtered answer says its filters, so "3 servers in nyc3" cannot be read as all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.providers.offline.query import Query
from core.providers.offline.vocabulary import (
    NORMALISED_KINDS,
    label,
    provider_name,
    statuses_for,
)

MAX_LINES = 25
_STATUS_WORDING = {"error": "in error", "maintenance": "in maintenance", "success": "syncing fine"}


def plural(n: int, singular: str, many: str | None = None) -> str:
    return singular if n == 1 else (many or singular + "s")


def counted(n: int, kind: str | None) -> str:
    return f"{n} {label(kind, n)}"


def verb(n: int, singular: str = "is", many: str = "are") -> str:
    return singular if n == 1 else many


def listed(names: Iterable[str], conjunction: str = "and") -> str:
    parts = list(names)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {conjunction} " + parts[-1]


def code(value: object) -> str:
    return f"`{value}`"


def status_phrase(q: Query, kind: str, items: Sequence[Mapping[str, Any]] = ()) -> str:
    """The status asked about, in the kind's own words: "stopped", "in error", "down"; for a
    provider's own statuses, the person's word and the statuses it matched."""
    if not q.status_class:
        return ""
    statuses = sorted(statuses_for(kind, q.status_class))
    if not statuses or kind not in NORMALISED_KINDS:
        word = q.status_word or q.status_class
        seen = sorted({str(i.get("status")) for i in items if i.get("status")}) or statuses
        shown = listed((_STATUS_WORDING.get(s, s) for s in seen), "or")
        return f"{word} ({shown})" if seen and shown != word else word
    return listed((_STATUS_WORDING.get(s, s) for s in statuses), "or")


def subject(q: Query, kind: str | None, n: int) -> str:
    """`n` items of `kind` with the question's filters: "2 DigitalOcean servers in nyc3"."""
    words = [str(n)]
    if q.severity and kind == "issues":
        words.append(q.severity)
    if q.provider:
        words.append(provider_name(q.provider))
    if q.private is not None and kind == "repositories":
        words.append("private" if q.private else "public")
    if q.engine and kind == "databases":
        words.append(q.engine.capitalize() if q.engine != "libsql" else "libSQL")
    words.append(label(kind, n))
    if q.not_provider:
        words.append(f"not on {provider_name(q.not_provider)}")
    if q.region:
        words.append(f"in {q.region}")
    if q.not_region:
        words.append(f"outside {q.not_region}")
    if q.name and (q.name_is_qualifier or q.intent in ("list", "count")):
        words.append(f"matching {code(q.name)}")
    return " ".join(words)


def sentence(
    q: Query,
    kind: str | None,
    n: int,
    *,
    bold: bool = True,
    items: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A count as a sentence: "**1** server is stopped.", "**3** servers in nyc3."."""
    text = subject(q, kind, n)
    number, rest = text.split(" ", 1)
    shown = f"**{number}** {rest}" if bold else text
    phrase = status_phrase(q, kind, items) if kind else (q.status_word or "")
    if phrase:
        return f"{shown} {verb(n)} {phrase}."
    return f"{shown}."


def size_text(item: Mapping[str, Any]) -> str | None:
    if isinstance(item.get("sizeGb"), int | float):
        return f"{item['sizeGb']:g} GB"
    if isinstance(item.get("sizeBytes"), int | float):
        return human_bytes(item["sizeBytes"])
    return None


def human_bytes(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def _extras(kind: str, item: Mapping[str, Any]) -> list[str]:
    extras: list[str] = []
    if kind in ("blockVolumes", "buckets") and (size := size_text(item)):
        extras.append(size)
    if kind == "buckets" and isinstance(item.get("objectCount"), int):
        extras.append(f"{item['objectCount']:,} objects")
    if item.get("region"):
        extras.append(str(item["region"]))
    if kind == "blockVolumes" and item.get("attachedToInstanceLabel"):
        extras.append(f"attached to {code(item['attachedToInstanceLabel'])}")
    if kind == "databases" and item.get("engine"):
        version = f" {item['version']}" if item.get("version") else ""
        extras.append(f"{item['engine']}{version}")
    if kind == "issues":
        extras += [str(item[k]) for k in ("severity", "project") if item.get(k)]
    if kind == "webServices" and item.get("lastDeployedAt"):
        extras.append(f"last deployed {str(item['lastDeployedAt'])[:10]}")
    if kind == "docks" and item.get("lastSyncAt"):
        extras.append(f"last sync {str(item['lastSyncAt'])[:16].replace('T', ' ')} UTC")
    if kind == "repositories":
        extras += [str(item["language"])] if item.get("language") else []
        extras += ["private"] if item.get("private") is True else []
    if kind == "deployments" and item.get("deploymentType"):
        extras.append(str(item["deploymentType"]))
    return extras


def item_line(kind: str, item: Mapping[str, Any], name: str) -> str:
    facts = [str(item[f]) for f in ("provider", "status", "lastSyncStatus") if item.get(f)]
    line = f"- {code(name)}" + (f" ({', '.join(facts)})" if facts else "")
    extras = _extras(kind, item)
    return line + (", " + ", ".join(extras) if extras else "")


def capped(lines: Sequence[str], total: int, limit: int = MAX_LINES) -> list[str]:
    """At most `limit` lines, then how many more there are."""
    shown = list(lines[:limit])
    if total > len(shown):
        shown.append(f"…and {total - len(shown)} more.")
    return shown


# Connections, groupings and configuration: counted apart from resources (as the org summary
# counts them), so "how many resources" is not inflated by docks and backup schedules.
NOT_RESOURCES = ("docks", "projects", "backupSchedules")


def kind_totals(pairs: Sequence[tuple[str, int]]) -> tuple[str, list[str]]:
    """The resources' total with each kind, then the configuration kinds said apart."""
    resources = [(k, n) for k, n in pairs if k not in NOT_RESOURCES]
    others = [(k, n) for k, n in pairs if k in NOT_RESOURCES and n]
    total = sum(n for _, n in resources)
    text = f"{total} {plural(total, 'resource')}: " + ", ".join(
        f"{n} {label(k, n)}" for k, n in resources
    )
    extra = [f"{n} {label(k, n)}" for k, n in others]
    return text + (f"; and {listed(extra)}." if extra else "."), extra


def none_of(q: Query, kinds: Sequence[str]) -> str:
    """That nothing of these kinds matches: "No Vultr servers or block volumes in fra1."."""
    words = ["No"]
    if q.provider:
        words.append(provider_name(q.provider))
    words.append(listed((label(k) for k in kinds), "or"))
    if q.region:
        words.append(f"in {q.region}")
    if q.name and (q.name_is_qualifier or q.intent in ("list", "count")):
        words.append(f"matching {code(q.name)}")
    if q.status_class and kinds:
        words.append(f"are {q.status_word or status_phrase(q, kinds[0])}")
    return " ".join(words) + "."
