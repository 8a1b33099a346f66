"""The offline provider: answers without a model, through the same tools and the same loop.

Its first turn asks for the tools its plan names; its second turn words their results. It is
the embedded default and the deterministic provider for tests.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from core.models import ChatMessage, TextDelta, ToolCall, ToolSpec, TurnEnd, Usage
from core.prompts import HELP_TEXT, suggested_prompts
from core.providers.intents import Plan, plan_for
from core.providers.wording import compose

UNKNOWN_TEXT = (
    "I'm running without an AI model (offline mode), so I can only answer a fixed set of "
    "questions: counts of resources (by kind, provider or status), lists filtered by provider "
    "or status, critical issues and problems, domain expiry, deploy times, backups, the "
    "status of your infrastructure, and help. Try one of these:\n"
)


class OfflineProvider:
    name = "offline"
    model = "offline"

    def _usage(self) -> Usage:
        return Usage(self.name, self.model, 0, 0, cost_usd=Decimal(0))

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        question, results = _latest_exchange(messages)
        plan = plan_for(question)
        if not results and plan.calls:
            calls = tuple(
                ToolCall(id=f"offline-{i}", name=name, arguments=args)
                for i, (name, args) in enumerate(plan.calls)
            )
            yield TurnEnd(calls, self._usage(), "tool_use")
            return
        for chunk in _chunks(_answer(plan, results)):
            yield TextDelta(chunk)
        yield TurnEnd((), self._usage())


def _latest_exchange(messages: Sequence[ChatMessage]) -> tuple[str, list[tuple[str, Any]]]:
    """The newest user question and the tool results that came after it, in call order."""
    results: list[tuple[str, Any]] = []
    for message in reversed(messages):
        if message.role == "user":
            return message.content, list(reversed(results))
        if message.role == "tool":
            try:
                content = json.loads(message.content)
            except ValueError:
                content = {"error": message.content}
            results.append((message.name or "", content))
    return "", []


def _answer(plan: Plan, results: list[tuple[str, Any]]) -> str:
    if plan.intent == "help":
        return HELP_TEXT
    if plan.intent == "unknown":
        return UNKNOWN_TEXT + "\n".join(f"- {p}" for p in suggested_prompts())
    by_tool: dict[str, Mapping[str, Any]] = {}
    for name, content in results:
        if isinstance(content, Mapping) and content.get("error"):
            return str(content["error"])
        by_tool[name] = content if isinstance(content, Mapping) else {"value": content}
    return compose(plan, by_tool)


def _chunks(text: str, size: int = 80) -> list[str]:
    """Splits at line ends so a streaming adapter shows whole lines as they come."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    for line in lines:
        while len(line) > size:
            out.append(line[:size])
            line = line[size:]
        if line:
            out.append(line)
    return out or [text]
