"""A question read into a Query: what it asks, about which kind, with which filters.

The order of the checks is the policy: conversation (help, who am I) first, then what must be
declined (a change, a secret, another org, a cloud StackDock has no dock for, data it does not
hold), then what the data answers, most specific intent first. Whatever is left is "unsure",
answered by saying what was understood and asking, never by a list.
"""

from __future__ import annotations

import re

from core.providers.offline.boundaries import action_verb, asks_secret, missing_data, other_org
from core.providers.offline.query import Query
from core.providers.offline.terms import Terms, scan
from core.providers.offline.text import quoted_name, words
from core.providers.offline.vocabulary import PROVIDER_KINDS, kinds_with_status, label

PROBLEM_KINDS = frozenset({"docks", "monitors", "issues", "domains", "backupSchedules"})
SIZED_KINDS = ("blockVolumes", "buckets")
REGION_KINDS = ("servers", "blockVolumes", "buckets")
# Kinds a status asked of "anything" is looked for in (what people mean by "is anything down").
SCAN_KINDS = ("servers", "webServices", "monitors", "docks", "databases")

_HELP = re.compile(
    r"^(?:help|commands|\?)$|\bwhat (?:can|do) you (?:do|answer|know)\b|\bhow do i use\b|"
    r"\bwhat can i ask\b|\bwhat (?:questions|kind of questions)\b"
)
_GREETING = re.compile(
    r"^(?:hi|hello|hey|yo|hiya|howdy|greetings|good (?:morning|afternoon|evening)|sup|"
    r"what is up)(?: there| bot| stackdock| all| team)?$"
)
_THANKS = re.compile(
    r"^(?:ok |okay |great |cool |nice |perfect |awesome )?(?:thanks|thank you|cheers|"
    r"great|cool|nice|perfect|awesome|got it|ok|okay|ta|much appreciated)(?: a lot| so much)?"
    r"(?: .{0,20})?$"
)
_WHOAMI = re.compile(
    r"\bwho am i\b|\bwhat is my (?:role|name|org\w*|account)\b|\bmy (?:role|permissions)\b|"
    r"\bwhich (?:org\w*|company|account|workspace) (?:am i|is this|are we|do i)\b|"
    r"\bwhat (?:org\w*|company|account|workspace) (?:am i|is this|are we|do i)\b|"
    r"\blogged in as\b|\bdo you know (?:me|who i am)\b|\bwho are you talking to\b|"
    r"\bwhat can i (?:see|access|read)\b|\bam i an? (?:admin|owner)\b"
)
_COUNT = re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b|\bhow much (?!storage|space|disk)")
_TOTAL = re.compile(r"\btotal\b|\baltogether\b|\bin all\b")
_GROUP = re.compile(
    r"\b(?:by|per|for each|each|across|broken down by|grouped by|split by) "
    r"(provider|providers|cloud|clouds|status|statuses|state|region|regions|location|kind|"
    r"kinds|type|types|platform|vendor|language|languages)\b|"
    r"\b(provider|status|region|kind|type|language) breakdown\b|"
    r"\b(?:what|which) (languages|regions|locations|statuses)\b"
)
_BREAKDOWN = re.compile(r"\bbreak ?down\b|\bsplit\b")
_PROVIDERS_OF = re.compile(
    r"\b(?:which|what) (?:cloud |hosting )?(?:providers|clouds|platforms|vendors|hosts)\b|"
    r"\bwhere (?:are|is) (?:my |our |the )?(?:\w+ ){0,2}hosted\b|\bwho hosts\b|"
    r"\bproviders? (?:do|am|are) (?:i|we) (?:use|using|have|on)\b"
)
_SIZE = re.compile(
    r"\b(?:biggest|largest|smallest|bigger|larger|smaller|how big|how large|sizes?|"
    r"capacity|how much (?:storage|space|disk)|total storage|most objects|fewest objects|"
    r"most space|least space|gb|tb)\b"
)
_RANKED = re.compile(
    r"\b(?:biggest|largest|smallest|bigger|larger|smaller|most|fewest|least|top)\b"
)
_SMALL = re.compile(r"\b(?:smallest|smaller|fewest|least)\b")
_EXPIRY = re.compile(r"\b(?:expir\w*|renew\w*|lapse\w*|run out)\b|\bdue (?:for|to)\b")
_DEPLOY = re.compile(
    r"\b(?:deployed|deploys|deploy|redeployed|shipped|ship|ships|released|went live|pushed|"
    r"go live|went out)\b|"
    r"\b(?:last|latest|recent|newest|oldest) deployments?\b|\bdeployments? (?:time|date)s?\b"
)
_DEPLOY_TIME = re.compile(r"\b(?:last|latest|recent|recently|newest|oldest|when|stale|ago)\b")
_STALE = re.compile(
    r"\b(?:not|never|no|nothing|without) (?:\w+ ){0,3}(?:recently|lately|in (?:a )?while|"
    r"for (?:a )?while)\b|\bstale\b|\boldest\b|\blongest\b|\bin ages\b|\bhaven?t\b.*\bdeploy"
)
_RECENT = re.compile(r"\b(?:recent|recently|latest|newest|last|lately|most recently)\b")
_BACKED_UP = re.compile(r"\bbacked up\b|\bbacking up\b")
_PROBLEMS = re.compile(
    r"\b(?:problems?|wrong|attention|urgent|incidents?|on fire|fires|worry|worried|concerns?|"
    r"alarms?|critical|need(?:s)? (?:looking|fixing)|anything (?:i|we) should know|"
    r"should (?:i|we) know|going on|burning|bad)\b"
)
_OVERVIEW = re.compile(
    r"\b(?:status|summary|summari[sz]e|overview|sitrep|health|healthy|at a glance|"
    r"state)\b|\bhow (?:is|are) (?:things|everything|we|my infra\w*|it going|stuff)\b|"
    r"\b(?:everything|all) (?:ok|okay|good|fine|well|alright)\b|\ball good\b|\ball (?:my |our |the )?(?:stuff|things)\b|"
    r"\bwhat (?:do|have) (?:i|we) (?:got|have)\b|\beverything\b|\binfra(?:structure)?\b|"
    r"\ball (?:my |our |the )?resources\b"
)
_ENGINES = re.compile(
    r"\bengines?\b|\bwhat (?:kind|kinds|type|types|sort) of (?:databases?|dbs?)\b|"
    r"\b(?:databases?|db) (?:types?|technolog\w+|flavou?rs?)\b"
)
_SYNC = re.compile(
    r"\b(?:last|latest) (?:synced|sync|syncs|synchroni[sz]ed)\b|\bwhen did .* sync\b|"
    r"\bhow (?:fresh|stale|old|current|up-to-date) is (?:the |my |this )?data\b|"
    r"\bdata (?:freshness|age)\b|\bwhen was .* synced\b|\bsync times?\b"
)
_DETAIL = re.compile(
    r"\b(?:details?|describe|tell me (?:more )?about|information (?:on|about|for)|"
    r"what is|what about|how about|how is|status of|more about|look ?up|about)\b"
)
_NAME_FILTER = re.compile(
    r"\b(?:named|called|containing|contains|matching|match|like|with)\s+\S+|"
    r"\bin (?:the|their|its) names?\b|\bnames? (?:contain|containing|with|like)\b"
)
_NAME_LEAD = frozenset(
    {"about", "named", "called", "is", "was", "of", "for", "show", "me", "describe", "find",
     "lookup", "up", "does", "did", "has", "on", "where", "containing", "matching", "like",
     "see", "check", "view", "get", "and", "the", "my", "our"}
)  # fmt: skip
_WORST = re.compile(r"\b(?:worst|most (?:severe|critical|serious|important|urgent))\b")
_HEALTH = re.compile(r"\b(?:ok|okay|fine|good|healthy|alright|all right|working|happy)\b")
_WINDOW = re.compile(
    r"\b(?:in|within|next|over|the next|coming|in the next|last|past|the last|in the last)\s+"
    r"(\d{1,4}|a|one|two|three|four|six|a couple of)\s+(day|days|week|weeks|month|months|year|"
    r"years)\b"
)
_ONE_UNIT = re.compile(
    r"\b(?:in |during |over )?the (last|past|next|coming) (day|week|month|year)\b"
)
_NAMED_WINDOWS = (
    (re.compile(r"\btoday\b"), 1, "today"),
    (re.compile(r"\btomorrow\b"), 2, "by tomorrow"),
    (re.compile(r"\bthis week\b"), 7, "this week"),
    (re.compile(r"\bnext week\b"), 14, "by the end of next week"),
    (re.compile(r"\bthis month\b"), 31, "this month"),
    (re.compile(r"\bnext month\b"), 62, "by the end of next month"),
    (re.compile(r"\bthis year\b"), 366, "this year"),
    (re.compile(r"\bthis quarter\b"), 92, "this quarter"),
)
_NUMBER_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "a couple of": 2}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_TOP = re.compile(r"\b(?:top|first|biggest|largest|smallest|last|oldest|newest)\s+(\d{1,2})\b")
_REFERS_BACK = re.compile(
    r"\b(?:those|them|these|they|the ones|that one|this one|which one|same ones|"
    r"of it|it|its)\b|\bone\s*$"
)
_ALL = re.compile(
    r"\b(?:are|is|were) (?:all|every|each)\b|\ball (?:of )?(?:my |our |the )?\w+ (?:are|still)\b"
)
_YES_NO = re.compile(r"^(?:is|does|has|was|did|can)\b")
_YES_NO_ALL = re.compile(r"^(?:is|are|were|was)\b(?!.*\b(?:any|there|some)\b)|" + _ALL.pattern)
_EXPLICIT = re.compile(
    r"\b(?:which|list|show|what are|display|give me|name|names|enumerate|how many|count|"
    r"number of)\b"
)
_FOLLOWUP_LEAD = re.compile(
    r"^(?:and|what about|how about|same for|same with|also|only|just|or|then|now|ok and|"
    r"okay and|but|what of|and what about|and how about|of which|out of which)\b"
)


def read(question: str, own_org: str | None = None) -> Query:
    terms = scan(question)
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
    name, qualifier = _name(terms, question, text)
    window_days, window_label = _window(text)
    top = _TOP.search(text)
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
        followup=bool(_FOLLOWUP_LEAD.search(text) or _REFERS_BACK.search(text))
        or _elliptical(terms, kinds, name),
        refers_back=bool(_REFERS_BACK.search(text)),
        explicit=bool(_EXPLICIT.search(text)),
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
        and bool(filters or _GROUP.search(terms.text))
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


def _name(terms: Terms, question: str, text: str) -> tuple[str | None, bool]:
    """A resource name, and whether it qualifies a kind ("globex servers") rather than
    naming one resource."""
    if terms.names:
        name = terms.names[0]
        return _as_typed(question, name), _qualifies(terms, name.lower())
    if not terms.unknown_at:
        return None, False
    runs: list[list[int]] = []
    for position in terms.unknown_at:
        if runs and position == runs[-1][-1] + 1 and len(runs[-1]) < 4:
            runs[-1].append(position)
        else:
            runs.append([position])
    alone = len(runs) == 1 and len(terms.words) == len(runs[0])  # the question is the name
    best: tuple[int, list[int]] | None = None
    for run in runs:
        first, last = run[0], run[-1]
        before = terms.words[first - 1] if first else ""
        if first - 1 >= 0 and last + 1 in terms.kind_at and first - 1 not in terms.kind_at:
            rank = 3 if before not in _NAME_LEAD else 2  # "globex servers": qualifies the kind
        elif first - 1 in terms.kind_at:
            rank = 2  # "server zzz": names one
        elif before in _NAME_LEAD:
            rank = 1
        elif alone or last + 1 in terms.kind_at:
            rank = 0
        else:
            continue
        if best is None or rank > best[0]:
            best = (rank, run)
    if best is None:
        return None, False
    rank, run = best
    first, last = run[0], run[-1]
    span = " ".join(terms.words[first : last + 1])
    qualifier = last + 1 in terms.kind_at and first - 1 not in terms.kind_at
    yes_no = _YES_NO.search(text) is not None  # "is the Search API monitor ok": that one
    return _as_typed(question, span), qualifier and not _DETAIL.search(text) and not yes_no


def _qualifies(terms: Terms, name: str) -> bool:
    """A name-shaped word right before a kind filters it ("acme-web servers")."""
    positions = [i for i, w in enumerate(terms.words) if w == name]
    return any(at - 1 in positions for at in terms.kind_at) and "." not in name


def _as_typed(question: str, name: str) -> str:
    pattern = r"[\s\-_]+".join(re.escape(part) for part in name.split())
    match = re.search(pattern, question, re.IGNORECASE)
    return match.group(0) if match else name


def _group_by(text: str) -> str | None:
    match = _GROUP.search(text)
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


def _window(text: str) -> tuple[int | None, str | None]:
    match = _WINDOW.search(text)
    if match:
        amount = match.group(1)
        n = int(amount) if amount.isdigit() else _NUMBER_WORDS[amount]
        unit = match.group(2).rstrip("s")
        days = n * _UNIT_DAYS[unit]
        plural = "" if n == 1 else "s"
        past = match.group(0).split()[0] in ("last", "past", "the") and "next" not in match.group(0)
        phrase = f"in the last {n} {unit}{plural}" if past else f"within {n} {unit}{plural}"
        return days, phrase
    match = _ONE_UNIT.search(text)
    if match:
        when, unit = match.group(1), match.group(2)
        past = when in ("last", "past")
        return _UNIT_DAYS[unit], f"in the last {unit}" if past else f"within a {unit}"
    for pattern, days, phrase in _NAMED_WINDOWS:
        if pattern.search(text):
            return days, phrase
    if re.search(r"\bsoon\b|\bupcoming\b|\bcoming up\b", text):
        return 30, "within 30 days"
    return None, None


def _boundary(terms: Terms, text: str, base: Query, own_org: str | None) -> Query | None:
    """A request the bot must decline, with what it is about; None when it may answer."""
    if _HELP.search(text):
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
    if _HELP.search(text):
        return Query("help")
    if _WHOAMI.search(text):
        return Query("whoami")
    if _GREETING.search(text):
        return Query("greeting")
    recognised = q.kind or q.provider or q.status_class or q.region or q.name
    if not recognised and _THANKS.search(text):
        return Query("thanks")
    kind = q.kind
    if "backupSchedules" in q.kinds or _BACKED_UP.search(text):
        return q.replace(intent="backups", kind="backupSchedules", also=())
    if _EXPIRY.search(text) and kind in (None, "domains"):
        return q.replace(intent="expiry", kind="domains", window_days=q.window_days or 30,
                         window_label=q.window_label or "within 30 days")  # fmt: skip
    if _EXPIRY.search(text):
        return Query("refuse_data", kind=kind, topic=f"expiry dates for {kind}",
                     notes=("It tracks expiry only for domains.",))  # fmt: skip
    deploy_kind = kind in (None, "webServices") or (
        kind == "deployments" and _DEPLOY_TIME.search(text)
    )
    if _DEPLOY.search(text) and deploy_kind:
        return _deploys(q, text)
    if _SIZE.search(text):
        return _size(q, text)
    if _SYNC.search(text):
        return q.replace(intent="sync", kind="docks")
    if (
        q.name
        and not q.kind
        and not q.name_is_qualifier
        and (_COUNT.search(text) or _PROVIDERS_OF.search(text))
    ):
        return q.replace(intent="find")  # "where is acme-assets hosted": that one, whole
    if _PROVIDERS_OF.search(text):
        return q.replace(intent="count", group_by="provider", also=())
    if _ENGINES.search(text):
        return q.replace(intent="engines", kind="databases")
    if q.engine and kind in (None, "databases"):
        return q.replace(intent="count" if _COUNT.search(text) else "list", kind="databases")
    if _COUNT.search(text) or (_TOTAL.search(text) and kind):
        return _count(q, text)
    if kind and not q.name and _YES_NO_ALL.search(text):
        health = _HEALTH.search(text)
        if q.status_class or health:
            word = q.status_word or (health.group(0) if health else None)
            return q.replace(intent="all", status_class=q.status_class or "ok", status_word=word)
    if q.group_by or (_BREAKDOWN.search(text) and not q.name):
        return q.replace(intent="count", group_by=q.group_by or ("status" if kind else "kind"))
    return _lookup(terms, text, q)


def _deploys(q: Query, text: str) -> Query:
    stale = bool(_STALE.search(text))
    order = None if stale else ("newest" if _RECENT.search(text) and not q.window_days else None)
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
    order = ("smallest" if _SMALL.search(text) else "largest") if _RANKED.search(text) else None
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
    problem_cue = bool(_PROBLEMS.search(text)) or ("issues" in terms.weak_kinds and q.kind is None)
    if q.kind == "issues" and _WORST.search(text):
        return q.replace(intent="list", order="severity", top=q.top or 1,
                         status_class=q.status_class or "open",
                         status_word=q.status_word or "open")  # fmt: skip
    if q.kind == "issues" and q.name and not q.severity:
        return q.replace(intent="list", name_is_qualifier=True)  # by title or Sentry project
    if q.name and not q.name_is_qualifier and not _NAME_FILTER.search(text):
        if q.kind is None and (q.provider or q.region):
            q = q.replace(name=None, name_is_qualifier=False)  # "acme" in "acme on vercel"
        else:
            if not q.status_class and (health := _HEALTH.search(text)):
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
    if _OVERVIEW.search(text):
        return q.replace(intent="overview")
    if q.severity:
        return q.replace(intent="problems")
    if q.name:
        return q.replace(intent="find")
    return q.replace(intent="unsure")
