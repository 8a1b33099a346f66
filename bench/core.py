"""The bot's own work per question, with a model that answers instantly.

Prints, in one run: per-question overhead p50/p99 on SQLite and PostgreSQL, answers per second
at concurrency 50, the prompt's tokens for an org of 50 vs 10,000 resources, and tool query
p99 at 10,000 resources. Run: `.venv/bin/python -m bench.core` (PostgreSQL on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.stackdock.demo import DEMO_USERS, load_demo
from adapters.store.database import open_store
from bot.serving import run
from bot.wiring import build_assistant, build_service
from core.access import effective_permissions
from core.limits import LimitPolicy
from core.models import (
    ChatMessage,
    Final,
    Inbound,
    Principal,
    TextDelta,
    ToolCall,
    ToolSpec,
    TurnEnd,
    Usage,
)
from core.org_summary import org_summary
from core.ports import Store
from core.prompts import system_prompt
from core.providers.window import estimate_tokens
from core.service import AssistantService
from core.stackdock.mirror import InMemoryMirror
from core.stackdock.synthetic import synthetic_org
from core.tools import OrgTools

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


class InstantProvider:
    """A model with no latency: one tool call, then a short answer, like a typical question."""

    name = "instant"
    model = "instant"

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        usage = Usage(self.name, self.model, 1200, 80, cost_usd=Decimal("0.0001"))
        if messages[-1].role == "user":
            call = ToolCall("c1", "count_resources", {"kind": "servers", "group_by": "provider"})
            yield TurnEnd((call,), usage, "tool_use")
            return
        for piece in ("You have ", "8 servers ", "across 3 providers."):
            yield TextDelta(piece)
        yield TurnEnd((), usage)


ROUND_TRIPS = [0]


def count_round_trips() -> None:
    """Counts messages to PostgreSQL that wait for an answer, at SQLAlchemy's asyncpg adapter:
    statements, BEGIN, COMMIT/ROLLBACK of a transaction really started, and pre-pings (three:
    BEGIN, ";", ROLLBACK outside autocommit)."""
    from sqlalchemy import event
    from sqlalchemy.dialects.postgresql import asyncpg as pg
    from sqlalchemy.engine import Engine

    adapter = pg.AsyncAdapt_asyncpg_connection
    start, commit, rollback, ping = (
        adapter._start_transaction,
        adapter.commit,
        adapter.rollback,
        adapter.ping,
    )

    async def counted_start(self: Any) -> None:
        if self.isolation_level != "autocommit":
            ROUND_TRIPS[0] += 1
        await start(self)

    def ended(original: Any) -> Any:
        def wrapper(self: Any) -> None:
            if self._transaction is not None:
                ROUND_TRIPS[0] += 1
            original(self)

        return wrapper

    def counted_ping(self: Any) -> None:
        ROUND_TRIPS[0] += 1 if self.isolation_level == "autocommit" else 3
        ping(self)

    adapter._start_transaction = counted_start  # type: ignore[method-assign]
    adapter.commit, adapter.rollback = ended(commit), ended(rollback)  # type: ignore[method-assign]
    adapter.ping = counted_ping  # type: ignore[method-assign]

    @event.listens_for(Engine, "before_cursor_execute")
    def statement(*_: Any) -> None:
        ROUND_TRIPS[0] += 1


def now() -> datetime:
    return datetime.now(UTC)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def build(url: str) -> tuple[AssistantService, Store]:
    if url == "memory":
        # The core alone: the same pipeline on the in-memory fake of the Store port.
        from tests.fakes.ports.memory_store import MemoryStore

        store = MemoryStore()
    else:
        store = await open_store(url, upgrade=True)
    loaded = load_demo(now())
    mirror = InMemoryMirror(loaded.tables, loaded.as_of)
    service = build_service(
        build_assistant(
            store=store,
            mirror=mirror,
            providers=[InstantProvider()],
            clock=now,
            # Every check on, as in production: a window (never reached) and a budget.
            policy=LimitPolicy(per_user_per_hour=10**9, org_budget_usd=Decimal(1000)),
        ),
        clock=now,
    )
    return service, store


async def one(service: AssistantService, i: int) -> float:
    inbound = Inbound(
        identity=f"email:{DEMO_USERS['admin']}",
        text="How many servers do I have by provider?",
        platform="console",
        is_dm=True,
        conversation_key=f"bench-{i % 25}",
    )
    started = time.perf_counter()
    async for event in service.answer(inbound):
        if isinstance(event, Final):
            pass
    return (time.perf_counter() - started) * 1000


async def overhead(url: str, runs: int) -> dict[str, float]:
    service, store = await build(url)
    try:
        for i in range(20):  # warm pools and caches
            await one(service, i)
        trips = ROUND_TRIPS[0]
        samples = [await one(service, i) for i in range(runs)]
        trips = ROUND_TRIPS[0] - trips
        started = time.perf_counter()
        total = runs
        sem = asyncio.Semaphore(50)

        async def limited(i: int) -> None:
            async with sem:
                await one(service, i)

        await asyncio.gather(*(limited(i) for i in range(total)))
        rate = total / (time.perf_counter() - started)
    finally:
        await store.close()
    return {
        "p50": statistics.median(samples),
        "p99": pct(samples, 0.99),
        "rate": rate,
        "trips": trips / runs,
    }


async def pg_database() -> tuple[str, str]:
    import asyncpg

    name = f"sda_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_pg(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def admin_of(org_id: str) -> Principal:
    perms = effective_permissions(
        {a: "full" for a in ("projects", "resources", "docks", "operations", "settings", "ai")}
    )
    return Principal("bench", "usr_bench", "Bench", "b@x", org_id, "Bench Org", "Admin", perms)


def prompt_tokens(n: int) -> int:
    tables = synthetic_org(n, "org_bench", now=now())
    mirror = InMemoryMirror(tables, now())
    principal = admin_of("org_bench")
    return estimate_tokens(system_prompt(principal, org_summary(mirror, principal, now())))


async def tool_p99(n: int, runs: int) -> dict[str, float]:
    mirror = InMemoryMirror(synthetic_org(n, "org_bench", now=now()), now())
    tools = OrgTools(mirror, admin_of("org_bench"), now=now)
    calls = [
        ("list_resources", {"kind": "servers", "provider": "hetzner", "limit": 20}),
        ("list_resources", {"kind": "webServices", "name_contains": "api"}),
        ("get_resource", {"kind": "servers", "id_or_name": "srv-00042"}),
        ("count_resources", {"group_by": "provider"}),
        ("find_problems", {}),
    ]
    out = {}
    for name, args in calls:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            await tools.call(name, args)
            samples.append((time.perf_counter() - started) * 1000)
        out[f"{name}({', '.join(f'{k}={v}' for k, v in args.items())})"] = pct(samples, 0.99)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--only-stores", action="store_true", help="skip the prompt and tools")
    args = parser.parse_args()
    count_round_trips()

    print(
        f"per-question overhead, instant model, {args.runs} sequential runs + {args.runs} at concurrency 50"
    )
    import tempfile

    memory = await overhead("memory", args.runs)
    print(
        f"  in-memory  p50 {memory['p50']:6.2f} ms   p99 {memory['p99']:6.2f} ms   {memory['rate']:7.0f} answers/s at c=50  (the core alone, no database)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await overhead(f"sqlite+aiosqlite:///{tmp}/bench.db", args.runs)
    print(
        f"  sqlite     p50 {sqlite['p50']:6.2f} ms   p99 {sqlite['p99']:6.2f} ms   {sqlite['rate']:7.0f} answers/s at c=50"
    )
    if not args.skip_postgres:
        name, url = await pg_database()
        try:
            pg = await overhead(url, args.runs)
        finally:
            await drop_pg(name)
        print(
            f"  postgresql p50 {pg['p50']:6.2f} ms   p99 {pg['p99']:6.2f} ms   {pg['rate']:7.0f} answers/s at c=50   {pg['trips']:.1f} round trips per answer"
        )
    if args.only_stores:
        return

    small, large = prompt_tokens(50), prompt_tokens(10_000)
    print(
        f"system prompt tokens: 50 resources {small}, 10,000 resources {large}, ratio {large / small:.2f}x"
    )

    print("tool query p99 at 10,000 resources (200 runs each)")
    for call, p99 in (await tool_p99(10_000, 200)).items():
        print(f"  {p99:6.2f} ms  {call}")


if __name__ == "__main__":
    # On the event loop the serving commands run (bot/serving.py: uvloop where installed).
    run(main())
