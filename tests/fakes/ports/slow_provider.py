"""A Provider whose answer never finishes on its own: for stopping an answer under way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from core.models import ChatMessage, TextDelta, ToolCall, ToolSpec, TurnEnd, Usage


@dataclass
class SlowProvider:
    """Turn 1 asks for `tool` (a finished, priced turn); turn 2 streams `text`, one piece per
    `delay_s`, then goes silent until cancelled. `closed` is set when the stream is torn down,
    which is what cancelling the model call means for an HTTP stream."""

    tool: str = "count_resources"
    text: Sequence[str] = ("Counting\n", "your servers\n", "now")
    delay_s: float = 0.01
    name: str = "slow"
    model: str = "slow-1"
    input_tokens: int = 120
    output_tokens: int = 30
    turns: int = 0
    streaming: asyncio.Event = field(default_factory=asyncio.Event)  # the slow turn has begun
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        self.turns += 1
        if self.turns == 1:
            call = ToolCall("call_1", self.tool, {"kind": "servers"})
            usage = Usage(self.name, self.model, self.input_tokens, self.output_tokens)
            yield TurnEnd((call,), usage, stop_reason="tool_use")
            return
        try:
            for piece in self.text:
                await asyncio.sleep(self.delay_s)
                yield TextDelta(piece)
            self.streaming.set()
            await asyncio.Event().wait()  # the model is still thinking
            raise AssertionError("unreachable: the wait above never ends")
        finally:
            self.closed.set()
