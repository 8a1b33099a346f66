"""The words the offline provider knows: kinds, providers, statuses, regions, severities.

Everything here is StackDock's own vocabulary (docs/data.md, ../shared/stackdock-facts.md):
its 13 kinds, its 16 providers and which kinds each syncs, and the normalised statuses its
adapters write. People's words map onto those; a status word maps per kind, because "off" is a
stopped server, a paused monitor and a disabled backup.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.tools import LABELS


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "sh", "ch")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _forms(kind: str, singulars: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in singulars:
        out[word] = kind
        out[_plural(word)] = kind
    return out


KIND_TERMS: dict[str, str] = {
    **_forms(
        "servers",
        ("server", "vm", "virtual machine", "instance", "machine", "droplet", "box", "vps", "node"),
    ),
    **_forms(
        "webServices",
        ("web service", "webservice", "website", "web site", "site", "service", "app",
         "application", "web app", "webapp", "frontend", "front end", "wordpress site"),
    ),
    **_forms("domains", ("domain", "domain name", "zone", "dns zone")),
    "dns": "domains",
    **_forms("databases", ("database", "db", "data store", "datastore")),
    **_forms("blockVolumes", ("volume", "block volume", "disk", "block device", "blockvolume")),
    "block storage": "blockVolumes",
    **_forms("buckets", ("bucket", "s3 bucket", "storage bucket")),
    "object storage": "buckets",
    **_forms("monitors", ("monitor", "uptime check", "uptime monitor", "health check", "check")),
    "uptime": "monitors",
    **_forms("issues", ("alert", "sentry issue", "sentry error", "sentry alert", "exception")),
    **_forms("repositories", ("repo", "repository", "git repo", "github repo", "codebase")),
    **_forms("deployments", ("deployment", "convex deployment")),
    **_forms("docks", ("dock", "integration", "connection", "provider account", "sync")),
    **_forms("projects", ("project",)),
    **_forms("backupSchedules", ("backup", "backup schedule", "site backup")),
}  # fmt: skip
# Words that name a kind only when no other kind is named ("web services in error" is a
# status; "how many errors" is about alerts).
WEAK_KIND_TERMS: dict[str, str] = {"errors": "issues", "issues": "issues", "bugs": "issues"}

PROVIDER_NAMES: dict[str, str] = {
    "gridpane": "GridPane",
    "vercel": "Vercel",
    "netlify": "Netlify",
    "cloudflare": "Cloudflare",
    "coolify": "Coolify",
    "digitalocean": "DigitalOcean",
    "vultr": "Vultr",
    "linode": "Linode",
    "hetzner": "Hetzner",
    "turso": "Turso",
    "neon": "Neon",
    "planetscale": "PlanetScale",
    "convex": "Convex",
    "github": "GitHub",
    "sentry": "Sentry",
    "better-stack": "Better Stack",
}
PROVIDER_TERMS: dict[str, str] = {
    **{p: p for p in PROVIDER_NAMES},
    "grid pane": "gridpane",
    "digital ocean": "digitalocean",
    "digital-ocean": "digitalocean",
    "betterstack": "better-stack",
    "better stack": "better-stack",
    "better uptime": "better-stack",
    "planet scale": "planetscale",
    "cloud flare": "cloudflare",
    "git hub": "github",
    "akamai": "linode",
}
# Abbreviations read only when typed in capitals ("DO" is also an English word).
PROVIDER_ABBREVIATIONS: dict[str, str] = {
    "DO": "digitalocean",
    "CF": "cloudflare",
    "GP": "gridpane",
    "GH": "github",
}
# What each provider syncs into StackDock (stackdock-facts.md), so "whats on vultr" knows
# where to look and a follow-up drops a provider that cannot hold the new kind.
PROVIDER_KINDS: dict[str, tuple[str, ...]] = {
    "gridpane": ("servers", "webServices", "domains", "backupSchedules"),
    "vercel": ("webServices",),
    "netlify": ("webServices",),
    "cloudflare": ("webServices", "domains"),
    "coolify": ("servers", "webServices", "databases"),
    "digitalocean": ("servers", "blockVolumes"),
    "vultr": ("servers", "blockVolumes"),
    "linode": ("servers", "buckets"),
    "hetzner": ("servers",),
    "turso": ("databases",),
    "neon": ("databases",),
    "planetscale": ("databases",),
    "convex": ("databases", "deployments"),
    "github": ("repositories",),
    "sentry": ("issues",),
    "better-stack": ("monitors",),
}
# Clouds people name that StackDock has no dock for.
FOREIGN_PROVIDERS: dict[str, str] = {
    "aws": "AWS",
    "amazon": "AWS",
    "ec2": "AWS",
    "lightsail": "AWS",
    "gcp": "Google Cloud",
    "google cloud": "Google Cloud",
    "azure": "Azure",
    "heroku": "Heroku",
    "render": "Render",
    "fly.io": "Fly.io",
    "railway": "Railway",
    "supabase": "Supabase",
    "ovh": "OVH",
    "scaleway": "Scaleway",
    "kinsta": "Kinsta",
    "wp engine": "WP Engine",
    "wpengine": "WP Engine",
    "gitlab": "GitLab",
    "bitbucket": "Bitbucket",
    "datadog": "Datadog",
    "pingdom": "Pingdom",
    "mongodb atlas": "MongoDB Atlas",
    "atlas": "MongoDB Atlas",
}

# Status classes: what people mean, whatever the kind.
STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("running", "up", "online", "live", "started", "alive", "healthy", "working", "ready",
         "green", "operational", "fine", "functioning", "active", "enabled", "success",
         "successful", "succeeded", "synced"),
        "ok",
    ),
    **dict.fromkeys(
        ("stopped", "off", "halted", "shutdown", "shut down", "powered off", "turned off",
         "switched off", "paused", "suspended", "inactive", "disabled", "sleeping", "idle",
         "not running"),
        "off",
    ),
    **dict.fromkeys(
        ("error", "errored", "erroring", "in error", "failed", "failing", "broken", "crashed",
         "crashing", "unhealthy", "faulty", "red", "errors", "failure", "failures"),
        "failing",
    ),
    **dict.fromkeys(("down", "offline", "dead", "not working", "unreachable", "not up"), "down"),
    **dict.fromkeys(
        ("pending", "provisioning", "creating", "starting", "building", "deploying", "queued",
         "initializing", "initialising", "booting"),
        "pending",
    ),
    **dict.fromkeys(("archived", "decommissioned"), "archived"),
    **dict.fromkeys(("maintenance", "in maintenance", "under maintenance"), "maintenance"),
    **dict.fromkeys(("validating", "flapping", "degraded", "confirming"), "validating"),
    **dict.fromkeys(("open", "unresolved", "outstanding", "unhandled", "new"), "open"),
    **dict.fromkeys(("resolved", "fixed", "closed", "done"), "resolved"),
    **dict.fromkeys(("ignored", "muted", "silenced", "snoozed"), "ignored"),
    **dict.fromkeys(("syncing", "in progress"), "syncing"),
    **dict.fromkeys(("attached", "in use", "mounted"), "attached"),
    **dict.fromkeys(
        ("unattached", "detached", "not attached", "unused", "available", "free", "orphaned"),
        "available",
    ),
}  # fmt: skip
# The statuses each class stands for, per kind: StackDock's normalised ones where its adapters
# normalise (servers, web services, monitors, alerts, docks), the providers' own elsewhere.
KIND_STATUSES: dict[str, dict[str, frozenset[str]]] = {
    "servers": {
        "ok": frozenset({"running"}),
        "off": frozenset({"stopped"}),
        "failing": frozenset({"error"}),
        "down": frozenset({"stopped", "error"}),
        "pending": frozenset({"pending"}),
        "archived": frozenset({"archived"}),
    },
    "webServices": {
        "ok": frozenset({"running"}),
        "off": frozenset({"stopped"}),
        "failing": frozenset({"error"}),
        "down": frozenset({"error", "stopped"}),
        "pending": frozenset({"pending"}),
    },
    "monitors": {
        "ok": frozenset({"up"}),
        "off": frozenset({"paused"}),
        "failing": frozenset({"down"}),
        "down": frozenset({"down"}),
        "pending": frozenset({"pending"}),
        "maintenance": frozenset({"maintenance"}),
        "validating": frozenset({"validating"}),
    },
    "issues": {
        "open": frozenset({"open"}),
        "ok": frozenset({"open"}),  # "active alerts"
        "resolved": frozenset({"resolved"}),
        "ignored": frozenset({"ignored"}),
    },
    "docks": {
        "ok": frozenset({"success"}),
        "failing": frozenset({"error"}),
        "down": frozenset({"error"}),
        "pending": frozenset({"pending"}),
        "syncing": frozenset({"syncing"}),
    },
    "databases": {
        "ok": frozenset({"active", "running", "available", "ready"}),
        "off": frozenset({"suspended", "stopped", "paused", "inactive"}),
        "failing": frozenset({"error", "failed"}),
        "down": frozenset({"error", "failed", "suspended", "stopped"}),
        "pending": frozenset({"pending", "creating", "provisioning"}),
    },
    "blockVolumes": {
        "attached": frozenset({"attached", "in-use"}),
        "available": frozenset({"available"}),
        "failing": frozenset({"error"}),
    },
    "buckets": {"ok": frozenset({"active"})},
    "domains": {"ok": frozenset({"active"}), "pending": frozenset({"pending"})},
    "deployments": {"ok": frozenset({"active"})},
    "backupSchedules": {"ok": frozenset({"enabled"}), "off": frozenset({"disabled"})},
}
# Kinds whose statuses StackDock normalises, so a status can be asked of the tool directly.
NORMALISED_KINDS = frozenset({"servers", "webServices", "monitors", "issues", "docks"})

SEVERITY_WORDS: dict[str, str] = {
    "critical": "critical",
    "fatal": "critical",
    "sev1": "critical",
    "p1": "critical",
    "high": "high",
    "major": "high",
    "serious": "high",
    "medium": "medium",
    "warning": "medium",
    "warnings": "medium",
    "moderate": "medium",
    "low": "low",
    "minor": "low",
    "info": "low",
    "debug": "low",
}
ENGINE_WORDS: dict[str, str] = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "pg": "postgres",
    "mysql": "mysql",
    "libsql": "libsql",
    "sqlite": "libsql",
    "redis": "redis",
    "mongodb": "mongodb",
    "mongo": "mongodb",
    "mariadb": "mariadb",
}

# Region codes as the providers write them, and the places people name instead.
REGION_PREFIXES = (
    "nyc", "sfo", "ams", "sgp", "lon", "fra", "tor", "blr", "syd", "fsn", "nbg", "hel", "ash",
    "hil", "sin", "atl", "dfw", "ewr", "lax", "ord", "sea", "mia", "sjc", "nrt", "icn", "bom",
    "del", "jnb", "osa", "waw", "mad", "cdg", "sto", "mel", "par",
)  # fmt: skip
PLACES: dict[str, tuple[str, ...]] = {
    "new york": ("nyc",),
    "san francisco": ("sfo", "us-west"),
    "amsterdam": ("ams",),
    "singapore": ("sgp", "sin", "ap-south"),
    "london": ("lon", "eu-west-2", "gb"),
    "frankfurt": ("fra", "eu-central"),
    "toronto": ("tor", "ca-"),
    "bangalore": ("blr",),
    "sydney": ("syd", "ap-southeast"),
    "falkenstein": ("fsn",),
    "nuremberg": ("nbg",),
    "helsinki": ("hel",),
    "paris": ("par", "cdg", "eu-west-3"),
    "germany": ("fra", "fsn", "nbg", "eu-central"),
    "europe": ("eu-", "fra", "ams", "lon", "fsn", "nbg", "hel", "par", "cdg", "waw", "mad", "sto"),
    "eu": ("eu-", "fra", "ams", "lon", "fsn", "nbg", "hel", "par", "cdg", "waw", "mad", "sto"),
    "us": ("us-", "nyc", "sfo", "ash", "hil", "atl", "dfw", "ewr", "lax", "ord", "sea", "mia"),
    "usa": ("us-", "nyc", "sfo", "ash", "hil", "atl", "dfw", "ewr", "lax", "ord", "sea", "mia"),
    "america": ("us-", "nyc", "sfo", "ash", "hil", "atl", "dfw", "ewr", "lax", "ord", "sea"),
    "asia": ("ap-", "sgp", "sin", "blr", "nrt", "icn", "bom", "del", "osa"),
}


def label(kind: str | None, n: int | None = None) -> str:
    """A kind as people say it, plural unless `n` is 1."""
    if kind is None:
        return "resource" if n == 1 else "resources"
    singular, plural = LABELS.get(kind, (kind, kind))
    return singular if n == 1 else plural


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(provider, provider)


def statuses_for(kind: str, status_class: str) -> frozenset[str]:
    return KIND_STATUSES.get(kind, {}).get(status_class, frozenset())


def kinds_with_status(status_class: str) -> tuple[str, ...]:
    return tuple(kind for kind, classes in KIND_STATUSES.items() if status_class in classes)


def region_prefixes(word: str) -> tuple[str, ...]:
    """The region codes a word names: itself when it is a code, the codes of a place."""
    return PLACES.get(word, (word,))


def looks_like_region(word: str) -> bool:
    if word in PLACES:
        return True
    head = word.rstrip("0123456789")
    if head in REGION_PREFIXES and (head != word or len(word) == 3):
        return True
    parts = word.split("-")
    return (
        len(parts) in (2, 3)
        and parts[0] in ("us", "eu", "ap", "ca", "sa", "af", "me")
        and parts[1] in ("east", "west", "north", "south", "central", "southeast", "northeast")
        and (len(parts) == 2 or parts[2].isdigit())
    )


# Words that carry no filter: grammar, politeness, and the cue words the intent patterns read
# (reading.py). A word outside every list is "not understood", which may make it a name.
_COMMON_TEXT = """
    a an the and or but if of to in on at by for from with without about into over under as
    is are was were be been being am do does did doing have has had having i me my mine we us
    our ours you your yours it its they them their this that these those there here what which
    who whom whose when where why how all any some each every no not none only just also too
    very so than then now currently right please can could would should will shall may might
    must let tell give show list see view display get got find know need needs want like look
    lookup me many much more most less few number count total kind kinds type types sort
    sorted order ordered thing things stuff everything anything something nothing one ones
    lot lots bunch ok okay hey status state statuses doing going etc again both either
    neither together breakdown grouped group groups per each across overall else first top
    details detail describe description information info about named called name names
    containing contain contains matching match matches currently still yet ever really
    actually exactly maybe perhaps kinda sorta quick quickly hi hello thanks thank cheers
    yes yeah nope no help commands command biggest largest smallest big large huge small
    size sizes sized bigger larger smaller space storage capacity gb tb mb expire expires
    expiring expired expiry expiration renew renewal renewing due lapse deployed deploy
    deploys deploying redeployed shipped released release pushed recently recent lately
    latest newest oldest stale day days week weeks month months year years today tomorrow
    soon next last within ago since before after past problems problem wrong attention
    urgent critical incident incidents summary summarise summarize overview infrastructure
    infra provider providers hosted host hosts hosting cloud clouds engine engines region
    regions located location locations where whereabouts breakdown split grouped
    registered mine myself own owned org orgs organisation organization organisations
    organizations company team account workspace tenant fine good well okay fire worry
    concern concerns anything need attention happening going on health healthy report
    sitrep glance quick overall everything right now currently ones item items resource
    resources entries entry record records platform platforms vendor vendors service-wise
    using use used uses run runs running hosted sitting sit live living does say says
    said mean means much many often times time date dates when whenever which whichever
    sorted ranked rank ranking most least top bottom highest lowest greatest fewest
    objects object holds hold stored store files file data currently available
    there's theres exist exists existing present active inactive total totals sum
    altogether combined whole entire full complete completely every single per cent
    percent percentage how's whats please pls thx via through using version versions
    language languages written private public visibility default branch branches backed
    backing severity severities level levels priority priorities sev ship ships shipping
    went gone came come went out back worst severe serious important other than apart
    except excluding besides outside non
    """
COMMON_WORDS = frozenset(_COMMON_TEXT.split())


def known_word(word: str) -> bool:
    """A word with a meaning here, so never a name."""
    return (
        word in COMMON_WORDS
        or word in KIND_TERMS
        or word in WEAK_KIND_TERMS
        or word in STATUS_WORDS
        or word in PROVIDER_TERMS
        or word in SEVERITY_WORDS
    )
