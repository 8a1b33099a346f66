"""Plain domain objects shared by every floor of the core and by the adapters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

# The longest question the assistant takes; platforms that can cap input say so up front.
MAX_QUESTION_CHARS = 4000


class Outcome(StrEnum):
    """How a question ended; one audit row records exactly one of these."""

    ANSWERED = "answered"
    DENIED = "denied"
    RATE_LIMITED = "rate_limited"
    OVER_BUDGET = "over_budget"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the asker stopped the answer under way


@dataclass(frozen=True, slots=True)
class Inbound:
    """One question from a person, already translated out of its platform."""

    # slack:TEAM:USER, discord:GUILD:USER, discord:@me:USER, email:ADDR, or a user _id
    identity: str
    text: str
    # No defaults: a shared channel mistaken for a DM would skip the binding check and show
    # addresses to everyone in it, so every adapter must say where the question came from.
    platform: Literal["console", "slack", "discord"]
    is_dm: bool
    conversation_key: str = ""  # a thread's identity; history is kept per key
    workspace: str | None = None  # Slack team or Discord guild
    channel: str | None = None
    email: str | None = None  # an email the platform vouches for (Slack users.info)
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a question is not answered, worded for the person; no model call follows."""

    reason: str
    text: str
    outcome: Outcome = Outcome.DENIED
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, resolved against StackDock: user, org, role and effective permissions."""

    identity: str
    user_id: str
    user_name: str
    email: str
    org_id: str
    org_name: str
    role_name: str
    permissions: Mapping[str, str]  # area -> none|read|full, the `ai` fallback already applied
    is_dm: bool = True
    show_detail: bool = True  # IPs, URLs and hostnames may be shown
    instructions: str = ""  # the binding's words for where they asked (see Binding)


@dataclass(frozen=True, slots=True)
class Binding:
    """A chat workspace or channel bound to a StackDock org."""

    # slack:TEAM[:CHANNEL] or discord:GUILD[:CHANNEL]; a person's own identity binds their DMs
    target: str
    org_id: str
    allow_detail: bool = False
    # The org's own words for the assistant here (language, tone, focus); data, never a rule.
    instructions: str = ""


# ---- the model conversation, in a provider-neutral shape ----


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # set on role="tool"
    name: str | None = None  # the tool's name on role="tool"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: Mapping[str, Any]  # JSON Schema of the arguments


@dataclass(frozen=True, slots=True)
class ToolResult:
    content: Mapping[str, Any]  # what goes back to the model, already scoped and redacted
    summary: str  # one line for people: "Looked up 12 servers"
    is_error: bool = False


@dataclass(slots=True)
class Usage:
    """Tokens and cost of model calls. None means the server did not say; never invent it."""

    provider: str
    model: str
    # Every prompt token the model processed; cache reads and writes are parts of it.
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal | None = None
    calls: int = 1

    def add(self, other: Usage) -> Usage:
        def plus(a: int | None, b: int | None) -> int | None:
            return None if a is None or b is None else a + b

        cost = (
            None
            if self.cost_usd is None or other.cost_usd is None
            else self.cost_usd + other.cost_usd
        )
        return Usage(
            provider=self.provider,
            model=self.model,
            input_tokens=plus(self.input_tokens, other.input_tokens),
            output_tokens=plus(self.output_tokens, other.output_tokens),
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cost_usd=cost,
            calls=self.calls + other.calls,
        )


# ---- what a provider's single model turn yields ----


@dataclass(frozen=True, slots=True)
class TurnEnd:
    """Last event of one model turn: the tool calls it asked for (maybe none) and its usage."""

    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    stop_reason: str = "end"


# ---- what Assistant.handle streams to an adapter ----


@dataclass(frozen=True, slots=True)
class Status:
    text: str  # "Thinking…", "Looking up servers…"
    # Set when a tool call starts: the `ToolStep.key` of the step that will say how it ended.
    step: str | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolStep:
    name: str
    arguments: Mapping[str, Any]
    summary: str
    is_error: bool = False

    @property
    def key(self) -> str:
        return tool_step_key(self.name, self.arguments)


def tool_step_key(name: str, arguments: Mapping[str, Any]) -> str:
    """Names one tool call in a reply, so its start (a Status) and its end (a ToolStep) meet."""
    return name + ":" + json.dumps(arguments, sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class Final:
    """The whole answer; an adapter that did not stream shows this text."""

    text: str
    audit_id: int | None
    model: str | None = None
    usage: Usage | None = None
    outcome: Outcome = Outcome.ANSWERED


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A refusal or failure, already worded for the person."""

    text: str
    outcome: Outcome
    reason: str  # machine code: unknown_user, no_org, denied, unbound_channel, rate_limited, ...
    retry_after_s: float | None = None
    audit_id: int | None = None


ReplyEvent = Status | TextDelta | ToolStep | Final | ErrorReply


# ---- records persisted by the store ----


@dataclass(slots=True)
class AuditRecord:
    """One question's audit row. hash/prev_hash/id are filled in by the store when appended."""

    timestamp: datetime
    identity: str
    platform: str
    result: Outcome
    org_id: str | None = None
    user_id: str | None = None
    channel: str | None = None
    is_dm: bool = True
    action: str = "ai.chat"
    reason: str | None = None
    question: str | None = None  # text, or "sha256:<hex>" when content is not stored
    answer: str | None = None
    tools: list[str] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: Decimal | None = None
    latency_ms: int | None = None
    error_message: str | None = None
    retry_after_s: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


@dataclass(frozen=True, slots=True)
class UsageRecord:
    timestamp: datetime
    org_id: str
    user_id: str
    identity: str
    usage: Usage
    audit_id: int | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    count: int  # questions in the window, this one included when admitted
    retry_after_s: float = 0.0
    spent: Decimal | None = None  # the org's spend since the cap's start, when a cap was given


@dataclass(frozen=True, slots=True)
class SpendCap:
    """An org's budget, checked by the admission itself: once `spent` since `since` reaches
    `budget` the question is refused before it takes a slot."""

    org_id: str
    since: datetime
    budget: Decimal


class ProviderError(Exception):
    """A model call that failed in a way the person must be told about.

    kind: busy (429/529), auth (401/403), timeout, server (5xx), bad_response (malformed),
    context_exceeded (the conversation is longer than the model's window), cut_off (the model
    reached its output cap before writing anything usable).
    """

    def __init__(
        self,
        kind: Literal[
            "busy", "auth", "timeout", "server", "bad_response", "context_exceeded", "cut_off"
        ],
        message: str,
        *,
        provider: str = "",
        retry_after_s: float | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.provider = provider
        self.retry_after_s = retry_after_s
        self.usage = usage  # tokens already spent before the failure, if any
        self.attempts: list[str] = []  # set by the tool loop: "openai:busy", "anthropic:timeout"


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What `audit prune` did: rows deleted, and the anchor the oldest kept row now chains to."""

    deleted: int
    first_kept_id: int | None  # None when the trail is empty
    anchor_hash: str | None  # prev_hash of the first kept row; None when nothing was ever pruned
