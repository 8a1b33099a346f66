"""An in-memory Provider that plays back scripted model turns, for tests of the core."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field

from core.models import ChatMessage, ProviderError, TextDelta, ToolCall, ToolSpec, TurnEnd, Usage


@dataclass(frozen=True)
class ScriptedTurn:
    """One model turn: text streamed in pieces, then tool calls; `error` raised after the text."""

    text: Sequence[str] = ()
    tool_calls: Sequence[ToolCall] = ()
    input_tokens: int | None = 10
    output_tokens: int | None = 5
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    error: ProviderError | None = None


@dataclass(frozen=True)
class ProviderCall:
    """What the provider was asked, as it was asked."""

    system: str
    messages: list[ChatMessage]
    tools: list[ToolSpec]


@dataclass
class ScriptedProvider:
    """Plays `turns` in order, one per `turn` call; a ProviderError in the script is raised."""

    turns: Iterable[ScriptedTurn | ProviderError] = ()
    name: str = "scripted"
    model: str = "scripted-1"
    calls: list[ProviderCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: deque[ScriptedTurn | ProviderError] = deque(self.turns)

    def push(self, *turns: ScriptedTurn | ProviderError) -> ScriptedProvider:
        self._script.extend(turns)
        return self

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        self.calls.append(ProviderCall(system, list(messages), list(tools)))
        if not self._script:
            raise RuntimeError(f"ScriptedProvider {self.name!r} has no scripted turn left")
        step = self._script.popleft()
        if isinstance(step, ProviderError):
            raise step
        for piece in step.text:
            await asyncio.sleep(0)  # a real stream yields to the loop between chunks
            yield TextDelta(piece)
        if step.error is not None:
            raise step.error
        usage = Usage(
            provider=self.name,
            model=self.model,
            input_tokens=step.input_tokens,
            output_tokens=step.output_tokens,
            cache_read_tokens=step.cache_read_tokens,
            cache_write_tokens=step.cache_write_tokens,
        )
        stop = "tool_use" if step.tool_calls else "end"
        yield TurnEnd(tuple(step.tool_calls), usage, stop_reason=stop)
