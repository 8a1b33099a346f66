"""A real core, on in-memory fakes of its ports, for the pipeline's unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from adapters.charts.usage_chart import MatplotlibCharts
from adapters.stackdock.demo import load_demo
from bot.wiring import build_assistant, build_service
from core.assistant import Assistant, AssistantConfig
from core.limits import LimitPolicy
from core.models import Final, Inbound, ReplyEvent
from core.ports import AuditSpool, Notifier, Provider
from core.providers.offline import OfflineProvider
from core.service import AssistantService
from core.stackdock.mirror import InMemoryMirror
from tests.fakes.ports.memory_store import MemoryStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Kit:
    """The parts of a pipeline test; the assistant is built from them by bot/wiring.py's
    builder, as production builds it, each time it is asked for (change a part, then ask)."""

    store: MemoryStore
    mirror: InMemoryMirror
    clock: Clock
    providers: list[Provider] = field(default_factory=list)
    policy: LimitPolicy = field(default_factory=LimitPolicy)
    config: AssistantConfig = field(default_factory=AssistantConfig)
    spool: AuditSpool | None = None
    notifier: Notifier | None = None

    @property
    def assistant(self) -> Assistant:
        return build_assistant(
            store=self.store,
            mirror=self.mirror,
            providers=self.providers or [OfflineProvider()],
            clock=self.clock,
            policy=self.policy,
            config=self.config,
            spool=self.spool,
            notifier=self.notifier,
        )

    @property
    def service(self) -> AssistantService:
        return build_service(self.assistant, clock=self.clock, charts=MatplotlibCharts())

    async def ask(self, text: str, identity: str, **inbound: object) -> list[ReplyEvent]:
        """Asks as the console does unless told otherwise: one person, in a DM."""
        where: dict[str, object] = {"platform": "console", "is_dm": True, **inbound}
        message = Inbound(identity=identity, text=text, **where)  # type: ignore[arg-type]
        return [event async for event in self.service.answer(message)]

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
