"""The one tool loop every provider runs through: stream, call tools, repeat, fail over.

Decisions worth knowing:
- Tool calls of one turn run concurrently; a tool that raises becomes an error result the model
  reads, never a crash. A call the model already made (same tool, same arguments) is not run
  again: it gets the earlier result and a nudge to answer, because small models loop.
- A call written as text (`core.providers.text_calls`) runs like one from the API's tool-call
  field, and its text never reaches the person: text that could still be such a call is held
  back while it streams, ordinary prose is not. A call to a tool we don't have runs too: the
  runner's error, which names the real tools, is how the model learns to correct itself.
- When `max_steps` turns have all asked for tools, their last calls are not run and the model is
  asked once more, without tools, to answer from what it has; only if that brings no answer does
  the loop say honestly that it stopped. The stored assistant message drops the unrun calls, so
  the history stays valid for every provider.
- A turn cut off by its output cap (`length`) or by the answer's wall-clock budget is an honest
  partial answer when the person already has text from it, with a note saying it stopped early
  (`LoopOutcome.stopped` says why, for the audit row); with nothing usable it is a failure.
- Failover: a provider that fails before any text reached the person hands the conversation,
  tool results included, to the next provider; tools already run are not run again. Once text
  has been streamed the failure is final, because the person has already seen part of an answer.
  So is running out of the answer's time: a second provider would have none left.
- Each turn's usage is priced here (unless the provider priced it already) because tiered
  prices depend on a single request's size, not the question's total.
- What was spent is readable while the loop runs: the caller may pass its own `LoopProgress`
  and read `spent()` after abandoning the stream (the person's chat went away mid-answer),
  so model cost is recorded whatever happens to the delivery.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.models import (
    ChatMessage,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
    ToolStep,
    TurnEnd,
    Usage,
)
from core.ports import Provider, ToolRunner
from core.providers.pricing import price
from core.providers.text_calls import TextCallFilter

log = logging.getLogger(__name__)

T = TypeVar("T")

TURN_SEPARATOR = "\n\n"
# Stop reasons of a turn that hit its output cap: OpenAI's and Anthropic's words for it.
CUT_OFF = frozenset({"length", "max_tokens"})

# Why an answer ended without the model finishing it; each is the audit row's reason.
STOPPED_EARLY = "model_stopped_early"
ANSWER_TIMEOUT = "answer_timeout"
STEP_LIMIT = "step_limit"

STOPPED_EARLY_NOTE = "…the model stopped early, so this answer may be incomplete."
TIMED_OUT_NOTE = "…the answer took too long and was stopped, so it may be incomplete."
REPEAT_NOTE = (
    "You already called {name} with these arguments; this is its earlier result. "
    "Answer the question from it, or call a different tool."
)
LAST_TURN_PROMPT = (
    "You have used all your lookups. Answer the question now from the tool results above, "
    "without calling any tool. If they are not enough, say what is missing."
)


@dataclass
class LoopOutcome:
    """How a question's model conversation ended."""

    text: str  # everything streamed to the person, in order
    usage: Usage | None  # every turn of every attempt, priced
    tools_called: list[str]
    new_messages: list[ChatMessage]  # assistant and tool messages to store after the question
    provider: str  # the provider that answered
    model: str  # the model the server says answered, else the one asked for
    attempts: list[str]  # "openai:busy", "anthropic:ok"
    steps: int  # model turns taken, across attempts
    stopped: str | None = None  # STOPPED_EARLY, ANSWER_TIMEOUT or STEP_LIMIT; None: finished


@dataclass(frozen=True)
class LoopDone:
    outcome: LoopOutcome


def step_limit_text(lookups: int) -> str:
    return f"I stopped after {lookups} lookups without finishing; try a narrower question."


@dataclass
class LoopProgress:
    """What the question has accumulated so far, whichever provider produced it."""

    texts: list[str] = field(default_factory=list)
    usages: list[Usage] = field(default_factory=list)  # priced, one per finished model turn
    tools_called: list[str] = field(default_factory=list)
    new_messages: list[ChatMessage] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    steps: int = 0
    provider: str | None = None  # the provider running now, or that answered
    model: str | None = None  # what the running provider's server says it is
    stopped: str | None = None
    results: dict[str, ToolResult] = field(default_factory=dict)  # by call, for repeats

    def spent(self) -> Usage | None:
        """Every finished turn's usage so far, labelled with the provider running now."""
        return self.total_usage(self.provider)

    @property
    def streamed(self) -> bool:
        return bool(self.texts)

    def delta(self, text: str, turn_has_text: bool) -> list[TextDelta]:
        if not turn_has_text and self.texts:
            # Keeps one turn's text off the previous one's.
            self.texts += (TURN_SEPARATOR, text)
            return [TextDelta(TURN_SEPARATOR), TextDelta(text)]
        self.texts.append(text)
        return [TextDelta(text)]

    def total_usage(self, answering: str | None) -> Usage | None:
        if not self.usages:
            return None
        # The answering provider's usage leads, so the total is labelled with who answered.
        ordered = sorted(self.usages, key=lambda u: u.provider != answering)
        total = ordered[0]
        for usage in ordered[1:]:
            total = total.add(usage)
        return total


async def run_tool_loop(
    providers: Sequence[Provider],
    system: str,
    messages: Sequence[ChatMessage],
    tools: ToolRunner,
    *,
    max_steps: int = 6,
    progress: LoopProgress | None = None,
    answer_timeout_s: float | None = None,
) -> AsyncIterator[TextDelta | ToolStep | LoopDone]:
    """Answers the conversation in `messages`, streaming text and tool steps, then LoopDone.

    Raises the last ProviderError when no provider could answer; it carries `attempts` and the
    accumulated, priced `usage`. `progress`, when given, is filled as the loop goes.
    `answer_timeout_s` bounds the whole answer, every turn and tool of every provider.
    """
    if not providers:
        raise ValueError("run_tool_loop needs at least one provider")
    progress = progress if progress is not None else LoopProgress()
    budget = _Budget(answer_timeout_s)
    attempts = progress.attempts
    for index, provider in enumerate(providers):
        progress.provider, progress.model = provider.name, None
        try:
            async for event in _answer(
                provider, system, messages, tools, max_steps, progress, budget
            ):
                yield event
        except ProviderError as exc:
            attempts.append(f"{provider.name}:{exc.kind}")
            if exc.usage is not None:
                progress.usages.append(_priced(exc.usage))
            last = index == len(providers) - 1
            if last or progress.streamed or budget.spent():
                exc.attempts = list(attempts)
                exc.usage = progress.total_usage(None)
                raise
            log.warning(
                "%s failed (%s); handing the question to %s",
                provider.name,
                exc.kind,
                providers[index + 1].name,
            )
            continue
        attempts.append(f"{provider.name}:ok")
        outcome = LoopOutcome(
            text="".join(progress.texts),
            usage=progress.total_usage(provider.name),
            tools_called=progress.tools_called,
            new_messages=progress.new_messages,
            provider=provider.name,
            model=progress.model or provider.model,
            attempts=list(attempts),
            steps=progress.steps,
            stopped=progress.stopped,
        )
        yield LoopDone(outcome)
        return


@dataclass
class _Budget:
    """The answer's wall-clock budget, as a deadline on the event loop's clock."""

    seconds: float | None

    def __post_init__(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.deadline = None if self.seconds is None else loop.time() + self.seconds

    def spent(self) -> bool:
        return self.deadline is not None and self._loop.time() >= self.deadline


@dataclass
class _Turn:
    """One model turn as it streams: what the person saw of it and how it ended."""

    filter: TextCallFilter
    end: TurnEnd | None = None
    timed_out: bool = False
    has_text: bool = False


async def _answer(
    provider: Provider,
    system: str,
    question: Sequence[ChatMessage],
    tools: ToolRunner,
    max_steps: int,
    progress: LoopProgress,
    budget: _Budget,
) -> AsyncIterator[TextDelta | ToolStep]:
    specs = tools.specs()
    names = frozenset(spec.name for spec in specs)
    last_turn = False  # the one turn, after the step limit, asked to answer without tools
    while True:
        conversation = [*question, *progress.new_messages]
        if last_turn:
            conversation.append(ChatMessage(role="user", content=LAST_TURN_PROMPT))
        turn = _Turn(TextCallFilter(names))
        offered: Sequence[ToolSpec] = () if last_turn else specs
        async for delta in _stream(provider, system, conversation, offered, turn, progress, budget):
            yield delta
        end = turn.end
        cut_off = turn.timed_out or (end is not None and end.stop_reason in CUT_OFF)
        for delta in _show(turn.filter.finish(cut_off=cut_off), turn, progress):
            yield delta
        progress.steps += 1
        visible = turn.filter.visible_text.strip()
        if turn.timed_out:
            # The stopped turn never reported its tokens; unknown, never guessed.
            progress.usages.append(Usage(provider.name, progress.model or provider.model))
            if not turn.has_text:
                raise ProviderError(
                    "timeout",
                    f"the answer took longer than {budget.seconds:g} s",
                    provider=provider.name,
                )
            for delta in _finish_partial(visible, TIMED_OUT_NOTE, ANSWER_TIMEOUT, progress):
                yield delta
            return
        if end is None:
            raise ProviderError(
                "bad_response", "the model's turn ended without a result", provider=provider.name
            )
        progress.usages.append(_priced(end.usage))
        progress.model = end.usage.model
        calls = () if last_turn else (end.tool_calls or tuple(turn.filter.calls))
        if not calls:
            for delta in _conclude(visible, end, turn, last_turn, provider, progress):
                yield delta
            return
        if progress.steps >= max_steps:
            if visible:
                progress.new_messages.append(ChatMessage(role="assistant", content=visible))
            last_turn = True
            continue
        progress.new_messages.append(
            ChatMessage(role="assistant", content=visible, tool_calls=calls)
        )
        async for step in _run_calls(tools, calls, progress):
            yield step


async def _stream(
    provider: Provider,
    system: str,
    conversation: Sequence[ChatMessage],
    offered: Sequence[ToolSpec],
    turn: _Turn,
    progress: LoopProgress,
    budget: _Budget,
) -> AsyncIterator[TextDelta]:
    """Streams one turn's readable text, stopping it when the answer's time runs out."""
    stream = provider.turn(system, conversation, offered)
    watch = _Watch(budget.deadline)
    try:
        while True:
            try:
                event = await watch.read(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if not budget.spent():
                    raise  # the provider's own, not the answer's budget
                turn.timed_out = True
                return
            if isinstance(event, TextDelta):
                for delta in _show(turn.filter.feed(event.text), turn, progress):
                    yield delta
            else:
                turn.end = event
    finally:
        watch.close()
        await _close(stream)


class _Watch:
    """The answer's deadline over one model stream, bounding each wait for its next event.

    Only the wait is bounded: a timeout while `_stream` is suspended at a yield would cancel
    whoever consumes it instead. It does what `asyncio.timeout_at` around each read would, with
    one timer for the whole stream where that schedules and cancels one per event (several
    microseconds each): a read under way when the time runs out is cancelled and raises
    TimeoutError; a read begun after it is cancelled at its first wait.
    """

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline
        self._loop = asyncio.get_running_loop()
        self._reader: asyncio.Task[Any] | None = None
        self._cancelling = 0  # the reader's cancellations from elsewhere, when it began
        self._expiring = False
        self._timer: asyncio.Handle | None = None
        self._late: asyncio.Handle | None = None
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self._reader is not None and not self._expiring:
            self._reader.cancel()
            self._expiring = True

    def _expired(self, reader: asyncio.Task[Any]) -> bool:
        """Takes back the cancellation this watch made; True when it is the only one."""
        if not self._expiring:
            return False
        self._expiring = False
        return reader.uncancel() <= self._cancelling

    async def read(self, stream: AsyncIterator[T]) -> T:
        reader = asyncio.current_task() if self._deadline is not None else None
        if reader is None:
            return await anext(stream)
        self._reader, self._cancelling = reader, reader.cancelling()
        if self._timer is None:
            self._late = self._loop.call_soon(self._expire)  # the time ran out between reads
        try:
            return await anext(stream)
        except asyncio.CancelledError as exc:
            if self._expired(reader):
                raise TimeoutError from exc
            raise
        finally:
            self._reader = None
            self._expired(reader)  # a stream that swallowed the cancellation: nothing to raise
            if self._late is not None:
                self._late.cancel()
                self._late = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def _close(stream: AsyncIterator[Any]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _show(text: str, turn: _Turn, progress: LoopProgress) -> list[TextDelta]:
    if not text or (not turn.has_text and not text.strip()):
        return []  # whitespace left where a call was taken out opens nothing
    deltas = progress.delta(text, turn.has_text)
    turn.has_text = True
    return deltas


def _conclude(
    visible: str,
    end: TurnEnd,
    turn: _Turn,
    last_turn: bool,
    provider: Provider,
    progress: LoopProgress,
) -> list[TextDelta]:
    """The turn that asked for no tool: the answer, whole or partial, or an honest stop."""
    if end.stop_reason in CUT_OFF:
        if not turn.has_text:
            raise ProviderError(
                "cut_off", "the model stopped before it wrote an answer", provider=provider.name
            )
        return _finish_partial(visible, STOPPED_EARLY_NOTE, STOPPED_EARLY, progress)
    if last_turn:
        progress.stopped = STEP_LIMIT
        if not visible:
            return _finish_partial("", step_limit_text(len(progress.tools_called)), None, progress)
    progress.new_messages.append(ChatMessage(role="assistant", content=visible))
    return []


def _finish_partial(
    visible: str, note: str, reason: str | None, progress: LoopProgress
) -> list[TextDelta]:
    deltas = progress.delta(note, False)
    content = f"{visible}{TURN_SEPARATOR}{note}" if visible else note
    progress.new_messages.append(ChatMessage(role="assistant", content=content))
    progress.stopped = reason or progress.stopped
    return deltas


async def _run_calls(
    tools: ToolRunner, calls: Sequence[ToolCall], progress: LoopProgress
) -> AsyncIterator[ToolStep]:
    """Runs each new call once, concurrently; a repeat gets the earlier result and a nudge."""
    keys = [_call_key(call) for call in calls]
    fresh: dict[str, ToolCall] = {}
    for call, key in zip(calls, keys, strict=True):
        if key not in progress.results and key not in fresh:
            fresh[key] = call
    if len(fresh) == 1:  # most turns: no task to run it in
        results = [await _call(tools, next(iter(fresh.values())))]
    else:
        results = await asyncio.gather(*(_call(tools, call) for call in fresh.values()))
    ran = dict(zip(fresh, results, strict=True))
    for call, key in zip(calls, keys, strict=True):
        if fresh.get(key) is call:
            result = ran[key]
            content = _compact(result.content)
            progress.tools_called.append(call.name)
        else:
            result = ran.get(key) or progress.results[key]
            nudge = REPEAT_NOTE.format(name=call.name)
            content = _compact({"note": nudge, "earlier_result": result.content})
            log.info("the model repeated a call to %s; gave it the earlier result", call.name)
        progress.new_messages.append(
            ChatMessage(role="tool", content=content, tool_call_id=call.id, name=call.name)
        )
        if fresh.get(key) is call:
            yield ToolStep(call.name, call.arguments, result.summary, result.is_error)
    progress.results.update(ran)


def _call_key(call: ToolCall) -> str:
    return _compact({"name": call.name, "arguments": call.arguments}, sort=True)


async def _call(tools: ToolRunner, call: ToolCall) -> ToolResult:
    try:
        return await tools.call(call.name, call.arguments)
    except Exception:
        # The port says call never raises; if one does, the model still gets an answer.
        log.exception("tool %s raised instead of returning an error result", call.name)
        return ToolResult(
            content={"error": f"the {call.name} tool failed unexpectedly"},
            summary=f"{call.name} failed",
            is_error=True,
        )


def _priced(usage: Usage) -> Usage:
    return usage if usage.cost_usd is not None else price(usage)


def _compact(content: Mapping[str, Any], *, sort: bool = False) -> str:
    return (_SORTED if sort else _COMPACT).encode(content)


# json.dumps with these arguments builds an encoder on every call; these are built once.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
_SORTED = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str, sort_keys=True)
