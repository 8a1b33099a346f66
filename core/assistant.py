"""The pipeline: one question in, a stream of reply events out, exactly one audit row written.

Steps, in order: resolve the asker, check the `ai` permission, check budget and windows, load
the thread's history (cut to what this asker may read), run the provider's tool loop, persist
messages, usage and audit. A refusal makes no model call.

Whatever ends the question (an answer, a refusal, an outage, the chat platform going away
mid-answer), its audit row is written or spooled, and whatever the model cost by then is
recorded with it. Text the model wrote is scrubbed before it is shown, stored or audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from core import metrics
from core.access import allows
from core.history import visible_history
from core.identity import IdentityResolver
from core.limits import Limits
from core.mentions import defang
from core.models import (
    MAX_QUESTION_CHARS,
    AuditRecord,
    ChatMessage,
    ErrorReply,
    Final,
    Inbound,
    Outcome,
    Principal,
    ProviderError,
    Refusal,
    ReplyEvent,
    Status,
    TextDelta,
    ToolCall,
    ToolStep,
    Usage,
    UsageRecord,
)
from core.org_summary import SummaryCache
from core.ports import QUESTION_ID, AuditSpool, Mirror, Provider, Store
from core.prompts import HELP_TEXT, is_help, system_prompt
from core.providers.loop import LoopDone, LoopOutcome, LoopProgress, run_tool_loop
from core.providers.window import context_window, fit_history, reserve_tokens
from core.redact import StreamScrubber, scrub_text
from core.stopping import (
    STOPPED_REASON,
    STOPPED_TEXT,
    Sideline,
    Stopped,
    StopSignal,
    until_stopped,
)
from core.tool_starts import AnnouncingTools
from core.tools import OrgTools

log = logging.getLogger(__name__)

A = TypeVar("A")
B = TypeVar("B")

MAX_ANSWER_TOKENS = 2048
# How long an admitted question may stay unrecorded before another host takes it for lost. Far
# above any answer's time; on the same host a dead process is seen at once.
INTERRUPTED_LEASE_S = 600.0
INTERRUPTED_TEXT = "the process answering it stopped before its answer was recorded"
UNAVAILABLE_TEXT = (
    "The assistant is temporarily unavailable; the team has been told. Try again in a minute."
)


@dataclass(frozen=True, slots=True)
class AssistantConfig:
    store_content: bool = True
    max_steps: int = 6
    history_messages: int = 40
    context_window: int | None = None  # the primary model's window; None: known by its name
    answer_timeout_s: float | None = 120.0  # the whole answer, every turn and tool included
    max_answer_tokens: int = MAX_ANSWER_TOKENS  # each turn's output cap, kept free of history


def _content(text: str | None, store_content: bool) -> str | None:
    if text is None or store_content:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _owed(record: AuditRecord) -> bool:
    """The question's row is neither in the store nor waiting in the spool."""
    return record.id is None and not record.metadata.get("spooled")


def _scrubbed_value(value: Any) -> Any:
    """A tool call's argument as stored: every string in it scrubbed, however deep (the model
    wrote it, and a prompt injection can make it write anything)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [_scrubbed_value(v) for v in value]
    if isinstance(value, dict):
        return {scrub_text(str(k)): _scrubbed_value(v) for k, v in value.items()}
    return value


def _scrubbed(message: ChatMessage) -> ChatMessage:
    if message.role == "tool":
        return message  # built from redacted tool output already
    calls = tuple(
        ToolCall(c.id, c.name, {k: _scrubbed_value(v) for k, v in c.arguments.items()})
        for c in message.tool_calls
    )
    return ChatMessage(
        role=message.role,
        content=scrub_text(message.content),
        tool_calls=calls,
        tool_call_id=message.tool_call_id,
        name=message.name,
    )


async def _together(first: Awaitable[A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Both results, `second` running while `first` is awaited: `asyncio.gather` with one task
    instead of two and a gathering future, tens of microseconds a question. As with gather, a
    failure of either is raised and leaves the other to finish (its outcome dropped), and
    being cancelled cancels both."""
    task = asyncio.ensure_future(second)
    try:
        result = await first
    except asyncio.CancelledError:
        task.cancel()
        raise
    except BaseException:
        task.add_done_callback(_retrieved)  # its own failure, later, is no news
        raise
    return result, await task


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def provider_failure_text(error: ProviderError) -> str:
    if error.kind == "busy":
        wait = f" in {round(error.retry_after_s)} s" if error.retry_after_s else " in a minute"
        return f"The AI provider is busy right now; try again{wait}."
    if error.kind == "auth":
        return "The assistant is misconfigured; an admin has been told."
    if error.kind == "timeout":
        return "The AI provider took too long to answer; try again in a minute."
    if error.kind == "context_exceeded":
        return "This conversation is too long for the model; start a new thread."
    if error.kind == "cut_off":
        return "The model stopped before it wrote an answer; try a narrower question."
    return "The AI provider failed to answer; try again in a minute."


class Assistant:
    def __init__(
        self,
        *,
        store: Store,
        mirror: Mirror,
        providers: Sequence[Provider],
        identity: IdentityResolver,
        limits: Limits,
        clock: Callable[[], datetime],
        config: AssistantConfig = AssistantConfig(),
        spool: AuditSpool | None = None,
    ) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self.store = store
        self.mirror = mirror
        self.providers = list(providers)
        self.identity = identity
        self.limits = limits
        self.clock = clock
        self.config = config
        self._summaries = SummaryCache(mirror)
        self.spool = spool  # where audit rows wait while the database is down

    async def resolve(self, inbound: Inbound) -> Principal | Refusal:
        """The asker's Principal, or why they can't ask (used by adapters' commands too)."""
        principal = await self.identity.resolve(inbound)
        if isinstance(principal, Refusal):
            return principal
        if not allows(principal.permissions, "ai:read"):
            return Refusal(
                "denied",
                f"Your StackDock role ({principal.role_name}) doesn't include the assistant "
                "(it needs ai:read). Ask an org admin if you need it.",
            )
        return principal

    async def handle(
        self, inbound: Inbound, stop: StopSignal | None = None
    ) -> AsyncGenerator[ReplyEvent, None]:
        """Answers one question as a stream of events; the last is a Final or an ErrorReply.

        A `stop` that fires while the model answers cancels the model call; the reply then
        ends with an ErrorReply (outcome cancelled) and the row records what was spent."""
        started = time.perf_counter()
        yield Status("Thinking…")
        question = inbound.text.strip()
        # A secret the person pasted goes no further: not to the model, history or the audit.
        scrubbed = scrub_text(question)
        record = AuditRecord(
            timestamp=self.clock(),
            identity=inbound.identity,
            platform=inbound.platform,
            result=Outcome.FAILED,
            channel=inbound.channel,
            is_dm=inbound.is_dm,
            question=_content(scrubbed, self.config.store_content),
        )
        if inbound.event_id:
            record.metadata["event_id"] = inbound.event_id
        progress = LoopProgress()  # what the model has cost so far, even if the reply is lost
        asker: Principal | None = None
        try:
            refusal = self._check_text(question)
            if refusal is None and is_help(question):
                record.action, record.result = "ai.help", Outcome.ANSWERED
                record.answer = _content(HELP_TEXT, self.config.store_content)
                await self._record(record, started)
                yield Final(HELP_TEXT, record.id)
                return
            principal: Principal | Refusal = refusal or await self.resolve(inbound)
            history: list[ChatMessage] = []
            key = inbound.conversation_key or f"{inbound.platform}:{inbound.identity}"
            if isinstance(principal, Principal):
                record.org_id, record.user_id = principal.org_id, principal.user_id
                # Kept as pending from admission until its row is written: after a crash in
                # between, `recover_interrupted` still records the question.
                record.metadata[QUESTION_ID] = uuid.uuid4().hex
                pending = dataclasses.replace(record, metadata=dict(record.metadata))
                # Independent lookups, one round trip: the history is wasted only on a refusal.
                refusal, history = await _together(
                    self.limits.check(principal, pending), self._history(key, principal.org_id)
                )
            else:
                refusal = principal
            if refusal is not None:
                yield await self._refuse(record, refusal, started)
                return
            assert isinstance(principal, Principal)
            asker = principal
            answering = self._answer(
                principal, scrubbed, key, history, record, started, progress, stop
            )
            async for event in answering:
                yield event
        except Exception as exc:
            # A bug or an outage (the database, most likely) must not leave the person hanging.
            log.exception("question from %s failed inside the bot", inbound.identity)
            record.result, record.reason = Outcome.FAILED, "internal_error"
            record.error_message = scrub_text(f"{type(exc).__name__}: {exc}")[:500]
            text = UNAVAILABLE_TEXT
            record.answer = _content(text, self.config.store_content)
            if _owed(record):
                await self._try_write_audit(record, started, self._spent(record, asker, progress))
            yield ErrorReply(text, Outcome.FAILED, "internal_error", None, record.id)
        finally:
            if _owed(record):
                # The consumer went away before the answer: the row, and the spend, are owed.
                record.error_message = record.error_message or "interrupted before the answer"
                await self._try_write_audit(record, started, self._spent(record, asker, progress))
            metrics.labelled(metrics.QUESTIONS, inbound.platform, record.result.value).inc()
            metrics.ANSWER_SECONDS.observe(time.perf_counter() - started)

    async def recover_interrupted(self, lease_s: float = INTERRUPTED_LEASE_S) -> int:
        """Records the questions a stopped process admitted and never recorded (failed,
        interrupted), giving back their rate-limit slot and freeing their event for a
        re-delivery. Safe to run in every process at once. Returns how many it recorded."""
        recorded = 0
        for record in await self.store.pending.stale(lease_s, self.clock()):
            record.result, record.reason = Outcome.FAILED, "interrupted"
            record.error_message = INTERRUPTED_TEXT
            if await self.store.pending.settle(record) is None:
                continue  # another process recorded it first
            recorded += 1
            metrics.labelled(metrics.QUESTIONS, record.platform, record.result.value).inc()
            log.warning("recorded an interrupted question of %s", record.identity)
        return recorded

    async def record_action(
        self,
        inbound: Inbound,
        *,
        action: str,
        result: Outcome,
        reason: str | None,
        answer: str,
        metadata: dict[str, object] | None = None,
    ) -> int | None:
        """Audits something a person did that is not a question (a link, say); the row joins
        the same chain, and waits in the spool like any other while the database is down."""
        started = time.perf_counter()
        principal = await self.identity.find_user(inbound.identity, inbound.email)
        record = AuditRecord(
            timestamp=self.clock(),
            identity=inbound.identity,
            platform=inbound.platform,
            result=result,
            channel=inbound.channel,
            is_dm=inbound.is_dm,
            action=action,
            reason=reason,
            user_id=str(principal["_id"]) if principal else None,
            answer=_content(answer, self.config.store_content),
            metadata=dict(metadata or {}),
        )
        await self._try_write_audit(record, started)
        return record.id

    async def _history(self, key: str, org_id: str) -> list[ChatMessage]:
        """The thread's history written while it answered for `org_id`: a channel rebound to
        another org, or DMs switched to another org, carry none of the first org's data."""
        if not self.config.store_content:
            return []  # only hashes are kept, and a hash is no context for a model
        return await self.store.conversations.history(key, self.config.history_messages, org_id)

    def _kept(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        """What the conversation keeps: the messages scrubbed (the model's words and tool
        arguments are its output, and may repeat a secret), or with content off, their hashes
        (the thread still counts as one the bot is in, but holds no text)."""
        if self.config.store_content:
            return [_scrubbed(m) for m in messages]
        return [
            ChatMessage(role=m.role, content=_content(m.content, False) or "")
            for m in messages
            if m.role in ("user", "assistant") and m.content
        ]

    def _check_text(self, question: str) -> Refusal | None:
        if not question:
            return Refusal("empty", "Ask me a question about your infrastructure, or say `help`.")
        if len(question) > MAX_QUESTION_CHARS:
            return Refusal(
                "too_long",
                f"That question is {len(question):,} characters; please keep it under "
                f"{MAX_QUESTION_CHARS:,}.",
            )
        return None

    async def _refuse(self, record: AuditRecord, refusal: Refusal, started: float) -> ErrorReply:
        record.result = refusal.outcome
        record.reason = refusal.reason
        record.retry_after_s = refusal.retry_after_s
        record.answer = _content(refusal.text, self.config.store_content)
        await self._record(record, started)
        log.info("refused %s: %s", record.identity, refusal.reason)
        return ErrorReply(
            refusal.text, refusal.outcome, refusal.reason, refusal.retry_after_s, record.id
        )

    async def _answer(
        self,
        principal: Principal,
        scrubbed: str,
        key: str,
        history: list[ChatMessage],
        record: AuditRecord,
        started: float,
        progress: LoopProgress,
        stop: StopSignal | None = None,
    ) -> AsyncIterator[ReplyEvent]:
        """Answers the question, `scrubbed` already: it is what the model and history get."""
        now = self.clock()
        system = system_prompt(principal, self._summaries.summary(principal, now))
        asked = ChatMessage(role="user", content=scrubbed)
        primary = self.providers[0]
        tools = OrgTools(self.mirror, principal, now=self.clock)
        window = self.config.context_window or context_window(primary.model)
        messages = fit_history(
            system,
            visible_history(history, principal),
            asked,
            window_tokens=window,
            reserve_tokens=reserve_tokens(window, self.config.max_answer_tokens, tools.specs()),
        )
        outcome: LoopOutcome | None = None
        scrubber = StreamScrubber()
        first_text_seen = False
        shown: list[str] = []  # what of the answer the person has been given
        starting: Sideline[Status] = Sideline()  # tool calls as they begin
        looping = run_tool_loop(
            self.providers,
            system,
            messages,
            AnnouncingTools(tools, starting.put_nowait),
            max_steps=self.config.max_steps,
            progress=progress,
            answer_timeout_s=self.config.answer_timeout_s,
        )
        try:
            # Closed on every way out, the consumer going away included: a Stop watcher and
            # the model stream must not outlive the answer.
            merged = until_stopped(looping, stop, starting)
            async with contextlib.aclosing(merged) as events:
                async for event in events:
                    if isinstance(event, LoopDone):
                        outcome = event.outcome
                    elif isinstance(event, Status):
                        yield event
                    elif isinstance(event, ToolStep):
                        record.tools.append(event.name)
                        yield event
                    elif isinstance(event, TextDelta):
                        clean = defang(scrubber.feed(event.text))
                        if clean:
                            if not first_text_seen:
                                first_text_seen = True
                                metrics.FIRST_TOKEN_SECONDS.observe(time.perf_counter() - started)
                            shown.append(clean)
                            yield TextDelta(clean)
        except ProviderError as error:
            # What streamed before the failure is the person's to keep.
            rest = defang(scrubber.flush())
            if rest:
                shown.append(rest)
                yield TextDelta(rest)
            yield await self._fail(record, principal, error, started)
            return
        except Stopped:
            yield await self._stopped(
                record, principal, asked, key, "".join(shown), progress, started
            )
            return
        assert outcome is not None, "the tool loop ends with LoopDone"
        rest = defang(scrubber.flush())
        if rest:
            yield TextDelta(rest)
        answer = defang(scrub_text(outcome.text))
        record.result = Outcome.ANSWERED
        record.reason = outcome.stopped  # an answer the model did not finish says so
        record.answer = _content(answer, self.config.store_content)
        record.tools = list(outcome.tools_called)
        self._note_usage(record, outcome.usage, outcome.attempts)
        await self._record(
            record,
            started,
            conversation_key=key,
            messages=self._kept([asked, *outcome.new_messages]),
            usage=self._usage_record(principal, outcome.usage, record),
        )
        yield Final(answer, record.id, outcome.model, outcome.usage)
        # After the answer is out, so a notice never delays it; adapters read to the end.
        if outcome.usage is not None and outcome.usage.cost_usd:
            await self.limits.spent(principal.org_id)

    async def _stopped(
        self,
        record: AuditRecord,
        principal: Principal,
        asked: ChatMessage,
        key: str,
        shown: str,
        progress: LoopProgress,
        started: float,
    ) -> ErrorReply:
        """The asker stopped the answer: the row says cancelled, with what was shown and what
        the finished model turns cost (a turn cut short reports no usage, and none is made up).
        The thread keeps the question and the part shown, so a follow-up reads in context."""
        partial = shown.rstrip()
        text = f"{partial}\n\n{STOPPED_TEXT}" if partial else STOPPED_TEXT
        record.result, record.reason = Outcome.CANCELLED, STOPPED_REASON
        record.answer = _content(text, self.config.store_content)
        record.tools = list(progress.tools_called)
        usage = progress.spent()
        self._note_usage(record, usage, progress.attempts)
        kept = [asked, ChatMessage(role="assistant", content=text)]
        await self._record(
            record,
            started,
            conversation_key=key,
            messages=self._kept(kept),
            usage=self._usage_record(principal, usage, record),
        )
        log.info("answer to %s stopped after %s model turns", record.identity, progress.steps)
        if usage is not None and usage.cost_usd:
            await self.limits.spent(principal.org_id)
        return ErrorReply(STOPPED_TEXT, Outcome.CANCELLED, STOPPED_REASON, None, record.id)

    async def _fail(
        self, record: AuditRecord, principal: Principal, error: ProviderError, started: float
    ) -> ErrorReply:
        text = provider_failure_text(error)
        if error.kind == "auth":
            log.error("the %s provider rejected its API key; check the key setting", error.provider)
        else:
            log.warning("provider %s failed: %s (%s)", error.provider, error.kind, error)
        record.result = Outcome.FAILED
        record.reason = f"provider_{error.kind}"
        record.error_message = scrub_text(str(error))[:500]
        record.retry_after_s = error.retry_after_s
        record.answer = _content(text, self.config.store_content)
        self._note_usage(record, error.usage, getattr(error, "attempts", None))
        # Failed calls that spent tokens still count against the budget.
        await self._record(
            record, started, usage=self._usage_record(principal, error.usage, record)
        )
        return ErrorReply(text, Outcome.FAILED, record.reason, error.retry_after_s, record.id)

    def _note_usage(
        self, record: AuditRecord, usage: Usage | None, attempts: Sequence[str] | None
    ) -> None:
        if attempts:
            record.metadata["attempts"] = list(attempts)
            for attempt in attempts:
                provider, _, kind = attempt.partition(":")
                if kind and kind != "ok":
                    metrics.labelled(metrics.PROVIDER_ERRORS, provider, kind).inc()
        if usage is None:
            return
        for direction, tokens in (("in", usage.input_tokens), ("out", usage.output_tokens)):
            if tokens:
                metrics.labelled(metrics.TOKENS, usage.model, direction).inc(tokens)
        if usage.cost_usd:
            metrics.labelled(metrics.COST_USD, usage.model).inc(float(usage.cost_usd))
        record.provider, record.model = usage.provider, usage.model
        record.input_tokens, record.output_tokens = usage.input_tokens, usage.output_tokens
        record.cost_usd = usage.cost_usd
        if usage.cache_read_tokens or usage.cache_write_tokens:
            record.metadata["cache_read_tokens"] = usage.cache_read_tokens
            record.metadata["cache_write_tokens"] = usage.cache_write_tokens

    async def _write_audit(
        self,
        record: AuditRecord,
        started: float,
        *,
        conversation_key: str | None = None,
        messages: Sequence[ChatMessage] = (),
        usage: UsageRecord | None = None,
    ) -> None:
        record.latency_ms = round((time.perf_counter() - started) * 1000)
        stored = await self.store.record_exchange(
            record, conversation_key=conversation_key, messages=messages, usage=usage
        )
        record.id, record.prev_hash, record.hash = stored.id, stored.prev_hash, stored.hash

    async def _record(
        self,
        record: AuditRecord,
        started: float,
        *,
        conversation_key: str | None = None,
        messages: Sequence[ChatMessage] = (),
        usage: UsageRecord | None = None,
    ) -> None:
        """Writes the question's record; with the database down, keeps it in the spool so the
        person still gets their answer or refusal, and the row lands later."""
        try:
            await self._write_audit(
                record, started, conversation_key=conversation_key, messages=messages, usage=usage
            )
        except Exception:
            if self.spool is None:
                raise
            await self._try_write_audit(record, started, usage)

    async def _try_write_audit(
        self, record: AuditRecord, started: float, usage: UsageRecord | None = None
    ) -> None:
        try:
            await self._write_audit(record, started, usage=usage)
        except Exception:
            if self.spool is None:
                log.exception("could not write the audit row of %s", record.identity)
                return
            try:
                record.metadata["spooled"] = True  # an auditor sees the row came in late
                await self.spool.put(record, usage)
            except Exception:
                log.exception("could not keep the audit row of %s anywhere", record.identity)

    def _spent(
        self, record: AuditRecord, asker: Principal | None, progress: LoopProgress
    ) -> UsageRecord | None:
        """The usage of a question that ended without its normal record (the consumer went
        away, or something broke): noted on its audit row, and as a usage row for budgets."""
        usage = progress.spent()
        if asker is None or usage is None:
            return None
        self._note_usage(record, usage, progress.attempts)
        return self._usage_record(asker, usage, record)

    @staticmethod
    def _usage_record(
        principal: Principal, usage: Usage | None, record: AuditRecord
    ) -> UsageRecord | None:
        if usage is None:
            return None
        return UsageRecord(
            timestamp=record.timestamp,
            org_id=principal.org_id,
            user_id=principal.user_id,
            identity=principal.identity,
            usage=usage,
        )
