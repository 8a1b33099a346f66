"""Questions as people type them in chat, with what a right answer over the demo must say.

The demo snapshot (adapters/stackdock/demo) at tests/unit/conftest.py's NOW, asked as Acme
Cloud's admin unless a case says otherwise. Expectations are checkable facts, not wordings:
`has` must all appear in the answer (case-insensitive), `lacks` must not; a number asked for is
written bold (`**7**`) so that "how many are in error" cannot pass with the kind's total.

Each answer is graded (`grade`):
- right: an answer case with every fact present and none forbidden; a decline case that
  declines (see HONEST) and says why (`has`).
- honest: the reply declines or asks back (HONEST) and states nothing forbidden, where an
  answer was possible, or declines for another reason than the one expected.
- wrong: anything else — a confident reply that misses a required fact or states a forbidden
  one (a number or list that does not answer the question), or a list where a decline was due.

The corpus is for regression: the planner is general, and cases are phrased many ways per
intent so that a rule fitted to one phrasing shows up as failures of the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ANSWER = "answer"
DECLINE = "decline"

# How a reply that declines or asks back reads (the offline provider's refusals and questions,
# and a tool's refusal relayed).
HONEST = re.compile(
    r"I can't|I can only see|I'm read-only|StackDock doesn't hold|StackDock has no dock|"
    r"I'm not sure|I never show|I understood you're asking|can't read|holds no status|"
    r"have no \"[^\"]+\" status|[Ww]hich one do you mean|StackDock doesn't track",
)
# Nouns that must agree with a count of one.
_PLURALS = (
    "servers|web services|domains|databases|block volumes|buckets|monitors|alerts|"
    "repositories|deployments|docks|projects|problems|sites|resources|backup schedules"
)
GRAMMAR_ERRORS = re.compile(
    rf"\b1 (?:{_PLURALS})\b|\b1 problem need\b|\*\*1\*\* (?:\w+ ){{0,2}}(?:{_PLURALS})\b|"
    rf"\b1 (?:\w+ ){{0,2}}(?:{_PLURALS}) (?:are|need|have)\b"
)
ALWAYS_LACKS = ("couldn't work that out", "Traceback", "None of 0", "{", "}")


@dataclass(frozen=True, slots=True)
class Case:
    question: str
    intent: str  # what it asks, for the report
    has: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    expect: str = ANSWER
    before: tuple[str, ...] = ()  # earlier questions of the same conversation
    who: str = "admin"  # a key of adapters.stackdock.demo.DEMO_USERS


def grade(case: Case, answer: str) -> str:
    lowered = answer.lower()
    facts = all(fact.lower() in lowered for fact in case.has)
    forbidden = any(bad.lower() in lowered for bad in (*case.lacks, *ALWAYS_LACKS))
    honest = HONEST.search(answer) is not None
    if forbidden:
        return "wrong"
    if case.expect == DECLINE:
        if honest:
            return "right" if facts else "honest"
        return "wrong"
    if facts and not (honest and not case.has):
        return "right"
    return "honest" if honest else "wrong"


def _c(question: str, intent: str, *has: str, lacks: tuple[str, ...] = (), **kw: object) -> Case:
    return Case(question, intent, tuple(has), tuple(lacks), **kw)  # type: ignore[arg-type]


def _d(question: str, intent: str, *has: str, lacks: tuple[str, ...] = (), **kw: object) -> Case:
    return Case(question, intent, tuple(has), tuple(lacks), expect=DECLINE, **kw)  # type: ignore[arg-type]


ALL_SERVERS = (
    "acme-web-1",
    "acme-web-2",
    "acme-worker-1",
    "acme-staging",
    "acme-db-proxy",
    "acme-vpn",
    "wp-acme-marketing",
    "wp-acme-blog",
)
PROBLEM_NAMES = (
    "TypeError",
    "Checkout",
    "blog.acme.example",
    "GridPane WordPress",
    "Database connection pool exhausted",
    "Search API",
)
CPU = ("CPU",)

CASES: tuple[Case, ...] = (
    # ---- counts of a kind ----
    _c("How many servers do I have?", "count", "**8**"),
    _c("how many servers", "count", "**8**"),
    _c("number of web services", "count", "**7**"),
    _c("count my domains", "count", "**6**"),
    _c("how many dbs do we have", "count", "**4**"),
    _c("how many block volumes?", "count", "**3**"),
    _c("how many buckets", "count", "**2**"),
    _c("total number of monitors", "count", "**7**"),
    _c("how many alerts are there", "count", "**6**"),
    _c("how many repos have we got", "count", "**5**"),
    _c("How many docks do I have?", "count", "**10**"),
    _c("how many projects", "count", "**3**"),
    _c("how many resources do i have", "count", "**51**"),
    _c("How many domains do I have?", "count", "**6**"),
    # ---- counts with a status ----
    _c("how many web services are in error", "count+status", "**1**", lacks=("**7**",)),
    _c("how many monitors are paused", "count+status", "**1**", lacks=("**7**",)),
    _c("how many servers are running", "count+status", "**7**", lacks=("**8**",)),
    _c("how many servers are stopped?", "count+status", "**1**", "acme-staging"),
    _c("how many servers are off", "count+status", "**1**", lacks=("**8**",)),
    _c("how many monitors are down", "count+status", "**1**", "Checkout"),
    _c("number of open alerts", "count+status", "**4**", lacks=("**6**",)),
    _c("how many alerts are resolved", "count+status", "**1**", "Payment webhook"),
    _c("how many ignored sentry issues", "count+status", "**1**", "ResizeObserver"),
    _c("how many docks are failing", "count+status", "**1**", "GridPane WordPress"),
    _c("how many databases are suspended", "count+status", "**1**", "acme-analytics"),
    _c("how many monitors r up", "count+status", "**3**", lacks=("**7**",)),
    _c("how many sites are broken", "count+status", "**1**", "acme-api-gateway"),
    _c("how many vms aren't running", "count+status", "**1**", "acme-staging"),
    _c("count the pending monitors", "count+status", "**1**", "Blog"),
    # ---- counts with a provider or region ----
    _c("how many digitalocean servers", "count+where", "**4**", lacks=("**8**",)),
    _c("how many servers on DO", "count+where", "**4**", lacks=("**8**",)),
    _c("how many servers do we run on linode", "count+where", "**2**"),
    _c("how many vercel sites", "count+where", "**4**", lacks=("**7**",)),
    _c("how many servers are in nyc3", "count+where", "**3**", lacks=("**8**",)),
    _c("how many volumes in nyc3", "count+where", "**2**"),
    _c("how many neon databases?", "count+where", "**3**"),
    _c("how many running servers on digitalocean", "count+where", "**3**"),
    _c("how many servers in europe", "count+where", "**4**"),
    _c(
        "How many servers do I have by provider?",
        "count+group",
        "DigitalOcean: 4",
        "Linode: 2",
        "GridPane: 2",
    ),
    _c(
        "how many web services per provider",
        "count+group",
        "Vercel: 4",
        "GridPane: 2",
        "Cloudflare: 1",
    ),
    _c("web services by status", "count+group", "running: 6", "error: 1"),
    _c("servers by region", "count+group", "nyc3: 3", "lon1: 2", "fra1: 1"),
    _c(
        "What providers do I have servers with?",
        "count+group",
        "DigitalOcean",
        "Linode",
        "GridPane",
        lacks=("Vercel",),
    ),
    _c("How many databases do I have by provider?", "count+group", "Neon: 3", "Convex: 1"),
    _c("which clouds are we on", "count+group", "DigitalOcean", "Vercel", "Neon"),
    # ---- lists with filters ----
    _c("any servers stopped?", "list", "acme-staging", lacks=("acme-web-1",)),
    _c(
        "which servers are in nyc3",
        "list",
        "acme-web-1",
        "acme-web-2",
        "acme-staging",
        lacks=("acme-worker-1", "acme-vpn", "wp-acme-blog"),
    ),
    _c("list servers in fra1", "list", "acme-worker-1", lacks=("acme-web-1",)),
    _c(
        "show me digitalocean servers",
        "list",
        "acme-web-1",
        "acme-worker-1",
        "acme-staging",
        lacks=("acme-vpn", "wp-acme-blog"),
    ),
    _c("which web services are in error", "list", "acme-api-gateway", lacks=("acme-docs",)),
    _c(
        "list my vercel web services",
        "list",
        "acme-dashboard",
        "acme-docs",
        "acme-landing",
        "acme-api-gateway",
        lacks=("acme-status-page",),
    ),
    _c(
        "show me the vercel stuff",
        "list",
        "acme-dashboard",
        "acme-api-gateway",
        lacks=("acme-status-page", "acme-web-1"),
    ),
    _c("whats on digitalocean", "list", "acme-web-1", "acme-scratch", lacks=("acme-vpn",)),
    _c("what about hetzner", "list", "no Hetzner", lacks=("acme-web-1",)),
    _c("what about vultr?", "list", "no Vultr", lacks=("acme-web-1",)),
    _c(
        "list my linode stuff",
        "list",
        "acme-db-proxy",
        "acme-vpn",
        "acme-assets",
        "acme-logs",
        lacks=("acme-web-1",),
    ),
    _c("Which monitors are down?", "list", "Checkout", lacks=("Dashboard", "Status page")),
    _c("list paused monitors", "list", "Legacy FTP", lacks=("Checkout",)),
    _c("which monitors are in maintenance", "list", "no monitors", lacks=("Checkout",)),
    _c(
        "show open alerts",
        "list",
        "TypeError",
        "pool exhausted",
        "Slow query",
        "Deprecated",
        lacks=("Payment webhook", "ResizeObserver"),
    ),
    _c("list resolved sentry issues", "list", "Payment webhook", lacks=("TypeError",)),
    _c("Which docks failed to sync?", "list", "GridPane WordPress", lacks=("Vercel team",)),
    _c("list my repos", "list", "dashboard", "api", "docs", "infra", "website"),
    _c("show me all projects", "list", "Customer Dashboard", "Marketing Site", "Internal API"),
    _c(
        "list databases on neon",
        "list",
        "acme-prod-db",
        "acme-staging-db",
        "acme-analytics",
        lacks=("acme-realtime",),
    ),
    _c("list unattached volumes", "list", "acme-scratch", lacks=("acme-data-vol",)),
    _c(
        "show me the cloudflare domains",
        "list",
        "acme.example",
        "acme.dev",
        "acmecloud.io",
        lacks=("blog.acme.example",),
    ),
    _c("List my domains", "list", "acme.example", "acmecloud.io", "www.acme.example"),
    _c("List my databases", "list", "acme-prod-db", "acme-realtime", "acme-analytics"),
    _c("servers?", "list", *ALL_SERVERS),
    _c("list convex deployments", "list", "acme-realtime-prod", "acme-realtime-pr42"),
    _c(
        "anything down?",
        "list",
        "Checkout",
        "acme-staging",
        "acme-api-gateway",
        lacks=("acme-web-1", "Dashboard`"),
    ),
    _c(
        "whats broken",
        "list",
        "acme-api-gateway",
        "Checkout",
        "GridPane WordPress",
        lacks=("acme-staging", "acme-web-1"),
    ),
    _c(
        "list postgres databases",
        "list",
        "acme-prod-db",
        "acme-analytics",
        lacks=("acme-realtime",),
    ),
    _c(
        "Show me all Vercel deployments",
        "list",
        "acme-dashboard",
        "acme-docs",
        lacks=("acme-status-page",),
    ),
    _c("any critical alerts", "list", "TypeError", lacks=("Slow query", "Payment webhook")),
    _c(
        "which servers are running on linode",
        "list",
        "acme-db-proxy",
        "acme-vpn",
        lacks=("acme-web-1",),
    ),
    _c("What database engines do I use?", "list", "postgres", "convex"),
    _c("when did the docks last sync", "list", "GridPane WordPress", "Vercel team", "error"),
    # ---- one resource by name ----
    _c("show server acme-web-1", "name", "acme-web-1", "nyc3", "running", lacks=("acme-web-2",)),
    _c("show server zzz-nope", "name", "no server named", lacks=("acme-web-1",)),
    _c("tell me about acme-prod-db", "name", "postgres", "neon", lacks=("acme-staging-db",)),
    _c("details on acme-scratch", "name", "50 GB", lacks=("acme-backups",)),
    _c("what about checkout?", "name", "Checkout", "down"),
    _c("is checkout up?", "name", "No", "down"),
    _c("is acme-web-1 running?", "name", "Yes", "running"),
    _c("status of acme-api-gateway", "name", "error", lacks=("acme-docs",)),
    _c("dashboard", "name", "acme-dashboard", "Customer Dashboard", "Which one"),
    _c("tell me about the Internal API project", "name", "Internal API", "internal-api"),
    _c("show me nothing-here-42", "name", "found no", lacks=("acme-web-1",)),
    _c("find acme-logs", "name", "acme-logs", "bucket", lacks=("acme-assets",)),
    _c("where is acme-vpn", "name", "eu-west", "Linode"),
    _c("show me the GridPane WordPress dock", "name", "failing for 4 syncs"),
    _c(
        "what's in the Customer Dashboard project", "name", "Customer Dashboard", "linked resources"
    ),
    _c("how much memory does acme-web-1 have", "name", "4096", "doesn't track CPU"),
    _c("info on acme.dev", "name", "acme.dev", "Cloudflare"),
    # ---- sizes ----
    _c("biggest volume", "size", "acme-backups", "250 GB", lacks=("acme-scratch",)),
    _c("what is my largest block volume?", "size", "acme-backups", lacks=("acme-scratch",)),
    _c("smallest disk", "size", "acme-scratch", "50 GB", lacks=("acme-backups",)),
    _c("how big is acme-data-vol", "size", "100 GB", lacks=("250 GB",)),
    _c("how much storage do I have", "size", "400 GB", "127.3 GB"),
    _c("largest bucket", "size", "acme-logs", "120.0 GB", lacks=("acme-assets",)),
    _c("top 2 biggest volumes", "size", "acme-backups", "acme-data-vol", lacks=("acme-scratch",)),
    _c("how big is acme-web-1", "size", "2 vCPUs", "80 GB disk"),
    _c("size of the acme-assets bucket", "size", "7.3 GB"),
    # ---- expiry ----
    _c("Which domains expire soon?", "expiry", "registrar expiry", "estimate"),
    _c("domains expiring in the next 30 days", "expiry", "registrar expiry", "within 30 days"),
    _c("anything expiring this month?", "expiry", "registrar expiry", "this month"),
    _c("do any domains renew in the next 7 days", "expiry", "within 7 days"),
    _c(
        "when does acme.example expire",
        "expiry",
        "acme.example",
        "no known expiry",
        lacks=("www.acme.example",),
    ),
    _c("which domains are expiring this week", "expiry", "this week", "estimate"),
    # ---- deploys ----
    _c(
        "Which services haven't been deployed recently?",
        "deploys",
        "acme-docs",
        "75 days",
        lacks=("- `acme-dashboard` (vercel): ",),
    ),
    _c("when was acme-docs last deployed", "deploys", "2026-09-12", lacks=("acme-landing",)),
    _c("when was www.acme.example deployed", "deploys", "does not report deploy times"),
    _c(
        "what was deployed in the last 7 days",
        "deploys",
        "acme-api-gateway",
        "acme-dashboard",
        lacks=("acme-docs`", "acme-landing`"),
    ),
    _c("latest deploy?", "deploys", "acme-api-gateway", lacks=("acme-docs",)),
    _c("stale deploys", "deploys", "acme-docs", "75 days"),
    _c("when did acme-landing ship", "deploys", "2026-11-17", "9 days ago"),
    _c(
        "deploys this week",
        "deploys",
        "acme-api-gateway",
        "acme-dashboard",
        lacks=("acme-landing`", "acme-docs`"),
    ),
    _c(
        "Which services haven't been deployed in 60 days?",
        "deploys",
        "acme-docs",
        lacks=("acme-landing`",),
    ),
    # ---- backups ----
    _c("Which sites have no backups?", "backups", "blog.acme.example", "backups off"),
    _c(
        "are backups on for www.acme.example", "backups", "backups on", lacks=("blog.acme.example",)
    ),
    _c("is blog.acme.example backed up", "backups", "backups off", lacks=("www.acme.example",)),
    _c("backup status", "backups", "blog.acme.example", "www.acme.example"),
    _c(
        "which sites have backups enabled",
        "backups",
        "www.acme.example",
        lacks=("blog.acme.example",),
    ),
    # ---- problems and the overview ----
    _c(
        "Any critical issues I should know about?",
        "problems",
        "6 problems need attention",
        *PROBLEM_NAMES,
    ),
    _c("what needs attention", "problems", "6 problems need attention", *PROBLEM_NAMES),
    _c("anything wrong?", "problems", "6 problems", "Checkout"),
    _c(
        "What's the status of my infrastructure?",
        "overview",
        "at a glance",
        "8 servers",
        "6 problems",
    ),
    _c("give me a summary", "overview", "at a glance", "7 web services"),
    _c("Show me a summary of all resources", "overview", "at a glance", "51 resources"),
    _c("how are things", "overview", "at a glance"),
    _c("is everything ok?", "overview", "at a glance", "6 problems"),
    _c(
        "any problems with monitors",
        "problems",
        "Checkout",
        "Search API",
        lacks=("TypeError", "GridPane WordPress"),
    ),
    _c("are there any incidents", "problems", "6 problems"),
    _c(
        "critical problems only",
        "problems",
        "2 critical problems",
        "TypeError",
        "Checkout",
        lacks=("GridPane WordPress", "Search API"),
    ),
    _c("anything wrong with my servers?", "problems", "acme-staging", lacks=("acme-web-1",)),
    # ---- conversation ----
    _c("who am i", "whoami", "Ada Lovelace", "Admin", "Acme Cloud"),
    _c("what's my role?", "whoami", "Admin"),
    _c("which org am i in", "whoami", "Acme Cloud"),
    _c("who am i", "whoami", "Sam Rivera", "Support", who="support"),
    _c("help", "help", "Ask me"),
    _c("what can you do?", "help", "Ask me"),
    _c("hi", "greeting", "Acme Cloud"),
    _c("thanks!", "greeting", "welcome"),
    _c("good morning", "greeting", "Hi Ada", "Acme Cloud"),
    _c("what can i ask?", "help", "Ask me"),
    # ---- honest: data StackDock does not hold ----
    _d("Show me servers with high CPU usage", "missing", *CPU, lacks=("acme-web-1",)),
    _d("which server uses the most memory", "missing", "memory", lacks=("acme-web-1",)),
    _d("what's the ram usage on acme-web-1", "missing", "memory", lacks=("4096",)),
    _d("disk usage on acme-web-2", "missing", "disk usage"),
    _d("expiring certs?", "missing", "certificates", lacks=("problems need",)),
    _d("is the ssl cert for acme.example valid", "missing", "certificates"),
    _d("Which servers need updates?", "missing", "updates", lacks=("acme-web-1",)),
    _d("any outdated packages", "missing", "updates"),
    _d("show me the logs for acme-api-gateway", "missing", "logs"),
    _d("how much traffic does acme-landing get", "missing", "traffic"),
    _d("what's our monthly cloud bill", "missing", "billing"),
    _d("which server is the most expensive", "missing", "costs", lacks=("acme-web-1",)),
    _d("what's the uptime percentage of checkout", "missing", "uptime history"),
    _d("response time of the acme api", "missing", "response times"),
    _d("what's running in kubernetes", "missing", "containers"),
    _d("biggest server", "missing", "sizes", lacks=("acme-web-1",)),
    _d("when do my servers expire", "missing", "expiry", lacks=("acme-web-1",)),
    _d("database backups?", "missing", "database backups"),
    _d("show me the team members", "missing", "people"),
    _d("which servers are resolved", "missing", "running", lacks=("acme-web-1",)),
    # ---- honest: changes, secrets, other orgs, other clouds ----
    _d("delete the staging server", "action", "read-only", lacks=("acme-web-1",)),
    _d("restart acme-web-1", "action", "read-only"),
    _d("can you deploy acme-docs", "action", "read-only"),
    _d("scale up the prod db", "action", "read-only"),
    _d("please reboot all servers", "action", "read-only", lacks=("acme-web-1",)),
    _d("turn off acme-staging", "action", "read-only"),
    _d("resolve the TypeError alert", "action", "read-only"),
    _d("what's the api key for vercel", "secret", "never show"),
    _d("show me the database password", "secret", "never show"),
    _d("show me globex servers", "other org", "only see Acme Cloud", lacks=("acme-web-1",)),
    _d("list servers in the globex org", "other org", "only see Acme Cloud", lacks=("acme-web-1",)),
    _d("show resources from all orgs", "other org", "only see Acme Cloud"),
    _d("list my aws instances", "other cloud", "AWS", lacks=("acme-web-1",)),
    _d("how many azure vms do we have", "other cloud", "Azure", lacks=("**8**",)),
    _d(
        "show me acme servers",
        "other org",
        "only see Globex Labs",
        who="globex_admin",
        lacks=("globex-app-1",),
    ),
    # ---- honest: not understood ----
    _d("frobnicate the gizmo", "unsure", "not sure"),
    _d("what is the weather like", "unsure", "not sure"),
    _d("tell me a joke", "unsure", "not sure"),
    _d("which of those are in error", "unsure", "not sure", lacks=("acme-api-gateway",)),
    # ---- follow-ups ----
    _c(
        "which of those are in error",
        "follow-up",
        "acme-api-gateway",
        lacks=("acme-docs", "acme-dashboard"),
        before=("list my web services",),
    ),
    _c(
        "and databases?",
        "follow-up",
        "**3**",
        lacks=("**7**",),
        before=("how many servers are running",),
    ),
    _c(
        "what about linode?",
        "follow-up",
        "acme-db-proxy",
        "acme-vpn",
        lacks=("acme-web-1", "acme-assets"),
        before=("list digitalocean servers",),
    ),
    _c(
        "how many of them are running",
        "follow-up",
        "**2**",
        lacks=("**3**",),
        before=("show me servers in nyc3",),
    ),
    _c(
        "and paused?",
        "follow-up",
        "Legacy FTP",
        lacks=("Checkout",),
        before=("which monitors are down",),
    ),
    _c(
        "what about acme-web-2?",
        "follow-up",
        "acme-web-2",
        "203.0.113.11",
        before=("show server acme-web-1",),
    ),
    _c(
        "is it running?",
        "follow-up",
        "No",
        "suspended",
        lacks=("acme-prod-db",),
        before=("tell me about acme-analytics",),
    ),
    _c(
        "only the stopped ones",
        "follow-up",
        "acme-staging",
        lacks=("acme-web-1",),
        before=("list servers",),
    ),
    _c("by provider?", "follow-up", "DigitalOcean: 4", before=("how many servers do I have",)),
    _c(
        "and netlify?",
        "follow-up",
        "Netlify",
        lacks=("acme-dashboard",),
        before=("list vercel web services",),
    ),
    _c(
        "which one?",
        "follow-up",
        "acme-staging",
        lacks=("acme-web-1",),
        before=("how many servers are stopped",),
    ),
    _c(
        "only critical ones",
        "follow-up",
        "TypeError",
        lacks=("Slow query",),
        before=("list my alerts",),
    ),
    _c(
        "which were deployed in the last week",
        "follow-up",
        "acme-api-gateway",
        "acme-dashboard",
        lacks=("acme-docs`",),
        before=("show me the vercel stuff",),
    ),
    _c(
        "and in fra1?",
        "follow-up",
        "acme-worker-1",
        "acme-backups",
        lacks=("acme-web-1",),
        before=("whats on digitalocean",),
    ),
    _c(
        "what about volumes?",
        "follow-up",
        "acme-data-vol",
        "acme-scratch",
        lacks=("acme-backups",),
        before=("which servers are in nyc3",),
    ),
    _c(
        "and the biggest bucket?",
        "follow-up",
        "acme-logs",
        lacks=("acme-assets",),
        before=("biggest volume",),
    ),
    # ---- typos and abbreviations ----
    _c("how many severs r running", "typo", "**7**", lacks=("**8**",)),
    _c("how many severs", "typo", "**8**"),
    _c("list my databses", "typo", "acme-prod-db", "acme-realtime"),
    _c("show DO droplets", "typo", "acme-web-1", "acme-staging", lacks=("acme-vpn",)),
    _c("list vercell apps", "typo", "acme-dashboard", lacks=("acme-status-page",)),
    _c("how many monitrs are down", "typo", "**1**", "Checkout"),
    _c("any stoped servers", "typo", "acme-staging", lacks=("acme-web-1",)),
    _c("show me the domians", "typo", "acme.example", "acmecloud.io"),
    _c("hetzer servers?", "typo", "Hetzner", lacks=("acme-web-1",)),
    _c("digital ocean volumes", "typo", "acme-data-vol", "acme-backups", "acme-scratch"),
    _c("whats on CF", "typo", "acme-status-page", "acme.dev", lacks=("acme-web-1",)),
    _c("list sentry alerts", "typo", "TypeError", "Payment webhook"),
    _c("betterstack monitors that are down", "typo", "Checkout", lacks=("Dashboard",)),
    # ---- other people ----
    _d("List my docks", "role", "docks:read", who="client"),
    _d("Which docks failed to sync?", "role", "docks:read", who="developer"),
    _c("How many servers do I have?", "role", "**3**", who="globex_admin"),
    _c(
        "what about vultr",
        "role",
        "globex-app-1",
        "globex-app-2",
        "globex-vol-1",
        who="globex_admin",
    ),
    # ---- more phrasings, each intent again in other words ----
    _c("do we have any stopped droplets", "list", "acme-staging", lacks=("acme-web-1",)),
    _c(
        "what servers do i have in london",
        "list",
        "wp-acme-blog",
        "wp-acme-marketing",
        lacks=("acme-web-1",),
    ),
    _c(
        "gimme the list of vercel projects",
        "list",
        "acme-dashboard",
        "acme-docs",
        lacks=("acme-status-page", "Customer Dashboard"),
    ),
    _c("show me everything on linode", "list", "acme-db-proxy", "acme-logs", lacks=("acme-web-1",)),
    _c("count the servers that are up", "count+status", "**7**", lacks=("**8**",)),
    _c("are any web services failing?", "list", "acme-api-gateway", lacks=("acme-docs",)),
    _c("which of my monitors arent up", "list", "Checkout", lacks=("Dashboard`",)),
    _c("what's the status of acme-worker-1", "name", "running", "fra1"),
    _c("is the Search API monitor ok", "name", "No", "validating"),
    _c("how many open sentry errors", "count+status", "**4**", lacks=("**6**",)),
    _c("list critical sentry alerts", "list", "TypeError", lacks=("pool exhausted",)),
    _c("what dbs are on neon", "list", "acme-prod-db", "acme-analytics", lacks=("acme-realtime",)),
    _c("How many GridPane sites are there", "count+where", "**2**"),
    _c("which buckets do I have", "list", "acme-assets", "acme-logs"),
    _c("total volume size", "size", "400 GB"),
    _c("Which domain expires first", "expiry", "registrar expiry"),
    _c("has acme-dashboard been deployed recently", "deploys", "2026-11-24", "2 days ago"),
    _c(
        "what got deployed today",
        "deploys",
        "acme-api-gateway",
        lacks=("acme-dashboard`", "acme-docs`"),
    ),
    _c("is the blog backed up", "backups", "backups off", lacks=("www.acme.example",)),
    _c("sites without backups", "backups", "blog.acme.example", "backups off"),
    _c("any fires?", "problems", "6 problems"),
    _c("Everything good?", "overview", "at a glance"),
    _c("what should i worry about", "problems", "6 problems", "Checkout"),
    _c("who am i logged in as", "whoami", "Ada Lovelace"),
    _c("which repos are private", "list", "api", "infra", lacks=("`docs`",)),
    _c("what languages are my repos in", "count+group", "Go: 1", "TypeScript: 1"),
    _c("are all my servers up", "all", "No", "acme-staging", lacks=("acme-web-1",)),
    _c("are all monitors up?", "all", "No", "Checkout", "Legacy FTP", lacks=("Acme API health",)),
    _c("are my servers running?", "all", "No", "acme-staging", lacks=("acme-web-1",)),
    _c("is the gridpane dock ok", "all", "No", "GridPane WordPress"),
    _c("show me error alerts", "list", "pool exhausted", lacks=("TypeError", "Slow query")),
    _c("warnings in sentry", "list", "Slow query", lacks=("TypeError",)),
    _d("which servers are old", "unsure", "old", lacks=("acme-web-1",)),
    _c("anything in fra1?", "list", "acme-worker-1", "acme-backups", lacks=("acme-web-1",)),
    _c(
        "what do I have on cloudflare",
        "list",
        "acme-status-page",
        "acme.dev",
        lacks=("acme-web-1",),
    ),
    _c("what's in project Marketing Site", "name", "www.acme.example", "linked resources"),
    _c("any monitors validating", "list", "Search API", lacks=("Checkout",)),
    _c("show monitors that are flapping", "list", "Search API", lacks=("Checkout",)),
    _c("is anything offline", "list", "acme-staging", "Checkout", lacks=("acme-web-1",)),
    _c("how many droplets are powered off", "count+status", "**1**", "acme-staging"),
    _c("list every web app that's down", "list", "acme-api-gateway", lacks=("acme-docs",)),
    _c("which of our apps are live", "list", "acme-dashboard", lacks=("acme-api-gateway",)),
    _c("how many cloudflare zones", "count+where", "**4**"),
    _c("what regions are my servers in", "count+group", "nyc3: 3", "lon1: 2"),
    _c("is acme-staging up", "name", "No", "stopped"),
    _c("which volumes aren't attached", "list", "acme-scratch", lacks=("acme-data-vol",)),
    _c("how many objects in acme-logs", "name", "981220"),
    _c("where is acme-assets hosted", "name", "Linode", "us-east-1"),
    _c("do we use postgres", "list", "acme-prod-db", lacks=("acme-realtime",)),
    _c("what version is acme-prod-db", "name", "16"),
    _c("how many monitors are failing", "count+status", "**1**", "Checkout"),
    _c("name the down monitors", "list", "Checkout", lacks=("Dashboard`",)),
    _c(
        "any sentry errors in acme-api?",
        "list",
        "pool exhausted",
        "Slow query",
        lacks=("TypeError",),
    ),
    _c("what is the worst alert", "list", "TypeError", lacks=("pool exhausted",)),
    _c(
        "top 3 worst alerts",
        "list",
        "TypeError",
        "pool exhausted",
        "Slow query",
        lacks=("Deprecated",),
    ),
    _c(
        "when did the gridpane dock last sync",
        "list",
        "GridPane WordPress",
        "failing",
        lacks=("Vercel team",),
    ),
    _c("any sync errors?", "list", "GridPane WordPress", lacks=("Vercel team",)),
    _c("whats the oldest deploy", "deploys", "acme-docs"),
    _c("most recent deployment", "deploys", "acme-api-gateway", lacks=("acme-realtime",)),
    _c(
        "which domains are on gridpane",
        "list",
        "blog.acme.example",
        "www.acme.example",
        lacks=("acmecloud.io",),
    ),
    _c("servers in new york", "list", "acme-web-1", lacks=("acme-worker-1", "acme-vpn")),
    _c("do i have any servers in asia", "list", "no servers in asia", lacks=("acme-web-1",)),
    _c(
        "count servers not on digitalocean",
        "count+where",
        "**4**",
        "acme-vpn",
        lacks=("acme-web-1",),
    ),
    _c("servers outside nyc3", "list", "acme-worker-1", lacks=("acme-web-1",)),
    _c("what do we run on coolify", "list", "no Coolify", lacks=("acme-web-1",)),
    _d("what's the cpu on acme-web-1", "missing", "doesn't track CPU"),
    _d("memory usage?", "missing", "memory"),
    _d("which servers r overloaded", "missing", "CPU", lacks=("acme-web-1",)),
    _d("are my ssl certificates ok", "missing", "certificates"),
    _d("how much do we pay for vercel", "missing", "billing", lacks=("acme-dashboard",)),
    _d("are there pending security updates", "missing", "updates"),
    _d("stop acme-web-2", "action", "read-only"),
    _d("shut down the staging box", "action", "read-only"),
    _d("could you please restart the worker", "action", "read-only"),
    _d("how do i restart a server", "action", "read-only"),
    _d("create a new droplet", "action", "read-only"),
    _d("give me the db connection string", "secret", "never show"),
    _d("what about the globex org?", "other org", "only see Acme Cloud"),
    _d("show me google cloud vms", "other cloud", "Google Cloud", lacks=("acme-web-1",)),
    _d("heroku apps?", "other cloud", "Heroku"),
    _d("uptime of acme-landing last month", "missing", "uptime history"),
    _d("what ports are open on acme-web-1", "missing", "ports"),
    _d("list dns records for acme.example", "missing", "DNS records"),
    _d("who has access to the org", "missing", "people"),
    _d("🤷", "unsure", "not sure"),
    _c(
        "tell me more about it",
        "follow-up",
        "acme-worker-1",
        "fra1",
        lacks=("acme-web-1",),
        before=("list my servers", "and on digitalocean?", "what about fra1?"),
    ),
    _c(
        "is it running?",
        "follow-up",
        "Yes",
        "acme-worker-1",
        before=("show digitalocean servers in fra1",),
    ),
    _d(
        "tell me more about it",
        "follow-up",
        "Which one",
        lacks=("acme-web-1`**",),
        before=("list digitalocean servers",),
    ),
    _c(
        "which of them are on linode",
        "follow-up",
        "acme-db-proxy",
        lacks=("acme-web-1",),
        before=("list my servers",),
    ),
    _c(
        "and the smallest?",
        "follow-up",
        "acme-scratch",
        lacks=("acme-backups",),
        before=("biggest volume", "thanks"),
    ),
    # ---- held out: written once the planner was done, graded once before any change ----
    _c("how many linode boxes do we have", "count", "**2**"),
    _c("total count of sentry issues", "count", "**6**"),
    _c("number of github repositories", "count", "**5**"),
    _c("how many vercel apps are erroring", "count+status", "**1**", "acme-api-gateway"),
    _c("how many neon dbs are active", "count+status", "**2**"),
    _c("how many monitors are pending", "count+status", "**1**", "Blog"),
    _c(
        "list the running linode servers",
        "list",
        "acme-db-proxy",
        "acme-vpn",
        lacks=("acme-web-1",),
    ),
    _c(
        "show me servers on gridpane",
        "list",
        "wp-acme-blog",
        "wp-acme-marketing",
        lacks=("acme-web-1",),
    ),
    _c("what's hosted in lon1", "list", "wp-acme-blog", lacks=("acme-web-1",)),
    _c(
        "which monitors are up right now",
        "list",
        "Acme API health",
        "Dashboard",
        lacks=("Checkout",),
    ),
    _c("any alerts that are ignored?", "list", "ResizeObserver", lacks=("TypeError",)),
    _c("what deployments does convex have", "list", "acme-realtime-prod"),
    _c("list neon databases that are suspended", "list", "acme-analytics", lacks=("acme-prod-db",)),
    _c("what's acme-vpn", "name", "Linode", "eu-west"),
    _c("details for the Checkout monitor", "name", "down"),
    _c("is acme-dashboard running", "name", "Yes"),
    _c("is Legacy FTP up?", "name", "No", "paused"),
    _c("tell me about acme-realtime-prod", "name", "acme-realtime-prod"),
    _c("which is bigger, acme-data-vol or acme-scratch", "size", "acme-data-vol"),
    _c("smallest bucket", "size", "acme-assets", lacks=("acme-logs`:",)),
    _c("how large is acme-backups", "size", "250 GB"),
    _c("what expires next month", "expiry", "registrar expiry"),
    _c("when was acme-dashboard last shipped", "deploys", "2026-11-24"),
    _c("services not deployed in 2 months", "deploys", "acme-docs", lacks=("acme-landing`",)),
    _c("are backups enabled for www.acme.example", "backups", "backups on"),
    _c("anything i need to fix?", "problems", "6 problems"),
    _c("what's the overall health", "overview", "at a glance"),
    _c("and the volumes?", "follow-up", "acme-data-vol", before=("list digitalocean servers",)),
    _c("how many are stopped", "follow-up", "**1**", before=("list my servers",)),
    _c(
        "only vercel",
        "follow-up",
        "acme-dashboard",
        lacks=("acme-status-page",),
        before=("list web services",),
    ),
    _d("reboot acme-vpn please", "action", "read-only"),
    _d("can u scale acme-web-1 to 4 cpus", "action", "read-only"),
    _d("what's the disk usage on acme-worker-1", "missing", "disk usage"),
    _d("how much bandwidth did we use", "missing", "traffic"),
    _d("which certs expire soon", "missing", "certificates"),
    _d("show me the vercel token", "secret", "never show"),
    _d("list all organisations", "other org", "only see Acme Cloud"),
    _d("list my gcp projects", "other cloud", "Google Cloud"),
    _d("which servers are the fastest", "missing", "performance"),
    _d("make me a sandwich", "unsure", "not sure"),
)


@dataclass(frozen=True, slots=True)
class Graded:
    case: Case
    answer: str
    grade: str


async def run_corpus(cases: tuple[Case, ...] = CASES) -> list[Graded]:
    """Every case asked through the whole pipeline (wiring's builders, the offline provider,
    the real tools) over the demo, each in its own conversation."""
    from adapters.stackdock.demo import DEMO_USERS, load_demo
    from core.limits import LimitPolicy
    from core.models import ErrorReply, Final
    from core.stackdock.mirror import InMemoryMirror
    from tests.fakes.ports.memory_store import MemoryStore
    from tests.unit.conftest import NOW, Clock, Kit

    loaded = load_demo(NOW)
    kit = Kit(
        store=MemoryStore(),
        mirror=InMemoryMirror(loaded.tables, loaded.as_of),
        clock=Clock(),
        policy=LimitPolicy(per_user_per_hour=0),
    )
    graded = []
    for number, case in enumerate(cases):
        identity = f"email:{DEMO_USERS[case.who]}"
        thread = {"conversation_key": f"corpus-{number}"}
        for earlier in case.before:
            await kit.ask(earlier, identity, **thread)
        end = (await kit.ask(case.question, identity, **thread))[-1]
        text = end.text if isinstance(end, Final | ErrorReply) else repr(end)
        graded.append(Graded(case, text, grade(case, text)))
    return graded
