"""Slack's request signature, checked without trusting a single byte of what was sent.

slack_sdk's verifier calls `int()` on the timestamp header and `hmac.compare_digest` on the
signature as given, so `abc` or a non-ASCII signature raises instead of failing: an unsigned
request became a 500. Here every header is matched against the exact form Slack sends first,
and anything else is simply "not signed".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from typing import Protocol

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
MAX_AGE_S = 5 * 60  # Slack's own replay window

# Unix seconds in ASCII digits (`[0-9]`, not `\d`, which also takes other scripts' digits);
# twelve digits is far beyond any real clock and keeps `int()` trivially small.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class Headers(Protocol):
    def getall(self, key: str, default: list[str]) -> list[str]: ...


def _one(headers: Headers, name: str) -> str | None:
    # A repeated header is ambiguous: Bolt and this check could each read a different copy.
    values = headers.getall(name, [])
    return values[0] if len(values) == 1 else None


def fresh_timestamp(headers: Headers, now: Callable[[], float] = time.time) -> str | None:
    """The timestamp header when it is well formed, recent, and the signature looks like one."""
    timestamp, signature = _one(headers, TIMESTAMP_HEADER), _one(headers, SIGNATURE_HEADER)
    if timestamp is None or signature is None:
        return None
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return None
    if abs(now() - int(timestamp)) > MAX_AGE_S:
        return None
    return timestamp


def signed(
    secret: str, body: bytes, headers: Headers, now: Callable[[], float] = time.time
) -> bool:
    """Whether `body` carries a valid, fresh Slack signature made with `secret`."""
    timestamp = fresh_timestamp(headers, now)
    if timestamp is None:
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + body  # Slack signs the raw bytes
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    given = _one(headers, SIGNATURE_HEADER) or ""
    return hmac.compare_digest(expected, given)
