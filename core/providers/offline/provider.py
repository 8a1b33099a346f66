"""The offline provider: answers without a model, through the same tools and the same loop.

Each turn reads the whole conversation again: the person's question (and the ones before it,
for follow-ups), then the tool results this answer has so far. From those it either asks for
the next tools (planner.py) or words the answer (compose.py). It holds no state between turns,
so it runs behind the same tool loop, failover and history as a model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

from core.models import ChatMessage, TextDelta, ToolCall, ToolSpec, TurnEnd, Usage
from core.providers.loop import LAST_TURN_PROMPT
from core.providers.offline.compose import compose
from core.providers.offline.context import asker
from core.providers.offline.followups import understand
from core.providers.offline.planner import next_calls
from core.providers.offline.query import Query
from core.providers.offline.results import Result
from core.providers.offline.vocabulary import statuses_for

_PROMPTS = frozenset({LAST_TURN_PROMPT})


class OfflineProvider:
    name = "offline"
    model = "offline"

    def _usage(self) -> Usage:
        return Usage(self.name, self.model, 0, 0, cost_usd=Decimal(0))

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        who = asker(system)
        conversation = Conversation.read(messages)
        query = understand(conversation.question, conversation.earlier, who.org)
        query = _checked(query)
        calls = next_calls(query, conversation.turns) if tools else []
        if calls:
            step = len(conversation.turns)
            yield TurnEnd(
                tuple(
                    ToolCall(id=f"offline-{step}-{i}", name=name, arguments=args)
                    for i, (name, args) in enumerate(calls)
                ),
                self._usage(),
                "tool_use",
            )
            return
        for chunk in _chunks(compose(query, conversation.turns, who)):
            yield TextDelta(chunk)
        yield TurnEnd((), self._usage())


def _checked(query: Query) -> Query:
    """A status the kind asked about never has is answered as such, not as an empty list."""
    kind, status_class = query.kind, query.status_class
    if query.intent not in ("count", "list") or not kind or not status_class or query.also:
        return query
    return query if statuses_for(kind, status_class) else query.replace(intent="refuse_status")


class Conversation:
    """The messages as the offline provider reads them: the question, the person's earlier
    questions with the tool results of their answers, and this answer's tool turns so far."""

    def __init__(self) -> None:
        self.question = ""
        self.earlier: list[tuple[str, list[Result]]] = []
        self.turns: list[list[Result]] = []

    @classmethod
    def read(cls, messages: Sequence[ChatMessage]) -> Conversation:
        conversation = cls()
        exchanges: list[list[ChatMessage]] = []
        for message in messages:
            if message.role == "user" and message.content not in _PROMPTS:
                exchanges.append([message])
            elif exchanges:
                exchanges[-1].append(message)
        if not exchanges:
            return conversation
        *before, current = exchanges
        conversation.question = current[0].content
        conversation.earlier = [
            (exchange[0].content, [r for turn in _turns(exchange[1:]) for r in turn])
            for exchange in before
        ]
        conversation.turns = _turns(current[1:])
        return conversation


def _turns(messages: Sequence[ChatMessage]) -> list[list[Result]]:
    """Each assistant turn's tool calls, paired with their results by call id."""
    contents: dict[str, Any] = {}
    for message in messages:
        if message.role == "tool" and message.tool_call_id:
            contents[message.tool_call_id] = _content(message.content)
    turns = []
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            turns.append(
                [
                    Result(call.name, dict(call.arguments), contents.get(call.id, {}))
                    for call in message.tool_calls
                ]
            )
    return turns


def _content(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"error": text}
    if isinstance(value, dict) and "earlier_result" in value:  # the loop's answer to a repeat
        value = value["earlier_result"]
    return value if isinstance(value, dict) else {"value": value}


def _chunks(text: str, size: int = 80) -> list[str]:
    """Splits at line ends so a streaming adapter shows whole lines as they come."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            out.append(line[:size])
            line = line[size:]
        if line:
            out.append(line)
    return out or [text]
