"""Who is asking and in which organisation, read from the system prompt the provider is given.

The org summary (core/org_summary.py) names the asker, their role and their organisation as
quoted values; those lines are all the offline provider needs to answer "who am I" and to say
whose data it can see.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_QUOTED = r'("(?:[^"\\]|\\.)*")'
_ASKING = re.compile(rf"^Asking: {_QUOTED}, role {_QUOTED}\.", re.MULTILINE)
_ORG = re.compile(rf"^Organisation: {_QUOTED}", re.MULTILINE)
_HIDDEN = re.compile(r"^Not readable with this role, so not counted: ([^.]*)\.", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Asker:
    name: str | None = None
    role: str | None = None
    org: str | None = None
    unreadable: tuple[str, ...] = ()

    @property
    def org_label(self) -> str:
        return self.org or "your organisation"

    @property
    def first_name(self) -> str | None:
        return self.name.split()[0] if self.name else None


def _value(quoted: str) -> str | None:
    try:
        value = json.loads(quoted)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _last(pattern: re.Pattern[str], system: str) -> re.Match[str] | None:
    """The summary's own line: it comes last, after anything an org's instructions say."""
    found = list(pattern.finditer(system))
    return found[-1] if found else None


def asker(system: str) -> Asker:
    asking = _last(_ASKING, system)
    org = _last(_ORG, system)
    hidden = _last(_HIDDEN, system)
    return Asker(
        name=_value(asking.group(1)) if asking else None,
        role=_value(asking.group(2)) if asking else None,
        org=_value(org.group(1)) if org else None,
        unreadable=tuple(k.strip() for k in hidden.group(1).split(",")) if hidden else (),
    )
