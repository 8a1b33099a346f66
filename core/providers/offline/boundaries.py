"""What the offline provider must decline, and say so: changes, data StackDock does not hold,
credentials, and other organisations.

Each is found from the words alone, before any tool is called, so a question about CPU never
gets a server list presented as if it answered it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.providers.offline.vocabulary import known_word


@dataclass(frozen=True, slots=True)
class Missing:
    """Data StackDock does not hold: what it is, and what can be answered instead."""

    topic: str
    offer: str


_MISSING: tuple[tuple[re.Pattern[str], Missing], ...] = tuple(
    (re.compile(pattern), Missing(topic, offer))
    for pattern, topic, offer in (
        (
            r"\b(?:disk|storage) (?:space|usage|use|used|utili[sz]ation|full|left|free)\b|"
            r"\bfree (?:disk|space)\b|\bdisks? (?:are |is )?(?:full|filling)\b|"
            r"\bout of (?:disk|space)\b|\binodes?\b",
            "disk usage",
            "I can list block volumes with their sizes.",
        ),
        (
            r"\b(?:commits?|pull requests?|prs|merge requests?)\b",
            "commits or pull requests",
            "I can list repositories and deploy times of web services.",
        ),
        (
            r"\b(?:bandwidth|traffic|requests|visitors|page ?views|throughput|egress|ingress|"
            r"hits)\b",
            "traffic or bandwidth",
            "I can tell you which web services are running and their monitors' state.",
        ),
        (
            r"\b(?:latency|response times?|performance|slow|slowest|fastest|speed|ttfb|"
            r"load times?)\b",
            "performance or response times",
            "I can tell you which monitors are up or down.",
        ),
        (
            r"\buptime (?:percentage|percent|history|stats|statistics|sla|ratio)\b|\bsla\b|"
            r"\buptime\b.*\b(?:last|past|this|over the) (?:week|month|year|quarter|days)\b|"
            r"\bavailability\b|\bnines\b|\bhow long has .* been (?:up|down)\b|\bdowntime\b",
            "uptime history or percentages",
            "I can tell you each monitor's current state.",
        ),
        (
            r"\b(?:cost|costs|costing|price|prices|pricing|bill|billing|billed|invoices?|"
            r"spend|spending|expensive|cheap|cheaper|cheapest|money|dollars?|paying|pay)\b",
            "costs or billing",
            "The `usage` command shows what this assistant's AI use costs.",
        ),
        (
            r"\b(?:certs?|certificates?|ssl|tls)\b",
            "TLS certificates",
            "I can tell you about domains and, where a registrar date is known, their expiry.",
        ),
        (
            r"\b(?:updates?|patch(?:es|ed)?|patching|upgrades?|outdated|out of date|"
            r"up to date|vulnerab\w*|cves?|kernel|os versions?|operating systems?|unpatched|"
            r"security fixes)\b",
            "pending OS or package updates",
            "I can list your servers with their provider, region and status.",
        ),
        (
            r"\b(?:logs?|log lines|stack ?traces?)\b",
            "logs",
            "I can list open Sentry alerts.",
        ),
        (
            r"\b(?:dns records?|cname|mx records?|nameservers?|txt records?)\b",
            "DNS records",
            "I can list your domains (zones).",
        ),
        (
            r"\b(?:containers?|pods?|kubernetes|k8s|docker|processes)\b",
            "containers or processes",
            "I can list servers and web services.",
        ),
        (
            r"\b(?:ports?|firewalls?|security groups?)\b",
            "firewall rules or ports",
            "I can list servers with their provider, region and status.",
        ),
        (
            r"\b(?:database|db|postgres|mysql) backups?\b|\bbackups? of (?:my |the )?"
            r"(?:databases?|dbs?)\b",
            "database backups (it holds GridPane site backup schedules only)",
            "I can tell you which sites have backups on.",
        ),
        (
            r"\b(?:users|members|people|teammates|colleagues|who (?:else )?has access|"
            r"who can (?:see|access))\b",
            "people or their access in a way I can look up",
            'I can tell you who you are and your role: ask "who am I?".',
        ),
        (
            r"\b(?:cpus?|vcpus?|processors?|cores|load average|ram|memory|mem|swap|"
            r"utili[sz]ation|utili[sz]ed|resource usage|usage|overloaded|load)\b",
            "CPU or memory use",
            "Where a provider reports a server's size it is in that server's details: ask "
            "for a server by name.",
        ),
    )
)

_SECRETS = re.compile(
    r"\b(?:passwords?|passwd|credentials?|api ?keys?|tokens?|secrets?|ssh keys?|"
    r"private keys?|env(?:ironment)? var(?:iable)?s?|connection strings?)\b"
)

_PREAMBLE = re.compile(
    r"^(?:(?:hey|hi|ok|okay|so|please|now|then|and|can|could|would|will|you|i|we|need|"
    r"needs|want|wanna|to|go|ahead|just|help|me|how|do|let|us|lets|is|it|possible|"
    r"quickly|kindly|bot|stackdock|assistant|able|are|should|must)\s+)*"
)
_ACTION_VERBS = frozenset(
    {
        "delete",
        "remove",
        "destroy",
        "drop",
        "restart",
        "reboot",
        "start",
        "stop",
        "shut",
        "shutdown",
        "kill",
        "terminate",
        "halt",
        "deploy",
        "redeploy",
        "rollback",
        "roll",
        "revert",
        "scale",
        "resize",
        "upsize",
        "downsize",
        "upgrade",
        "downgrade",
        "update",
        "patch",
        "create",
        "spin",
        "provision",
        "launch",
        "add",
        "rename",
        "move",
        "migrate",
        "renew",
        "transfer",
        "buy",
        "register",
        "purchase",
        "cancel",
        "resolve",
        "ignore",
        "mute",
        "unmute",
        "silence",
        "snooze",
        "acknowledge",
        "ack",
        "pause",
        "unpause",
        "resume",
        "enable",
        "disable",
        "fix",
        "repair",
        "trigger",
        "run",
        "sync",
        "resync",
        "refresh",
        "rebuild",
        "purge",
        "clear",
        "flush",
        "attach",
        "detach",
        "mount",
        "unmount",
        "assign",
        "unassign",
        "close",
        "archive",
        "unarchive",
        "restore",
        "install",
        "uninstall",
        "configure",
        "change",
        "edit",
        "modify",
        "reset",
        "rotate",
        "revoke",
        "invite",
        "grant",
        "turn",
        "power",
        "tear",
        "clean",
        "wipe",
        "reinstall",
        "back",
    }
)
_ACTION = re.compile(r"(" + "|".join(sorted(_ACTION_VERBS)) + r")\b(?:\s+(\S+))?")
# A verb followed by one of these reads as a noun ("deploy times", "sync status").
_NOUN_AFTER = frozenset(
    {"status", "times", "time", "history", "schedule", "schedules", "state", "dates", "date",
     "frequency", "details", "report", "settings", "config", "log", "logs", "on", "for", "of",
     "ups", "errors", "failures", "source", "info", "information"}
)  # fmt: skip


_ALERTISH = frozenset({"the", "this", "that", "it", "alert", "alerts", "issue", "issues", "all"})


def missing_data(text: str) -> Missing | None:
    for pattern, missing in _MISSING:
        if pattern.search(text):
            return missing
    return None


def asks_secret(text: str) -> bool:
    return _SECRETS.search(text) is not None


def action_verb(text: str) -> str | None:
    """The change asked for ("restart"), when the question is a request to act."""
    rest = text[_PREAMBLE.match(text).end() :]  # type: ignore[union-attr]
    match = _ACTION.match(rest)
    if match is None:
        return None
    verb, following = match.group(1), match.group(2)
    if following in _NOUN_AFTER:
        return None
    if verb == "back" and following != "up":
        return None
    if verb == "ignore" and following not in _ALERTISH:
        return None  # "ignore previous instructions" is no request to mute an alert
    if verb in ("turn", "power", "tear", "clean", "spin", "shut", "roll", "back") and following:
        return f"{verb} {following}"
    return verb


_OTHER_ORGS = re.compile(
    r"\b(?:other|another|all|every|each|different|multiple|across|both|any other)\s+(?:the\s+)?"
    r"(?:orgs?|organi[sz]ations?|compan(?:y|ies)|tenants?|workspaces?|customers?)\b"
)
_ORG_NOUN = r"(?:org|organi[sz]ation|company|tenant|workspace)"
_NAMED_ORG = re.compile(
    rf"\b([a-z][\w-]*?)(?:'s)?\s+{_ORG_NOUN}\b|\b{_ORG_NOUN}\s+(?:called\s+|named\s+)?([a-z][\w-]*)"
)
_NOT_AN_ORG = frozenset(
    {"my", "our", "this", "the", "your", "current", "same", "which", "what", "an", "a", "whole",
     "entire", "its", "their", "that", "in", "of", "for", "is", "am", "i", "me", "and", "or",
     "per", "by", "other", "another", "all", "every", "each", "one", "own", "to", "with", "from",
     "on", "about", "as", "whose", "name", "names", "do", "does", "are", "have", "has",
     "see", "can", "s", "whats", "it", "data", "any"}
)  # fmt: skip


def other_org(text: str, own_org: str | None) -> str | None:
    """Another organisation the question names ("in the globex org"), or "other
    organisations" for all of them; None when only the asker's own is meant."""
    if _OTHER_ORGS.search(text):
        return "other organisations"
    own = set(re.findall(r"[a-z0-9]+", (own_org or "").lower()))
    for match in _NAMED_ORG.finditer(text):
        name = match.group(1) or match.group(2)
        if name and name not in _NOT_AN_ORG and name not in own and not known_word(name):
            return name
    return None
