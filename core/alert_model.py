"""What alerts are made of: channel subscriptions, one alert per problem episode, and the
outbox of messages waiting to be posted.

A problem (core/problems.py) is known by its identity, `kind:resource id:reason`, so the same
monitor going down twice is the same alert's episodes, and its event counts ticking up are not
a new problem. Alerts and their messages are written by detection (wherever the mirror changes)
and posted by delivery (wherever a chat connection is held); the store keeps both exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
DEFAULT_SEVERITY = "high"
# A problem back within this long of resolving reopens its alert instead of posting a new one.
FLAP_WINDOW = timedelta(minutes=15)
MUTE_FOR = timedelta(hours=24)
# How long resolved alerts are kept in view: flapping, mutes and the digest's "resolved since".
KEPT_FOR = timedelta(days=2)
TARGET_PLATFORMS: tuple[str, ...] = ("slack", "discord")

AlertStatus = Literal["open", "resolved"]
MessageKind = Literal["post", "update", "reply", "notice"]


class TargetError(ValueError):
    """A subscription target that is not `slack:TEAM:CHANNEL` or `discord:GUILD:CHANNEL`."""


@dataclass(frozen=True, slots=True)
class Target:
    """A channel alerts are posted to: `slack:TEAM:CHANNEL` or `discord:GUILD:CHANNEL`."""

    platform: str
    workspace: str
    channel: str

    @classmethod
    def parse(cls, text: str) -> Target:
        parts = text.split(":")
        if len(parts) != 3 or parts[0] not in TARGET_PLATFORMS or not all(parts[1:]):
            raise TargetError(
                "TARGET must be a channel: slack:TEAM:CHANNEL or discord:GUILD:CHANNEL"
            )
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}"

    @property
    def bindings(self) -> tuple[str, str]:
        """The binding keys that cover this channel, most specific first."""
        return str(self), f"{self.platform}:{self.workspace}"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def at_least(severity: str, threshold: str) -> bool:
    """Whether `severity` is `threshold` or more severe."""
    return severity_rank(severity) <= severity_rank(threshold)


@dataclass(frozen=True, slots=True)
class Subscription:
    target: str
    org_id: str
    min_severity: str = DEFAULT_SEVERITY
    digest_at: str | None = None  # "HH:MM" in the alerts' time zone
    created_at: datetime | None = None
    created_by: str = ""
    last_digest_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    """One problem's alert in one channel: opened, maybe resolved and reopened, maybe muted."""

    id: str
    target: str
    org_id: str
    problem_key: str  # kind:resource id:reason
    kind: str
    resource_id: str
    name: str  # scrubbed of secrets; network detail is masked when shown
    severity: str
    detail: str
    opened_at: datetime
    status: AlertStatus = "open"
    resolved_at: datetime | None = None
    # False for a problem already open when the channel subscribed: counted in the
    # "subscribed" message, never posted, edited or replied to on its own.
    announced: bool = True
    post_id: int | None = None  # the outbox row of its top-level message, once written
    muted_until: datetime | None = None
    muted_by: str | None = None
    changes: int = 0  # transitions so far: names each one, for idempotent messages

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message for the outbox. `dedupe` names it for good: written twice, stored once."""

    target: str
    kind: MessageKind
    dedupe: str
    action: str  # the audit action its delivery records: alert.sent, alert.resolved, ...
    alert_id: str | None = None  # post: the alert it opens; update/reply: whose message
    text: str = ""  # reply and notice: the words, fixed when detected


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A claimed outbox message."""

    id: int
    target: str
    kind: MessageKind
    dedupe: str
    action: str
    alert_id: str | None
    text: str
    created_at: datetime
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Posted:
    """A top-level message already in the channel, and every alert it shows (a grouped
    message shows several)."""

    ref: str  # the platform's message id (Slack ts, Discord message id)
    post_ids: tuple[int, ...]
    alerts: tuple[AlertState, ...]


@dataclass
class Plan:
    """What one detection pass changes, written in one transaction."""

    new: list[AlertState] = field(default_factory=list)
    changed: list[AlertState] = field(default_factory=list)
    messages: list[Outgoing] = field(default_factory=list)
    digests: dict[str, datetime] = field(default_factory=dict)  # target -> digest sent at

    def __bool__(self) -> bool:
        return bool(self.new or self.changed or self.messages or self.digests)
