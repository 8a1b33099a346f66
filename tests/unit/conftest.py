"""A real core, on in-memory fakes of its ports, for the pipeline's unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from adapters.charts.usage_chart import MatplotlibCharts
from adapters.stackdock.demo import load_demo
from core.assistant import Assistant, AssistantConfig
from core.chat_commands import ChatCommands
from core.identity import IdentityResolver
from core.limits import LimitPolicy, Limits
from core.models import Final, Inbound, ReplyEvent
from core.ports import Provider
from core.providers.offline import OfflineProvider
from core.stackdock.mirror import InMemoryMirror
from tests.fakes.memory_store import MemoryStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Kit:
    """Everything a pipeline test needs, built the way bot/wiring.py builds it."""

    store: MemoryStore
    mirror: InMemoryMirror
    clock: Clock
    providers: list[Provider] = field(default_factory=list)
    policy: LimitPolicy = field(default_factory=LimitPolicy)
    config: AssistantConfig = field(default_factory=AssistantConfig)

    @property
    def assistant(self) -> Assistant:
        return Assistant(
            store=self.store,
            mirror=self.mirror,
            providers=self.providers or [OfflineProvider()],
            identity=IdentityResolver(self.mirror, self.store),
            limits=Limits(self.store, self.policy, self.clock),
            clock=self.clock,
            config=self.config,
        )

    @property
    def commands(self) -> ChatCommands:
        return ChatCommands(self.assistant, self.clock, MatplotlibCharts())

    async def ask(self, text: str, identity: str, **inbound: object) -> list[ReplyEvent]:
        message = Inbound(identity=identity, text=text, **inbound)  # type: ignore[arg-type]
        return [event async for event in self.assistant.handle(message)]

    async def audit_rows(self) -> list:
        return [row async for row in self.store.audit.iter()]


def last(events: Sequence[ReplyEvent]) -> ReplyEvent:
    return events[-1]


def final_text(events: Sequence[ReplyEvent]) -> str:
    end = events[-1]
    assert isinstance(end, Final), end
    return end.text


@pytest.fixture
def demo_mirror() -> InMemoryMirror:
    loaded = load_demo(NOW)
    return InMemoryMirror(loaded.tables, loaded.as_of)


@pytest.fixture
def kit(demo_mirror: InMemoryMirror) -> Kit:
    return Kit(store=MemoryStore(), mirror=demo_mirror, clock=Clock())
