"""A small world for alert tests: two orgs, a mirror the test changes, a fake clock, the
in-memory store, detection and delivery into a recording sink."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from core.alert_delivery import AlertDelivery
from core.alert_model import Subscription
from core.alerts import AlertDetector, subscribe
from core.models import Binding
from core.ports import AlertCard, DeliveryError, Store
from core.stackdock.mirror import InMemoryMirror
from tests.fakes.ports.memory_store import MemoryStore

START = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)
TARGET = "slack:T1:C1"
OTHER_TARGET = "slack:T1:C2"


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **span: float) -> None:
        self.now += timedelta(**span)


@dataclass
class Sent:
    op: str  # post | edit | reply
    channel: str
    ref: str
    card: AlertCard | None = None
    text: str = ""


@dataclass
class RecordingSink:
    platform: str = "slack"
    sent: list[Sent] = field(default_factory=list)
    failures: list[DeliveryError] = field(default_factory=list)
    _ts: Any = field(default_factory=lambda: itertools.count(1))

    def ready(self) -> bool:
        return True

    def _fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def post(self, channel: str, card: AlertCard) -> str:
        self._fail()
        ref = f"{next(self._ts)}.0001"
        self.sent.append(Sent("post", channel, ref, card))
        return ref

    async def edit(self, channel: str, ref: str, card: AlertCard) -> None:
        self._fail()
        self.sent.append(Sent("edit", channel, ref, card))

    async def reply(self, channel: str, ref: str, text: str) -> str:
        self._fail()
        self.sent.append(Sent("reply", channel, ref, text=text))
        return f"{next(self._ts)}.0002"

    def ops(self, op: str) -> list[Sent]:
        return [s for s in self.sent if s.op == op]

    def clear(self) -> None:
        self.sent.clear()


def monitor(doc_id: str, status: str, org: str = "org_acme", name: str | None = None) -> dict:
    return {"_id": doc_id, "orgId": org, "name": name or doc_id, "status": status}


def issue(doc_id: str, severity: str, org: str = "org_acme", status: str = "open") -> dict:
    return {
        "_id": doc_id,
        "orgId": org,
        "title": f"Error {doc_id}",
        "severity": severity,
        "status": status,
        "project": "web",
    }


class AlertWorld:
    def __init__(self, tz: tzinfo = UTC, store: Store | None = None) -> None:
        self.clock = Clock()
        self.store: Any = store if store is not None else MemoryStore()
        self.tz = tz
        self.tables: dict[str, dict[str, dict]] = {
            "organizations": {
                "org_acme": {"_id": "org_acme", "name": "Acme"},
                "org_globex": {"_id": "org_globex", "name": "Globex"},
            },
            "monitors": {},
            "issues": {},
        }
        self.mirror = InMemoryMirror()
        self.sync()
        self.sink = RecordingSink()
        self.detector = AlertDetector(self.store, self.mirror, self.clock, tz)
        self.delivery = self.worker("w1")
        self.slept: list[float] = []

    def worker(self, name: str, sink: RecordingSink | None = None) -> AlertDelivery:
        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        return AlertDelivery(
            self.store,
            sink or self.sink,
            self.clock,
            self.tz,
            worker=name,
            lease_s=60,
            sleep=sleep,
        )

    def put(self, table: str, doc: dict) -> None:
        self.tables[table][doc["_id"]] = doc
        self.sync()

    def remove(self, table: str, doc_id: str) -> None:
        self.tables[table].pop(doc_id, None)
        self.sync()

    def sync(self) -> None:
        tables = {name: list(rows.values()) for name, rows in self.tables.items()}
        self.mirror.replace(tables, self.clock())

    async def bind(self, target: str = "slack:T1", org: str = "org_acme", detail: bool = False):
        await self.store.bindings.set(Binding(target, org, detail))

    async def subscribe(
        self, target: str = TARGET, org: str = "org_acme", severity: str = "high", **extra: Any
    ) -> int:
        sub = Subscription(target, org, severity, created_at=self.clock(), **extra)
        return await subscribe(self.store, self.mirror, sub, now=self.clock(), by="operator")

    async def step(self) -> None:
        """A detection pass over the current data, then delivery of what it wrote."""
        self.sync()
        await self.detector.detect()
        await self.delivery.deliver()

    async def audit_actions(self) -> list[str]:
        return [row.action async for row in self.store.audit.iter()]
