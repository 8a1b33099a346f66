"""Keeping secrets and network detail out of replies, logs, the audit trail and the model.

Three layers, each cheap enough to run on every value that leaves the core:
- `safe_details` turns a provider payload (`fullApiData`) into a bounded copy without
  secret-named keys or secret-looking values;
- `scrub_text` replaces secret-looking substrings of free text (and `SecretFilter` does it to
  every log record);
- `mask_network_detail` / `redact_for_channel` hide IP addresses, URLs and hostnames in shared
  channels. The names of things (a domain's `domainName`, a server's `name`) are not masked:
  they are what the person asks about, and the org already sees them in StackDock.

Pure hex strings, UUIDs and lowercase ids are deliberately not treated as secrets: they are
commit SHAs, audit hashes and Convex document ids, which answers must be able to quote.
Provider tokens that are pure hex are caught by the key names they sit under instead.

`scrub_text` is the one scrubber: questions before the model, tool results, stored
conversation, audit rows and log records all go through it, so a gap closed here is closed
everywhere. `one_line` makes untrusted text (StackDock data) a single bounded line, so a
resource name cannot pose as a new line of instructions.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"
IP_HIDDEN = "[ip hidden]"
URL_HIDDEN = "[url hidden]"
HOST_HIDDEN = "[host hidden]"

_SECRET_KEY = re.compile(
    r"key|token|secret|passw|passphrase|pwd|credential|auth(?!or(?!i))|private[_-]?(?:key|pem)|"
    r"signature|cookie|session|dsn|conn(?:ection)?[_-]?str|connection[_-]?(?:uri|url)|bearer|"
    r"certificate|webhook|deploy[_-]?hook|hook[_-]?url",
    re.IGNORECASE,
)
# Short words that name a password only as a whole word ("pass", "db_pass", "sshPw"); as
# substrings they would hide "compass" or "bypass".
_SECRET_WORDS = frozenset({"pass", "pw", "pswd", "passwd"})
# Words in a key's name that say its value is a network location (masked whole in channels).
_NETWORK_WORDS = frozenset(
    {
        *("ip", "ips", "ipv4", "ipv6", "v4", "v6", "address", "addresses", "gateway"),
        *("host", "hosts", "hostname", "hostnames", "fqdn", "dns", "nameservers"),
        *("url", "urls", "uri", "uris", "endpoint", "endpoints", "network", "networks"),
    }
)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORD_SPLIT = re.compile(r"[_\-\s.]+")

# Each pattern with literals one of which is in every text it matches: a text holding none of
# them skips the scan, which costs about 0.3 µs a character (the alternation below is tried at
# every position). tests/unit/test_redact_hints.py checks each hint against the pattern.
_PREFIXED_TOKENS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("sk-",), r"\bsk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{16,}"),
    (("xox",), r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    (("xapp-",), r"\bxapp-[A-Za-z0-9\-]{10,}"),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    (("github_pat_",), r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    (("glpat-",), r"\bglpat-[A-Za-z0-9_\-]{16,}"),
    (("AKIA", "ASIA"), r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    (("AIza",), r"\bAIza[0-9A-Za-z_\-]{30,}"),
    (("_live_", "_test_"), r"\b(?:sk|pk|rk|sdk|whsec)_(?:live|test)_[A-Za-z0-9_]{8,}"),
    (("_v1_",), r"\bdo[opr]_v1_[a-f0-9]{32,}"),
    (("SG.",), r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),  # SendGrid
    (
        ("napi_", "nfp_", "sntrys_", "pscale_", "hvs_", "shpat_", "npm_"),
        r"\b(?:napi|nfp|sntrys|pscale_tkn|pscale_pw|pscale_oauth|hvs|shpat|npm)_[A-Za-z0-9_]{16,}",
    ),
    (("eyJ",), r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"),
    (
        ("-----BEGIN ",),
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    ),
    (("|",), r"\b(?:prod|dev|preview):[a-z0-9\-]+\|[A-Za-z0-9+/=_\-]{16,}"),  # Convex deploy keys
    # Incoming-webhook URLs: whoever holds one may post into the channel.
    (
        ("://hooks.slack.com/",),
        r"\bhttps?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]+",
    ),
    (
        (".com/api/webhooks/",),
        r"\bhttps?://(?:[a-z]+\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]+",
    ),
)
_TOKEN = re.compile("|".join(f"(?:{p})" for _, p in _PREFIXED_TOKENS))
_TOKEN_HINTS = tuple(hint for hints, _ in _PREFIXED_TOKENS for hint in hints)
_TOKEN_MIN_CHARS = 15  # the shortest text any of them matches (the test checks it)
_AUTH_HEADER = re.compile(r"\b(Bearer|Basic|Token)\s+(?=\S*\d)[A-Za-z0-9._~+/=\-]{8,}", re.I)
_URL_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.\-]*://[^\s:/@]+):([^\s@/]+)@", re.I)
_ASSIGNMENT = re.compile(
    r"\b([\w.\-]*?(?:api[_-]?key|apikey|access[_-]?key|secret(?:[_-]?key)?|client[_-]?secret|"
    r"password|passwd|pwd|token|auth[_-]?token|private[_-]?key)\"?\s*[:=]\s*\"?)"
    r"([^\s\"',;&]{4,})",
    re.IGNORECASE,
)
_PASS_ASSIGNMENT = re.compile(
    r"((?:(?<![A-Za-z])(?i:pass(?:phrase)?|pw|pswd)|(?<=[a-z0-9])(?:Pass|PASS|Pw|PW))\"?\s*[:=]\s*\"?)"
    r"([^\s\"',;&]{3,})"
)
# "my password is hunter2", "the token for prod was abc": the secret is the word that follows.
_SPOKEN_SECRET = re.compile(
    r"\b((?:pass(?:word|phrase|code|wd)?|pwd|pw|secret(?:\s+key)?|api\s+key|access\s+key|token)"
    r"(?:\s+(?:for|of|on|to)\s+\S+)?(?:\s+(?:is|was)\s*:?\s+|\s*[:=]\s*))"
    r"(?!(?:not|no|wrong|invalid|incorrect|expired|correct|right|too|the|a|an|being|still|set|"
    r"stored|saved|kept|in|on|at|for|fine|ok|okay|working|broken|reset|changed|required|missing|"
    r"empty|same|different|rotated|revoked|valid|needed|used|it|that|this|what|where|why|how)(?:[\s.,;!?]|$))"
    r"(\"[^\"]+\"|'[^']+'|\S+)",
    re.IGNORECASE,
)
_SPOKEN_WORDS = ("pass", "pwd", "pw", "secret", "key", "token")
# AWS secret access keys are 40 base64 characters, often with one digit or none, so the
# general rule misses them; with "aws" or "secret access" on the same line, shape is enough.
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")
_AWS_CONTEXT = re.compile(r"aws|amazon|secret[\s_-]*access", re.IGNORECASE)
_AWS_WORDS = ("aws", "amazon", "access")
_CANDIDATE = re.compile(r"[A-Za-z0-9_+/=\-]{24,}")
# A word after which a secret may follow within a few words (StreamScrubber never cuts there).
_ANNOUNCES_SECRET = re.compile(
    r"(?i)\b(?:pass\w*|pwd|pw|secret\w*|\w*key|\w*token|bearer|basic)\b[^\n]{0,48}$"
)
_KEY_CHARS = 64  # a payload's key names are data too
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")

_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_IPV4 = re.compile(rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\d.])")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_URL = re.compile(r"\b(?:[a-z][a-z0-9+.\-]*://|www\.)[^\s<>\"'`)\]]+", re.IGNORECASE)
_HOSTNAME = re.compile(
    r"\b(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9\-]{1,62}\b", re.IGNORECASE
)


def _entropy(token: str) -> float:
    counts = Counter(token)
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def _url_path(token: str) -> bool:
    """A URL path such as github.com/AcmeCloud/web-App2024/tree/main, not a key."""
    return "/" in token and any(part.isalpha() and part.islower() for part in token.split("/"))


def _looks_random(token: str) -> bool:
    """A long run mixing cases and digits with high entropy: an API key, not a word or an id."""
    if _url_path(token):
        return False
    upper = sum(c.isupper() for c in token)
    lower = sum(c.islower() for c in token)
    digits = sum(c.isdigit() for c in token)
    if upper < 2 or lower < 2 or digits < 2:
        return False
    return _entropy(token) >= 3.7


def _replace_random(match: re.Match[str]) -> str:
    return REDACTED if _looks_random(match.group(0)) else match.group(0)


def _aws_secrets(line: str) -> str:
    if not _AWS_CONTEXT.search(line):
        return line

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        mixed = any(c.isupper() for c in token) and any(c.islower() for c in token)
        if mixed and not _url_path(token) and _entropy(token) >= 4.0:
            return REDACTED
        return token

    return _AWS_SECRET.sub(replace, line)


# The characters other than ASCII letters that IGNORECASE matches to an ASCII letter, as that
# letter; `lower()` alone leaves them be, or (İ) makes two characters of one.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


class _Words:
    """The words a text may hold, checked on a lowercased copy before a regex scans for them.

    The copy is folded as IGNORECASE matches (a pattern's "s" matches "ſ" too), so a word a
    case-insensitive pattern would find is always in it and skipping the scan changes nothing.
    """

    __slots__ = ("_lowered", "_text")

    def __init__(self, text: str) -> None:
        self._text = ""
        self._lowered = ""
        self.update(text)

    def update(self, text: str) -> None:
        """Follows the text after a scan replaced part of it."""
        if text is self._text:
            return
        self._text = text
        self._lowered = text.lower() if text.isascii() else text.translate(_FOLD).lower()

    def any_of(self, words: tuple[str, ...]) -> bool:
        return _holds_any(self._lowered, words)


def _holds_any(text: str, literals: tuple[str, ...]) -> bool:
    for literal in literals:  # noqa: SIM110 (any() over a generator costs twice as much here)
        if literal in text:
            return True
    return False


_AUTH_WORDS = ("bearer", "basic", "token")
_ASSIGNMENT_WORDS = ("key", "secret", "passw", "pwd", "token")  # one in each of its names
_PASS_WORDS = ("pass", "pw", "psw")
_ASSIGNED = (":", "=")


def scrub_text(text: str) -> str:
    """`text` with secret-looking substrings replaced by "[redacted]", and without NUL or
    unpaired surrogates.

    NUL is never text anyone meant, and PostgreSQL refuses it in a text column: a question or
    an answer holding one could not be recorded, so every question would end in the spool
    instead of the audit trail."""
    if not text:
        return text
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii() and _SURROGATE.search(text):
        # Half of a UTF-16 pair (a JSON "\ud800" decodes to one) can't be encoded to UTF-8:
        # no database would take the text, and the driver's error would quote it.
        text = _SURROGATE.sub("\ufffd", text)
    # Each scan below runs only when the text holds what every one of its matches holds, so
    # skipping it changes nothing; most text holds none, and these checks are far cheaper
    # than the scans.
    if len(text) >= _TOKEN_MIN_CHARS and _holds_any(text, _TOKEN_HINTS):
        text = _TOKEN.sub(REDACTED, text)
    words = _Words(text)
    if words.any_of(_AUTH_WORDS):
        text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if "@" in text and "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    assigned = _holds_any(text, _ASSIGNED)
    words.update(text)
    if assigned and words.any_of(_ASSIGNMENT_WORDS):
        text = _ASSIGNMENT.sub(lambda m: m.group(1) + REDACTED, text)
        words.update(text)
    if assigned and words.any_of(_PASS_WORDS):
        text = _PASS_ASSIGNMENT.sub(lambda m: m.group(1) + REDACTED, text)
        words.update(text)
    if words.any_of(_SPOKEN_WORDS):
        text = _SPOKEN_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
        words.update(text)
    if words.any_of(_AWS_WORDS) and _AWS_CONTEXT.search(text):
        # Line by line, so a streamed answer (scrubbed per line) and its whole text agree.
        text = "\n".join(_aws_secrets(line) for line in text.split("\n"))
    if len(text) < 24:
        return text  # shorter than any run _CANDIDATE looks at
    return _CANDIDATE.sub(_replace_random, text)


def one_line(text: str, limit: int) -> str:
    """`text` as one line of at most `limit` characters: line breaks, control and invisible
    characters become spaces, runs of spaces one. For data that must not pass for a new line
    of a prompt, or break a chat message's layout."""
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        flat = text  # already one line: no control, invisible or line-breaking character
    else:
        flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def _words(name: str) -> list[str]:
    return _WORD_SPLIT.split(_CAMEL.sub(r"\1_\2", name).lower())


def is_secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.search(name)) or any(w in _SECRET_WORDS for w in _words(name))


def is_network_key(name: str) -> bool:
    return any(word in _NETWORK_WORDS for word in _words(name))


def _mask_ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0))
    except ValueError:
        return match.group(0)
    return IP_HIDDEN


def mask_network_detail(value: str, *, hostnames: bool = True) -> str:
    """`value` with URLs, IPv4/IPv6 addresses and (unless told not to) hostnames masked."""
    value = _URL.sub(URL_HIDDEN, value)
    value = _IPV4.sub(IP_HIDDEN, value)
    if ":" in value:
        value = _IPV6_CANDIDATE.sub(_mask_ipv6, value)
    if hostnames:
        value = _HOSTNAME.sub(HOST_HIDDEN, value)
    return value


def redact_for_channel(
    doc: Any, show_detail: bool, *, max_chars: int | None = None, _key: str = ""
) -> Any:
    """A copy of `doc` whose strings are scrubbed of secrets and, unless `show_detail`, of
    network detail: fields named like hosts/IPs/URLs are masked whole, and IPs and URLs inside
    any other string are masked too. With `max_chars`, every string (and mapping key) is also
    made `one_line` of at most that many characters: for data headed to a model."""
    if isinstance(doc, str):
        text = scrub_text(doc)
        if not show_detail:
            text = mask_network_detail(text, hostnames=is_network_key(_key))
        return text if max_chars is None else one_line(text, max_chars)
    if isinstance(doc, Mapping):
        return {
            (str(k) if max_chars is None else one_line(str(k), _KEY_CHARS)): redact_for_channel(
                v, show_detail, max_chars=max_chars, _key=str(k)
            )
            for k, v in doc.items()
        }
    if isinstance(doc, list | tuple):
        return [redact_for_channel(v, show_detail, max_chars=max_chars, _key=_key) for v in doc]
    return doc


def _clean(value: Any, depth: int) -> Any:
    if isinstance(value, Mapping):
        if depth > 6:
            return "[nested data omitted]"
        return {
            one_line(str(k), _KEY_CHARS): _clean(v, depth + 1)
            for k, v in value.items()
            if not is_secret_key(str(k))
        }
    if isinstance(value, list | tuple):
        if depth > 6:
            return "[nested data omitted]"
        kept = [_clean(v, depth + 1) for v in value[:20]]
        if len(value) > 20:
            kept.append(f"[{len(value) - 20} more items]")
        return kept
    if isinstance(value, str):
        return one_line(scrub_text(value), 200)
    if value is None or isinstance(value, bool | int | float):
        return value
    return one_line(scrub_text(str(value)), 200)


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str, ensure_ascii=False))


def safe_details(full_api_data: Any, max_chars: int = 1500) -> dict[str, Any]:
    """A redacted copy of a provider payload whose JSON stays within about `max_chars`.

    Keys are kept in order until the budget runs out; the rest are named in `_omitted` so the
    model can say the payload holds more than it was shown.
    """
    if not isinstance(full_api_data, Mapping):
        return {}
    cleaned = _clean(full_api_data, 0)
    if _size(cleaned) <= max_chars:
        return cleaned
    kept: dict[str, Any] = {}
    used = 2
    budget = max(max_chars - 240, max_chars // 2)  # room for the `_omitted` note
    omitted: list[str] = []
    for key, value in cleaned.items():
        cost = _size({key: value})
        if used + cost <= budget:
            kept[key] = value
            used += cost
        else:
            omitted.append(key)
    if omitted:
        kept["_omitted"] = (f"{len(omitted)} more fields: " + ", ".join(omitted[:10]))[:200]
    return kept


_STANDARD_RECORD_KEYS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class SecretFilter(logging.Filter):
    """Scrubs every log record (message, arguments, traceback, extra fields) with scrub_text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string must not lose the record
            message = f"{record.msg} {record.args}"
        record.msg = scrub_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        for key, value in list(vars(record).items()):
            if key in _STANDARD_RECORD_KEYS:
                continue
            if is_secret_key(key):
                setattr(record, key, REDACTED)
            elif isinstance(value, str):
                setattr(record, key, scrub_text(value))
        return True


class StreamScrubber:
    """Scrubs streamed text at boundaries no secret pattern spans: line ends, or a space once
    `max_hold` characters are waiting. The concatenated output equals scrub_text of the whole,
    line by line, so a streamed answer and its final text agree.
    """

    def __init__(self, max_hold: int = 240) -> None:
        self._pending = ""
        self._max_hold = max_hold

    def feed(self, text: str) -> str:
        self._pending += text
        cut = self._pending.rfind("\n") + 1
        if cut == 0 and len(self._pending) > self._max_hold:
            cut = self._space_cut(self._pending)
        if cut <= 0:
            return ""
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return scrub_text(ready)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return scrub_text(rest)

    @staticmethod
    def _space_cut(line: str) -> int:
        """Where a long line may be cut: at a space, but never between a word that announces
        a secret ("password is", "token:") and the secret, and not at all on a line that
        mentions AWS (its keys are recognised by the line they sit on)."""
        if _AWS_CONTEXT.search(line):
            return 0
        cut = line.rfind(" ", 0, len(line) - 64) + 1
        announced = _ANNOUNCES_SECRET.search(line, 0, cut)
        return announced.start() if announced else cut
