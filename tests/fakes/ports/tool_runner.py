"""An in-memory ToolRunner with canned results, for tests of the tool loop."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.models import ToolResult, ToolSpec


@dataclass
class FakeToolRunner:
    """Answers each tool from `results`; an Exception there is raised, as a broken tool would.

    `rendezvous` > 1 makes every call wait until that many calls are in flight at once, which
    proves the calls of one turn run concurrently (a sequential caller would time out).
    """

    results: Mapping[str, ToolResult | Exception] = field(default_factory=dict)
    rendezvous: int = 0
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self._in_flight = 0
        self._gathered = asyncio.Event()

    def specs(self) -> list[ToolSpec]:
        return [
            ToolSpec(name, f"the {name} tool", {"type": "object", "properties": {}})
            for name in self.results
        ]

    async def call(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        self.calls.append((name, dict(arguments)))
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.rendezvous > 1:
                if self._in_flight >= self.rendezvous:
                    self._gathered.set()
                await asyncio.wait_for(self._gathered.wait(), timeout=2)
            result = self.results.get(name)
            if result is None:
                return ToolResult({"error": f"no tool named {name}"}, f"{name} is unknown", True)
            if isinstance(result, Exception):
                raise result
            return result
        finally:
            self._in_flight -= 1
