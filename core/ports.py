"""The ports the core depends on. Each has one production adapter and one in-memory fake."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from core.alert_model import AlertState, OutboxRow, Outgoing, Plan, Posted, Subscription
from core.models import (
    Admission,
    AuditRecord,
    Binding,
    ChatMessage,
    Inbound,
    Principal,
    PruneResult,
    Refusal,
    ReplyEvent,
    SpendCap,
    TextDelta,
    ToolResult,
    ToolSpec,
    TurnEnd,
    UsageRecord,
)

if TYPE_CHECKING:
    from core.usage import UsageReport, UsageView

Document = Mapping[str, Any]


class AssistantPort(Protocol):
    """The one driving port: everything a chat adapter may ask of the core, and nothing else.

    Implemented by `core.service.AssistantService`; adapters translate platform events into
    these calls and their results back into messages.
    """

    def answer(self, inbound: Inbound) -> AsyncGenerator[ReplyEvent, None]:
        """Streams the answer; the last event is a Final or an ErrorReply. Exactly one audit
        row is written for the question, however the stream ends (closed early included)."""

    async def stop(self, conversation_key: str, identity: str) -> bool:
        """Stops the answers `identity` asked that are under way in the conversation (the
        `conversation_key` their Inbound carried): the model call is cancelled and the answer
        ends with ErrorReply(outcome=CANCELLED, reason="stopped"). True when one was under way
        in this process; False otherwise (the Stop is then left for other workers)."""

    async def resolve(self, inbound: Inbound) -> Principal | Refusal:
        """Who is asking, or why they can't: for showing anything on someone's behalf."""

    async def engaged(self, conversation_key: str) -> bool:
        """Whether later replies in this thread are answered without a mention."""

    async def claim_event(self, event_id: str) -> bool:
        """True for the first delivery of an event across every worker; re-deliveries False."""

    async def usage(self, inbound: Inbound) -> UsageView: ...

    async def link(self, inbound: Inbound, target_user: str | None, user_ref: str) -> str:
        """Links a member of the workspace the command came from; the reply to show."""

    async def feedback(self, audit_id: int, inbound: Inbound, value: int) -> bool:
        """Rates an answer; False when there is no such answer or the rater did not ask it."""

    async def instructions(self, inbound: Inbound, text: str) -> str:
        """`instructions [TEXT|clear]` in a channel: shows, sets (ai:full) or clears the
        channel's instructions to the assistant; the reply to show."""

    async def alerts(self, inbound: Inbound, text: str) -> str:
        """`alerts [on [severity]|off]` in a channel: shows, or (ai:full) turns on or off, the
        channel's alerts (core/alert_commands.py); the reply to show."""

    async def mute_alert(self, inbound: Inbound, ref: str) -> str:
        """Mute 24 h pressed on alert message `ref` (ai:full); the reply to show the presser."""

    async def alert_question(self, inbound: Inbound, ref: str) -> str | None:
        """The question Explain asks as the presser, in the alert's thread (answered through
        `answer` like any other); None when `ref` names no alert of the channel pressed in."""

    def help_text(self) -> str: ...
    def topics(self) -> tuple[str, ...]: ...
    def suggested_prompts(self, topic: str | None = None) -> list[str]: ...

    def echo(self, text: str) -> str:
        """A person's words as the bot may repeat them in public: one line, secrets scrubbed."""


class Mirror(Protocol):
    """Read side of the StackDock mirror: plain, synchronous, in-memory lookups."""

    @property
    def as_of(self) -> datetime | None:
        """When the mirrored data was last known to match StackDock."""

    @property
    def version(self) -> int:
        """Grows on every change of the data."""

    def organization(self, org_id: str) -> Document | None: ...
    def organizations(self) -> Sequence[Document]: ...
    def user(self, user_id: str) -> Document | None: ...
    def user_by_email(self, email: str) -> Document | None: ...
    def memberships(self, user_id: str) -> Sequence[Document]: ...
    def role(self, role_id: str) -> Document | None: ...
    def rows(self, org_id: str, table: str) -> Sequence[Document]:
        """Every document of `table` that belongs to `org_id` (empty when none)."""

    def replace(self, tables: Mapping[str, Sequence[Document]], as_of: datetime) -> None: ...
    def apply(
        self, table: str, upserts: Sequence[Document], deletes: Sequence[str], as_of: datetime
    ) -> None: ...


class Provider(Protocol):
    """One model turn: stream text, then say which tools it wants called."""

    name: str
    model: str

    def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        """Yields TextDelta events, then exactly one TurnEnd. Raises ProviderError."""


class ToolRunner(Protocol):
    """The asker's tools: already bound to their org and permissions."""

    def specs(self) -> Sequence[ToolSpec]: ...
    async def call(self, name: str, arguments: Mapping[str, Any]) -> ToolResult: ...


class LinkRepo(Protocol):
    async def set(self, identity: str, user_ref: str, org_id: str | None = None) -> None:
        """`org_id` is the org whose binding vouched for a link made in chat: the link counts
        for that org only. An operator's link (None) counts for every org of the user."""

    async def remove(self, identity: str) -> bool: ...
    async def get(self, identity: str) -> str | None: ...
    async def vouched(self, identity: str) -> tuple[str, str | None] | None:
        """The user ref of a link and the org it counts for (None: every org of the user)."""

    async def all(self) -> list[tuple[str, str]]: ...
    async def all_vouched(self) -> list[tuple[str, str, str | None]]:
        """Every link as (identity, user ref, org it counts for)."""


class BindingRepo(Protocol):
    async def set(self, binding: Binding) -> None: ...
    async def remove(self, target: str) -> bool: ...
    async def get(self, target: str) -> Binding | None: ...
    async def all(self) -> list[Binding]: ...


class ConversationRepo(Protocol):
    async def history(self, key: str, limit: int, org_id: str | None = None) -> list[ChatMessage]:
        """The newest `limit` messages of a conversation, oldest first; with `org_id`, only
        those written while the conversation answered for that org."""

    async def append(
        self, key: str, messages: Sequence[ChatMessage], *, org_id: str, user_id: str
    ) -> None: ...


class AuditRepo(Protocol):
    async def append(self, record: AuditRecord) -> AuditRecord:
        """Stores the row durably; returns it with its id set. A store may chain it later
        (prev_hash and hash stay None until then), so that no writer waits for the chain."""

    async def seal(self) -> int:
        """Chains every stored row not yet chained, in order; returns how many."""

    def iter(self, since: datetime | None = None) -> AsyncIterator[AuditRecord]:
        """Rows in chain order, every durable row sealed first, streamed so that millions fit
        in bounded memory."""

    async def asker(self, audit_id: int) -> str | None:
        """The identity that asked the question of this row; None when there is no such row."""

    async def set_feedback(self, audit_id: int, identity: str, value: int) -> bool: ...

    async def anchor(self) -> str | None:
        """The prev_hash the oldest kept row must carry after a prune; None means GENESIS."""

    async def prune(self, before: datetime) -> PruneResult:
        """Deletes the oldest rows, up to the first row at or after `before`, and records the
        anchor so the rest still verifies. The newest row is always kept, so the chain goes on."""


class UsageRepo(Protocol):
    async def record(self, record: UsageRecord) -> None: ...
    async def spend(self, org_id: str, since: datetime) -> Decimal: ...
    def iter(
        self, since: datetime | None = None, org_id: str | None = None
    ) -> AsyncIterator[UsageRecord]: ...


class RateLimitRepo(Protocol):
    async def admit(
        self,
        key: str,
        limit: int,
        window_s: float,
        now: datetime,
        *,
        pending: AuditRecord | None = None,
        cap: SpendCap | None = None,
    ) -> Admission:
        """Atomically: count hits of `key` in the window, and record one more if under `limit`.

        When admitted, `pending` (the question's record so far) is opened as by
        `PendingRepo.open` in the same transaction, holding that hit: the admission costs no
        extra round trip, and an interrupted question gives its hit back.

        With a `cap`, the org's spend since `cap.since` is read first (in the same round trip)
        and returned as `spent`; when it has reached `cap.budget` nothing is counted or taken
        and the admission is refused."""


# The audit row's metadata key naming the question, from admission to its recorded row.
QUESTION_ID = "question_id"


class PendingRepo(Protocol):
    """Questions admitted and not yet recorded: what a crash mid-answer leaves behind.

    A pending question is cleared in the transaction that writes its audit row (whose metadata
    holds the same QUESTION_ID), so one left over belongs to a process that stopped first.
    """

    async def open(self, record: AuditRecord) -> None:
        """Keeps `record` (named by its metadata's QUESTION_ID) until its row is written."""

    async def stale(self, lease_s: float, now: datetime) -> list[AuditRecord]:
        """Pending questions, oldest first, whose process is gone: opened by a process of this
        host that is no longer running, or anywhere more than `lease_s` before `now`. Never
        this process's own, which it records itself."""

    async def settle(self, record: AuditRecord) -> AuditRecord | None:
        """Atomically: clears the pending question `record` names, appends `record` to the
        audit chain, gives back its rate-limit hit and releases the claim on its event (so a
        re-delivery is answered). None, with nothing written, when it was already cleared."""


class MarkerRepo(Protocol):
    """Facts that must hold once for every process sharing the store (a notice was sent)."""

    async def mark(self, key: str, value: str) -> bool:
        """Records `key` if it is new; True only for the one call, across processes, that did."""

    async def get(self, key: str) -> str | None: ...

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The values of those of `keys` that are marked, in one read."""


class Notifier(Protocol):
    """Tells people something outside a conversation: a DM on the platform they use."""

    async def notify_budget(self, org_id: str, identities: list[str], text: str) -> None:
        """Tells `text` to these people. The core has decided who: `identities` are chat
        identities (`slack:TEAM:USER`, `discord:GUILD:USER`, `email:ADDR`); an adapter DMs
        the ones of its own platform and leaves the rest to the others."""


class EventRepo(Protocol):
    async def claim(self, event_id: str, now: datetime) -> bool:
        """True for the first claim of an event id, across every process sharing the store."""


class MirrorRepo(Protocol):
    """Persistence of the StackDock mirror and of sync state (cursors)."""

    async def replace(self, tables: Mapping[str, Sequence[Document]]) -> None: ...
    async def apply(
        self, table: str, upserts: Sequence[Document], deletes: Sequence[str]
    ) -> None: ...
    async def load(self) -> dict[str, list[dict[str, Any]]]: ...
    async def get_state(self, key: str) -> str | None: ...
    async def set_state(self, key: str, value: str) -> None: ...


class AlertRepo(Protocol):
    """Channel subscriptions, alert states and the outbox of alert messages (core/alerts.py).

    Detection writes states and messages in one transaction, serialized across processes;
    delivery claims a channel's messages under a lease and marks each one delivered with
    its audit row, so a message is posted once however processes start, stop or die."""

    async def subscribe(
        self,
        subscription: Subscription,
        baseline: Sequence[AlertState],
        notice: Outgoing,
        audit: AuditRecord,
    ) -> None:
        """Adds or replaces the target's subscription; `baseline` (the problems open now,
        which are announced as a count, never one by one) replaces its earlier alerts."""

    async def unsubscribe(self, target: str, audit: AuditRecord | None = None) -> bool:
        """Drops the subscription, its alerts and its undelivered messages."""

    async def subscriptions(self) -> list[Subscription]: ...
    async def subscription(self, target: str) -> Subscription | None: ...

    async def detect(
        self,
        as_of: datetime,
        now: datetime,
        decide: Callable[[list[Subscription], list[AlertState]], Plan],
    ) -> Plan | None:
        """One detection pass, alone across every process: `decide` gets the subscriptions and
        the alerts still in view (open, resolved or muted lately) and its Plan is written.
        None, with nothing written, when a pass over newer data (`as_of`) already ran."""

    async def claim(
        self, platform: str, worker: str, now: datetime, lease_s: float
    ) -> list[OutboxRow]:
        """The undelivered messages of one channel of `platform`, oldest first, leased to
        `worker` until now + `lease_s`; a channel whose messages another worker holds under
        a live lease is skipped. Empty when there is nothing to post."""

    async def renew(self, ids: Sequence[int], worker: str, until: datetime) -> None: ...

    async def alerts_of(self, post_ids: Sequence[int]) -> list[AlertState]:
        """The alerts these top-level messages announce."""

    async def posted(self, post_id: int) -> Posted | None:
        """The message a post row became and every alert it shows; ref "" when not posted."""

    async def alert(self, alert_id: str) -> AlertState | None: ...

    async def delivered(
        self, ids: Sequence[int], ref: str | None, now: datetime, audit: AuditRecord | None
    ) -> None:
        """Marks messages delivered (as platform message `ref`), with their audit row, at once."""

    async def release(self, ids: Sequence[int], retry_at: datetime, error: str) -> None:
        """Gives claimed messages back, to be tried again from `retry_at`."""

    async def mute(
        self, post_id: int, until: datetime, by: str, update: Outgoing, audit: AuditRecord
    ) -> Posted | None:
        """Mutes every alert of the message until `until`, queues its edit, audits it."""


@dataclass(frozen=True, slots=True)
class AlertCard:
    """An alert message as every platform shows it: a headline, lines, and when `ref` is
    set, the Explain and Mute 24 h buttons acting on it."""

    headline: str
    lines: tuple[str, ...]
    severity: str  # the most severe shown: the platform's colour
    ref: str = ""  # what the buttons carry; "" shows none
    resolved: bool = False


class DeliveryError(Exception):
    """A platform refused an alert message. `permanent` when trying again cannot help (the
    channel is gone, the bot was removed from it); otherwise it is tried again later."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class AlertSink(Protocol):
    """Posts alert messages in one platform's channels (the adapter holding its connection)."""

    @property
    def platform(self) -> str: ...

    def ready(self) -> bool:
        """Whether the connection is up (nothing is claimed while it is not)."""

    async def post(self, channel: str, card: AlertCard) -> str:
        """A top-level message; returns its id (Slack ts, Discord message id)."""

    async def edit(self, channel: str, ref: str, card: AlertCard) -> None: ...

    async def reply(self, channel: str, ref: str, text: str) -> str:
        """A reply in the thread of message `ref`."""


class Store(Protocol):
    # Read-only properties, not attributes: a Protocol attribute is invariant, so a store
    # holding a SqlLinkRepo would not be a Store; a property is covariant, and the core
    # never swaps a repo anyway.
    @property
    def links(self) -> LinkRepo: ...
    @property
    def bindings(self) -> BindingRepo: ...
    @property
    def conversations(self) -> ConversationRepo: ...
    @property
    def audit(self) -> AuditRepo: ...
    @property
    def usage(self) -> UsageRepo: ...
    @property
    def rate_limits(self) -> RateLimitRepo: ...
    @property
    def events(self) -> EventRepo: ...
    @property
    def mirror(self) -> MirrorRepo: ...
    @property
    def markers(self) -> MarkerRepo: ...
    @property
    def pending(self) -> PendingRepo: ...
    @property
    def alerts(self) -> AlertRepo: ...

    async def record_exchange(
        self,
        record: AuditRecord,
        *,
        conversation_key: str | None = None,
        messages: Sequence[ChatMessage] = (),
        usage: UsageRecord | None = None,
    ) -> AuditRecord:
        """Appends a question's audit row, its new messages and its usage in one transaction.

        All or nothing, so a crash never leaves a question half-recorded. The usage record
        gets the new audit row's id. The pending question the row's metadata names
        (QUESTION_ID), if any, is cleared in the same transaction.
        """

    async def ping(self) -> None:
        """Raises when the database cannot be reached."""

    async def close(self) -> None: ...


class AuditSpool(Protocol):
    """Somewhere outside the database for a question's record while the database is down."""

    async def put(self, record: AuditRecord, usage: UsageRecord | None = None) -> None: ...


class ChartRenderer(Protocol):
    """Draws the org's usage report as a picture for chat."""

    async def usage_chart(self, report: UsageReport, title: str) -> bytes:
        """A PNG; raises when it cannot be drawn (the text answer stands without it)."""
