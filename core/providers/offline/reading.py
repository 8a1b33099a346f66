"""A question read into a Query: what it asks, about which kind, with which filters.

The order of the checks is the policy: conversation (help, who am I) first, then what must be
declined (a change, a secret, another org, a cloud StackDock has no dock for, data it does not
hold), then what the data answers, most specific intent first. Whatever is left is "unsure",
answered by saying what was understood and asking, never by a list.
"""

from __future__ import annotations

import re

from core.providers.offline.boundaries import action_verb, asks_secret, missing_data, other_org
from core.providers.offline.cues import (
    BACKED_UP,
    BREAKDOWN,
    COUNT,
    DEPLOY,
    DEPLOY_TIME,
    ENGINES,
    EXPIRY,
    EXPLICIT,
    FOLLOWUP_LEAD,
    GREETING,
    GROUP,
    HEALTH,
    HELP,
    NAME_FILTER,
    OVERVIEW,
    PROBLEMS,
    PROVIDERS_OF,
    RANKED,
    RECENT,
    REFERS_BACK,
    SIZE,
    SMALL,
    STALE,
    SYNC,
    THANKS,
    TOP,
    TOTAL,
    WHOAMI,
    WORST,
    YES_NO_ALL,
    window,
)
from core.providers.offline.naming import drop_own_org, name_in
from core.providers.offline.query import Query
from core.providers.offline.terms import Terms, scan
from core.providers.offline.text import quoted_name, words
from core.providers.offline.vocabulary import PROVIDER_KINDS, kinds_with_status, label

PROBLEM_KINDS = frozenset({"docks", "monitors", "issues", "domains", "backupSchedules"})
SIZED_KINDS = ("blockVolumes", "buckets")
REGION_KINDS = ("servers", "blockVolumes", "buckets")
# Kinds a status asked of "anything" is looked for in (what people mean by "is anything down").
SCAN_KINDS = ("servers", "webServices", "monitors", "docks", "databases")


def read(question: str, own_org: str | None = None) -> Query:
    terms = scan(question)
    drop_own_org(terms, own_org)
    text = terms.text
    if not text:
        return Query("unsure")
    # A quoted name is data, not the question's wording: "Slow query" is an alert's title.
    quoted = quoted_name(question)
    plain = " ".join(words(question.replace(quoted, " "))) if quoted else text
    # A name is data too: "acme-logs" is a bucket, not a question about logs.
    named = {n.lower() for n in terms.names}
    plain = " ".join(w for w in plain.split() if w not in named)
    base = _base(terms, question, plain)
    refusal = _boundary(terms, plain, base, own_org)
    if refusal is not None:
        return refusal
    return _intent(terms, question, plain, base)


def _base(terms: Terms, question: str, text: str) -> Query:
    """The filters, before the intent is known."""
    kinds = list(terms.kinds)
    statuses = list(terms.statuses)
    if not kinds and terms.weak_kinds and _weak_kind_counts(terms, text):
        kinds = list(terms.weak_kinds)
        statuses = [s for s in statuses if s[0] != "errors"]  # it named the kind
    provider = terms.providers[0] if terms.providers else None
    if "deployments" in kinds and (
        (provider and provider not in ("convex",)) or "webServices" in kinds
    ):
        kinds = ["webServices" if k == "deployments" else k for k in kinds]
    if provider and "projects" in kinds and "projects" not in PROVIDER_KINDS.get(provider, ()):
        kinds = [k for k in kinds if k != "projects"]  # "vercel projects" are its apps
    if not kinds and provider and len(PROVIDER_KINDS.get(provider, ())) == 1:
        kinds = list(PROVIDER_KINDS[provider])
    kinds = list(dict.fromkeys(kinds))
    severities = list(terms.severities)
    if kinds[:1] == ["issues"] and statuses and statuses[0][1] == "failing":
        severities = ["high", *severities]  # an "error alert" is Sentry's error level
        statuses = statuses[1:]
    word, status_class = statuses[0] if statuses else (None, None)
    if len({c for _, c in statuses}) > 1 and {c for _, c in statuses} <= {"off", "failing", "down"}:
        word, status_class = " or ".join(w for w, _ in statuses), "down"
    name, qualifier = name_in(terms, question, text)
    window_days, window_label = window(text)
    top = TOP.search(text)
    return Query(
        intent="list",
        kind=kinds[0] if kinds else None,
        also=tuple(kinds[1:]),
        provider=provider,
        status_class=status_class,
        status_word=word,
        region=terms.regions[0] if terms.regions else None,
        not_provider=terms.not_providers[0] if terms.not_providers else None,
        not_region=terms.not_regions[0] if terms.not_regions else None,
        name=name,
        name_is_qualifier=qualifier,
        severity=severities[0] if severities else None,
        private=_visibility(text) if "repositories" in kinds else None,
        engine=terms.engines[0] if terms.engines else None,
        group_by=_group_by(text),
        top=int(top.group(1)) if top else None,
        window_days=window_days,
        window_label=window_label,
        unknown=tuple(w for w in terms.unknown if name is None or w not in name.lower()),
        followup=bool(FOLLOWUP_LEAD.search(text) or REFERS_BACK.search(text))
        or _elliptical(terms, kinds, name),
        refers_back=bool(REFERS_BACK.search(text)),
        explicit=bool(EXPLICIT.search(text)),
        kind_named=bool(kinds) and bool(terms.kinds or terms.weak_kinds),
        said=text,
    )


def _elliptical(terms: Terms, kinds: list[str], name: str | None) -> bool:
    """A few words with a filter and nothing to filter ("by provider?", "in fra1?"): they
    only make sense as a follow-up ("is anything offline" says its own scope)."""
    filters = terms.statuses or terms.regions or terms.providers or terms.severities
    scoped = re.search(r"\b(?:anything|everything|something|nothing|all|any)\b", terms.text)
    return (
        len(terms.words) <= 4
        and not kinds
        and not name
        and not scoped
        and bool(filters or GROUP.search(terms.text))
    )


def _visibility(text: str) -> bool | None:
    if re.search(r"\bprivate\b", text):
        return True
    return False if re.search(r"\bpublic\b", text) else None


def _weak_kind_counts(terms: Terms, text: str) -> bool:
    """ "errors" and "bugs" name alerts; "issues" does only when it is plainly Sentry's."""
    if "errors" in terms.words or "bugs" in terms.words:
        return True
    return "sentry" in terms.providers or bool(
        re.search(r"\b(?:open|resolved|ignored|unresolved|sentry) issues\b", text)
    )


def _group_by(text: str) -> str | None:
    match = GROUP.search(text)
    if match is None:
        return None
    word = next(group for group in match.groups() if group)
    if word.startswith(("provider", "cloud", "platform", "vendor")):
        return "provider"
    if word.startswith(("status", "state")):
        return "status"
    if word.startswith(("region", "location")):
        return "region"
    if word.startswith("language"):
        return "language"
    return "kind"


def _boundary(terms: Terms, text: str, base: Query, own_org: str | None) -> Query | None:
    """A request the bot must decline, with what it is about; None when it may answer."""
    if HELP.search(text):
        return None
    if asks_secret(text):
        return Query("refuse_secret", kind=base.kind, name=base.name)
    verb = action_verb(text)
    if verb is not None:
        return Query("refuse_action", kind=base.kind, name=base.name, topic=verb)
    org = other_org(text, own_org)
    if org is not None:
        return Query("refuse_org", kind=base.kind, topic=org)
    if terms.foreign and not terms.providers:
        return Query("refuse_provider", kind=base.kind, topic=terms.foreign[0])
    missing = missing_data(text)
    if missing is not None:
        spec = missing.topic == "CPU or memory use" and base.name and base.kind != "domains"
        if spec and not re.search(r"\b(?:usage|utili[sz]\w+|load|used|high|low)\b", text):
            return base.replace(intent="detail", topic="size-spec")  # its size, not its use
        return Query("refuse_data", kind=base.kind, topic=missing.topic, notes=(missing.offer,))
    return None


def _intent(terms: Terms, question: str, text: str, q: Query) -> Query:
    query = _intended(terms, question, text, q)
    if query.unknown and query.intent in ("list", "count", "all"):
        # A word that could be a filter and was not understood: ask, never list without it
        return query.replace(intent="unsure")
    return query


def _intended(terms: Terms, question: str, text: str, q: Query) -> Query:
    if HELP.search(text):
        return Query("help")
    if WHOAMI.search(text):
        return Query("whoami")
    if GREETING.search(text):
        return Query("greeting")
    recognised = q.kind or q.provider or q.status_class or q.region or q.name
    if not recognised and THANKS.search(text):
        return Query("thanks")
    kind = q.kind
    if "backupSchedules" in q.kinds or BACKED_UP.search(text):
        return q.replace(intent="backups", kind="backupSchedules", also=())
    if EXPIRY.search(text) and kind in (None, "domains"):
        return q.replace(intent="expiry", kind="domains", window_days=q.window_days or 30,
                         window_label=q.window_label or "within 30 days")  # fmt: skip
    if EXPIRY.search(text):
        return Query("refuse_data", kind=kind, topic=f"expiry dates for {kind}",
                     notes=("It tracks expiry only for domains.",))  # fmt: skip
    deploy_kind = kind in (None, "webServices") or (
        kind == "deployments" and DEPLOY_TIME.search(text)
    )
    if DEPLOY.search(text) and deploy_kind:
        return _deploys(q, text)
    if SIZE.search(text):
        return _size(q, text)
    if SYNC.search(text):
        return q.replace(intent="sync", kind="docks")
    if (
        q.name
        and not q.kind
        and not q.name_is_qualifier
        and (COUNT.search(text) or PROVIDERS_OF.search(text))
    ):
        return q.replace(intent="find")  # "where is acme-assets hosted": that one, whole
    if PROVIDERS_OF.search(text):
        return q.replace(intent="count", group_by="provider", also=())
    if ENGINES.search(text):
        return q.replace(intent="engines", kind="databases")
    if q.engine and kind in (None, "databases"):
        return q.replace(intent="count" if COUNT.search(text) else "list", kind="databases")
    if COUNT.search(text) or (TOTAL.search(text) and kind):
        return _count(q, text)
    if kind and not q.name and YES_NO_ALL.search(text):
        health = HEALTH.search(text)
        if q.status_class or health:
            word = q.status_word or (health.group(0) if health else None)
            return q.replace(intent="all", status_class=q.status_class or "ok", status_word=word)
    if q.group_by or (BREAKDOWN.search(text) and not q.name):
        return q.replace(intent="count", group_by=q.group_by or ("status" if kind else "kind"))
    return _lookup(terms, text, q)


def _deploys(q: Query, text: str) -> Query:
    stale = bool(STALE.search(text))
    order = None if stale else ("newest" if RECENT.search(text) and not q.window_days else None)
    if q.window_days and re.search(r"\b(?:not|no|never|without)\b", text):
        stale = True
    return q.replace(intent="deploys", kind="webServices", also=(), stale=stale, order=order)


def _size(q: Query, text: str) -> Query:
    kinds = tuple(k for k in q.kinds if k in SIZED_KINDS)
    if q.kind and not kinds and not q.name:
        return Query(
            "refuse_data",
            kind=q.kind,
            topic=f"sizes of {label(q.kind)}",
            notes=("It holds sizes only for block volumes and buckets.",),
        )
    # "how big is X", "how much storage": sizes and totals, not a ranking
    order = ("smallest" if SMALL.search(text) else "largest") if RANKED.search(text) else None
    kind = kinds[0] if kinds else (q.kind if q.name else None)
    also = kinds[1:] if kinds else (() if q.name else SIZED_KINDS)
    return q.replace(intent="size", kind=kind, also=also, order=order)


def _count(q: Query, text: str) -> Query:
    if q.kind is None and q.status_class and not q.provider:
        kinds = kinds_with_status(q.status_class)
        scan_kinds = tuple(k for k in SCAN_KINDS if k in kinds)
        return q.replace(intent="count", kind=scan_kinds[0] if scan_kinds else None,
                         also=scan_kinds[1:])  # fmt: skip
    if q.kind is None and q.provider:
        kinds = PROVIDER_KINDS.get(q.provider, ())
        return q.replace(intent="count", kind=kinds[0] if kinds else None, also=kinds[1:])
    if q.kind is None and q.region:
        return q.replace(intent="count", kind=REGION_KINDS[0], also=REGION_KINDS[1:])
    return q.replace(intent="count")


def _lookup(terms: Terms, text: str, q: Query) -> Query:
    """Lists, single resources, problems and the overview: what is left once the specific
    intents have had their turn."""
    problem_cue = bool(PROBLEMS.search(text)) or ("issues" in terms.weak_kinds and q.kind is None)
    if q.kind == "issues" and WORST.search(text):
        return q.replace(intent="list", order="severity", top=q.top or 1,
                         status_class=q.status_class or "open",
                         status_word=q.status_word or "open")  # fmt: skip
    if q.kind == "issues" and q.name and not q.severity:
        return q.replace(intent="list", name_is_qualifier=True)  # by title or Sentry project
    if q.name and not q.name_is_qualifier and not NAME_FILTER.search(text):
        if q.kind is None and (q.provider or q.region):
            q = q.replace(name=None, name_is_qualifier=False)  # "acme" in "acme on vercel"
        else:
            if not q.status_class and (health := HEALTH.search(text)):
                q = q.replace(status_class="ok", status_word=health.group(0))
            return q.replace(intent="detail" if q.kind else "find")
    if q.kind == "issues" and q.severity:  # "critical alerts": the alerts, not the problems
        return q.replace(status_class=q.status_class or "open",
                         status_word=q.status_word or "open")  # fmt: skip
    if q.kind:
        if problem_cue and not q.status_class and q.kind in PROBLEM_KINDS:
            return q.replace(intent="problems")
        if problem_cue and not q.status_class:
            return q.replace(intent="list", status_class="down", status_word="stopped or failing")
        return q
    if q.status_class and not q.provider:
        kinds = kinds_with_status(q.status_class)
        scan_kinds = tuple(k for k in SCAN_KINDS if k in kinds) or kinds
        return q.replace(intent="list", kind=scan_kinds[0], also=scan_kinds[1:])
    if problem_cue:
        return q.replace(intent="problems")
    if q.provider:
        kinds = PROVIDER_KINDS.get(q.provider, ())
        return q.replace(intent="list", kind=kinds[0] if kinds else None, also=kinds[1:])
    if q.region:
        return q.replace(intent="list", kind=REGION_KINDS[0], also=REGION_KINDS[1:])
    if OVERVIEW.search(text):
        return q.replace(intent="overview")
    if q.severity:
        return q.replace(intent="problems")
    if q.name:
        return q.replace(intent="find")
    return q.replace(intent="unsure")
