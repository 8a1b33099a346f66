"""What the offline provider understood a question to ask: the intent and its filters.

A Query is built from the words alone (reading.py), merged with the previous question's when
the person follows up (followups.py), turned into tool calls (planner.py) and worded from the
results (answers.py). It is plain data, so each step can be tested on its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# What a question can ask for; each has its tool calls and its wording.
DATA_INTENTS = frozenset(
    {
        "count",  # how many, optionally grouped
        "list",  # which / show, with filters
        "detail",  # one resource by name, of a known kind
        "find",  # a name of unknown kind: search every kind, then show what matched
        "size",  # biggest / smallest / how much storage
        "expiry",  # domains expiring within a window
        "deploys",  # last deploy times of web services
        "backups",  # which sites have backups on
        "problems",  # what needs attention
        "overview",  # counts by kind and the problems
        "down",  # what is down or stopped, across kinds
        "engines",  # database engines in use
        "sync",  # when docks last synced
        "all",  # are all of a kind in a status: yes, or which are not
    }
)
# Answered from the words and the system prompt alone, without a tool.
WORD_INTENTS = frozenset(
    {
        "help",
        "greeting",
        "thanks",
        "whoami",
        "refuse_action",  # a change: the bot is read-only
        "refuse_data",  # data StackDock does not hold
        "refuse_secret",  # credentials are never shown
        "refuse_org",  # another organisation's data
        "refuse_provider",  # a cloud StackDock has no dock for
        "refuse_status",  # a status this kind never has
        "unsure",  # not understood: say what was, and ask
    }
)


@dataclass(frozen=True, slots=True)
class Query:
    intent: str
    kind: str | None = None
    also: tuple[str, ...] = ()  # further kinds asked about together ("servers and databases")
    provider: str | None = None
    status_class: str | None = None  # vocabulary.STATUS_WORDS' class
    status_word: str | None = None  # the person's word for it, for the answer
    region: str | None = None  # a region code or a place, as asked
    not_provider: str | None = None  # "servers not on digitalocean"
    not_region: str | None = None
    name: str | None = None
    name_is_qualifier: bool = False  # "globex servers": a name filter that may be an org
    severity: str | None = None
    engine: str | None = None
    private: bool | None = None  # repositories: private or public ones
    group_by: str | None = None  # provider | status | kind | region
    order: str | None = None  # largest | smallest | newest | oldest
    top: int | None = None
    window_days: int | None = None
    window_label: str | None = None
    stale: bool = False  # deploys: not deployed recently
    topic: str | None = None  # what a refusal is about
    unknown: tuple[str, ...] = ()  # words not understood
    followup: bool = False
    refers_back: bool = False  # "those", "them", "it": the previous answer's items
    explicit: bool = False  # the words asked for this intent ("which", "list", "how many")
    said: str = ""  # the question's words, normalised
    kind_named: bool = False  # the words named the kind, rather than a filter implying it
    notes: tuple[str, ...] = ()  # what a reply adds: the offer after a refusal, the candidates

    def replace(self, **changes: object) -> Query:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def kinds(self) -> tuple[str, ...]:
        return ((self.kind,) if self.kind else ()) + tuple(k for k in self.also if k != self.kind)

    @property
    def filtered(self) -> bool:
        return bool(
            self.provider or self.status_class or self.region or self.name or self.severity
            or self.engine or self.private is not None or self.not_provider or self.not_region
        )  # fmt: skip
