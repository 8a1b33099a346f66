"""The one tool loop every provider runs through: stream, call tools, repeat, fail over.

Decisions worth knowing:
- Tool calls of one turn run concurrently; a tool that raises becomes an error result the model
  reads, never a crash.
- When `max_steps` turns have all asked for tools, the loop stops without another model call and
  says so honestly. The last turn's tool calls are not run (no model would read their results),
  and the stored assistant message drops them, so the history stays valid for every provider.
- Failover: a provider that fails before any text reached the person hands the conversation,
  tool results included, to the next provider; tools already run are not run again. Once text
  has been streamed the failure is final, because the person has already seen part of an answer.
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
from typing import Any

from core.models import (
    ChatMessage,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolStep,
    TurnEnd,
    Usage,
)
from core.ports import Provider, ToolRunner
from core.providers.pricing import price

log = logging.getLogger(__name__)

TURN_SEPARATOR = "\n\n"


@dataclass
class LoopOutcome:
    """How a question's model conversation ended."""

    text: str  # everything streamed to the person, in order
    usage: Usage | None  # every turn of every attempt, priced
    tools_called: list[str]
    new_messages: list[ChatMessage]  # assistant and tool messages to store after the question
    provider: str  # the provider that answered
    model: str
    attempts: list[str]  # "openai:busy", "anthropic:ok"
    steps: int  # model turns taken, across attempts


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

    def spent(self) -> Usage | None:
        """Every finished turn's usage so far, labelled with the provider running now."""
        return self.total_usage(self.provider)

    @property
    def streamed(self) -> bool:
        return bool(self.texts)

    def delta(self, text: str, turn_has_text: bool) -> list[TextDelta]:
        out = []
        if not turn_has_text and self.texts:
            out.append(TextDelta(TURN_SEPARATOR))  # keeps one turn's text off the previous one's
        out.append(TextDelta(text))
        self.texts.extend(d.text for d in out)
        return out

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
) -> AsyncIterator[TextDelta | ToolStep | LoopDone]:
    """Answers the conversation in `messages`, streaming text and tool steps, then LoopDone.

    Raises the last ProviderError when no provider could answer; it carries `attempts` and the
    accumulated, priced `usage`. `progress`, when given, is filled as the loop goes.
    """
    if not providers:
        raise ValueError("run_tool_loop needs at least one provider")
    progress = progress if progress is not None else LoopProgress()
    attempts = progress.attempts
    for index, provider in enumerate(providers):
        progress.provider = provider.name
        try:
            async for event in _answer(provider, system, messages, tools, max_steps, progress):
                yield event
        except ProviderError as exc:
            attempts.append(f"{provider.name}:{exc.kind}")
            if exc.usage is not None:
                progress.usages.append(_priced(exc.usage))
            last = index == len(providers) - 1
            if last or progress.streamed:
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
            model=provider.model,
            attempts=list(attempts),
            steps=progress.steps,
        )
        yield LoopDone(outcome)
        return


async def _answer(
    provider: Provider,
    system: str,
    question: Sequence[ChatMessage],
    tools: ToolRunner,
    max_steps: int,
    progress: LoopProgress,
) -> AsyncIterator[TextDelta | ToolStep]:
    specs = tools.specs()
    while True:
        conversation = [*question, *progress.new_messages]
        turn_text: list[str] = []
        end: TurnEnd | None = None
        async for event in provider.turn(system, conversation, specs):
            if isinstance(event, TextDelta):
                if event.text:
                    for delta in progress.delta(event.text, bool(turn_text)):
                        yield delta
                    turn_text.append(event.text)
            else:
                end = event
        if end is None:
            raise ProviderError(
                "bad_response", "the model's turn ended without a result", provider=provider.name
            )
        progress.steps += 1
        progress.usages.append(_priced(end.usage))
        text = "".join(turn_text)
        if not end.tool_calls:
            progress.new_messages.append(ChatMessage(role="assistant", content=text))
            return
        if progress.steps >= max_steps:
            honest = step_limit_text(len(progress.tools_called))
            for delta in progress.delta(honest, False):
                yield delta
            content = f"{text}{TURN_SEPARATOR}{honest}" if text else honest
            progress.new_messages.append(ChatMessage(role="assistant", content=content))
            return
        progress.new_messages.append(
            ChatMessage(role="assistant", content=text, tool_calls=end.tool_calls)
        )
        results = await asyncio.gather(*(_call(tools, call) for call in end.tool_calls))
        for call, result in zip(end.tool_calls, results, strict=True):
            progress.tools_called.append(call.name)
            progress.new_messages.append(
                ChatMessage(
                    role="tool",
                    content=_compact(result.content),
                    tool_call_id=call.id,
                    name=call.name,
                )
            )
            yield ToolStep(call.name, call.arguments, result.summary, result.is_error)


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


def _compact(content: Mapping[str, Any]) -> str:
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False, default=str)
