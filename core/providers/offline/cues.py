"""The words that say what a question asks: its intent's cues, and the time windows it names.

Patterns run on the normalised question (text.words joined by spaces): lowercase, chat
shorthand spelled out ("whats" is "what is"), so each is written once for every spelling.
"""

from __future__ import annotations

import re

HELP = re.compile(
    r"^(?:help|commands|\?)$|\bwhat (?:can|do) you (?:do|answer|know)\b|\bhow do i use\b|"
    r"\bwhat can i ask\b|\bwhat (?:questions|kind of questions)\b"
)
GREETING = re.compile(
    r"^(?:hi|hello|hey|yo|hiya|howdy|greetings|good (?:morning|afternoon|evening)|sup|"
    r"what is up)(?: there| bot| stackdock| all| team)?$"
)
THANKS = re.compile(
    r"^(?:ok |okay |great |cool |nice |perfect |awesome )?(?:thanks|thank you|cheers|"
    r"great|cool|nice|perfect|awesome|got it|ok|okay|ta|much appreciated)(?: a lot| so much)?"
    r"(?: .{0,20})?$"
)
WHOAMI = re.compile(
    r"\bwho am i\b|\bwhat is my (?:role|name|org\w*|account)\b|\bmy (?:role|permissions)\b|"
    r"\bwhich (?:org\w*|company|account|workspace) (?:am i|is this|are we|do i)\b|"
    r"\bwhat (?:org\w*|company|account|workspace) (?:am i|is this|are we|do i)\b|"
    r"\blogged in as\b|\bdo you know (?:me|who i am)\b|\bwho are you talking to\b|"
    r"\bwhat can i (?:see|access|read)\b|\bam i an? (?:admin|owner)\b"
)
COUNT = re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b|\bhow much (?!storage|space|disk)")
TOTAL = re.compile(r"\btotal\b|\baltogether\b|\bin all\b")
GROUP = re.compile(
    r"\b(?:by|per|for each|each|across|broken down by|grouped by|split by) "
    r"(provider|providers|cloud|clouds|status|statuses|state|region|regions|location|kind|"
    r"kinds|type|types|platform|vendor|language|languages)\b|"
    r"\b(provider|status|region|kind|type|language) breakdown\b|"
    r"\b(?:what|which) (languages|regions|locations|statuses)\b"
)
BREAKDOWN = re.compile(r"\bbreak ?down\b|\bsplit\b")
PROVIDERS_OF = re.compile(
    r"\b(?:which|what) (?:cloud |hosting )?(?:providers|clouds|platforms|vendors|hosts)\b|"
    r"\bwhere (?:are|is) (?:my |our |the )?(?:\w+ ){0,2}hosted\b|\bwho hosts\b|"
    r"\bproviders? (?:do|am|are) (?:i|we) (?:use|using|have|on)\b"
)
SIZE = re.compile(
    r"\b(?:biggest|largest|smallest|bigger|larger|smaller|how big|how large|sizes?|"
    r"capacity|how much (?:storage|space|disk)|total storage|most objects|fewest objects|"
    r"most space|least space|gb|tb)\b"
)
RANKED = re.compile(r"\b(?:biggest|largest|smallest|bigger|larger|smaller|most|fewest|least|top)\b")
SMALL = re.compile(r"\b(?:smallest|smaller|fewest|least)\b")
EXPIRY = re.compile(r"\b(?:expir\w*|renew\w*|lapse\w*|run out)\b|\bdue (?:for|to)\b")
DEPLOY = re.compile(
    r"\b(?:deployed|deploys|deploy|redeployed|shipped|ship|ships|released|went live|pushed|"
    r"go live|went out)\b|"
    r"\b(?:last|latest|recent|newest|oldest) deployments?\b|\bdeployments? (?:time|date)s?\b"
)
DEPLOY_TIME = re.compile(r"\b(?:last|latest|recent|recently|newest|oldest|when|stale|ago)\b")
STALE = re.compile(
    r"\b(?:not|never|no|nothing|without) (?:\w+ ){0,3}(?:recently|lately|in (?:a )?while|"
    r"for (?:a )?while)\b|\bstale\b|\boldest\b|\blongest\b|\bin ages\b|\bhaven?t\b.*\bdeploy"
)
RECENT = re.compile(r"\b(?:recent|recently|latest|newest|last|lately|most recently)\b")
BACKED_UP = re.compile(r"\bbacked up\b|\bbacking up\b")
PROBLEMS = re.compile(
    r"\b(?:problems?|wrong|attention|urgent|incidents?|on fire|fires|worry|worried|concerns?|"
    r"alarms?|critical|need(?:s)? (?:looking|fixing)|to fix|fixing|anything (?:i|we) should know|"
    r"should (?:i|we) know|going on|burning|bad)\b"
)
OVERVIEW = re.compile(
    r"\b(?:status|summary|summari[sz]e|overview|sitrep|health|healthy|at a glance|"
    r"state)\b|\bhow (?:is|are) (?:things|everything|we|my infra\w*|it going|stuff)\b|"
    r"\b(?:everything|all) (?:ok|okay|good|fine|well|alright)\b|\ball good\b|\ball (?:my |our |the )?(?:stuff|things)\b|"
    r"\bwhat (?:do|have) (?:i|we) (?:got|have)\b|\beverything\b|\binfra(?:structure)?\b|"
    r"\ball (?:my |our |the )?resources\b"
)
ENGINES = re.compile(
    r"\bengines?\b|\bwhat (?:kind|kinds|type|types|sort) of (?:databases?|dbs?)\b|"
    r"\b(?:databases?|db) (?:types?|technolog\w+|flavou?rs?)\b"
)
SYNC = re.compile(
    r"\b(?:last|latest) (?:synced|sync|syncs|synchroni[sz]ed)\b|\bwhen did .* sync\b|"
    r"\bhow (?:fresh|stale|old|current|up-to-date) is (?:the |my |this )?data\b|"
    r"\bdata (?:freshness|age)\b|\bwhen was .* synced\b|\bsync times?\b"
)
DETAIL = re.compile(
    r"\b(?:details?|describe|tell me (?:more )?about|information (?:on|about|for)|"
    r"what is|what about|how about|how is|status of|more about|look ?up|about)\b"
)
NAME_FILTER = re.compile(
    r"\b(?:named|called|containing|contains|matching|match|like|with)\s+\S+|"
    r"\bin (?:the|their|its) names?\b|\bnames? (?:contain|containing|with|like)\b"
)
NAME_LEAD = frozenset(
    {"about", "named", "called", "is", "was", "of", "for", "show", "me", "describe", "find",
     "lookup", "up", "does", "did", "has", "on", "where", "containing", "matching", "like",
     "see", "check", "view", "get", "and", "the", "my", "our"}
)  # fmt: skip
WORST = re.compile(r"\b(?:worst|most (?:severe|critical|serious|important|urgent))\b")
HEALTH = re.compile(r"\b(?:ok|okay|fine|good|healthy|alright|all right|working|happy)\b")
WINDOW = re.compile(
    r"\b(?:in|within|next|over|the next|coming|in the next|last|past|the last|in the last)\s+"
    r"(\d{1,4}|a|one|two|three|four|six|a couple of)\s+(day|days|week|weeks|month|months|year|"
    r"years)\b"
)
ONE_UNIT = re.compile(
    r"\b(?:in |during |over )?the (last|past|next|coming) (day|week|month|year)\b"
)
NAMED_WINDOWS = (
    (re.compile(r"\btoday\b"), 1, "today"),
    (re.compile(r"\btomorrow\b"), 2, "by tomorrow"),
    (re.compile(r"\bthis week\b"), 7, "this week"),
    (re.compile(r"\bnext week\b"), 14, "by the end of next week"),
    (re.compile(r"\bthis month\b"), 31, "this month"),
    (re.compile(r"\bnext month\b"), 62, "by the end of next month"),
    (re.compile(r"\bthis year\b"), 366, "this year"),
    (re.compile(r"\bthis quarter\b"), 92, "this quarter"),
)
NUMBER_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "a couple of": 2}
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
TOP = re.compile(r"\b(?:top|first|biggest|largest|smallest|last|oldest|newest)\s+(\d{1,2})\b")
REFERS_BACK = re.compile(
    r"\b(?:those|them|these|they|the ones|that one|this one|which one|same ones|"
    r"of it|it|its)\b|\bone\s*$"
)
ALL = re.compile(
    r"\b(?:are|is|were) (?:all|every|each)\b|\ball (?:of )?(?:my |our |the )?\w+ (?:are|still)\b"
)
YES_NO = re.compile(r"^(?:is|does|has|was|did|can)\b")
YES_NO_ALL = re.compile(r"^(?:is|are|were|was)\b(?!.*\b(?:any|there|some)\b)|" + ALL.pattern)
EXPLICIT = re.compile(
    r"\b(?:which|list|show|what are|display|give me|name|names|enumerate|how many|count|"
    r"number of)\b"
)
FOLLOWUP_LEAD = re.compile(
    r"^(?:and|what about|how about|same for|same with|also|only|just|or|then|now|ok and|"
    r"okay and|but|what of|and what about|and how about|of which|out of which)\b"
)


def window(text: str) -> tuple[int | None, str | None]:
    match = WINDOW.search(text)
    if match:
        amount = match.group(1)
        n = int(amount) if amount.isdigit() else NUMBER_WORDS[amount]
        unit = match.group(2).rstrip("s")
        days = n * UNIT_DAYS[unit]
        plural = "" if n == 1 else "s"
        past = match.group(0).split()[0] in ("last", "past", "the") and "next" not in match.group(0)
        phrase = f"in the last {n} {unit}{plural}" if past else f"within {n} {unit}{plural}"
        return days, phrase
    match = ONE_UNIT.search(text)
    if match:
        when, unit = match.group(1), match.group(2)
        past = when in ("last", "past")
        return UNIT_DAYS[unit], f"in the last {unit}" if past else f"within a {unit}"
    for pattern, days, phrase in NAMED_WINDOWS:
        if pattern.search(text):
            return days, phrase
    if re.search(r"\bsoon\b|\bupcoming\b|\bcoming up\b", text):
        return 30, "within 30 days"
    return None, None
