"""The issue's proof of exact limits: 4 OS processes, 50 concurrent questions each, all from one
user with a limit of 50 an hour, through the real pipeline on one PostgreSQL database.

Exactly 50 are answered; the other 150 are refused, each with a retry time, each in the audit
trail; the 200 rows form one unbroken chain; and a once-only marker raced by every process is
won exactly once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from typing import Any

from adapters.stackdock.demo import DEMO_USERS
from adapters.store import open_store
from core.audit import verify_chain
from core.models import Outcome
from tests.store_contract import collect

PROCESSES = 4
ASKS_PER_PROCESS = 50
LIMIT = 50
ADMIN = f"email:{DEMO_USERS['admin']}"


async def _ask_many(url: str, barrier: Any) -> dict[str, Any]:
    from adapters.stackdock.demo import load_demo
    from bot.wiring import build_assistant, build_service, utc_now
    from core.limits import LimitPolicy
    from core.models import Inbound
    from core.providers.offline import OfflineProvider
    from core.stackdock.mirror import InMemoryMirror

    store = await open_store(url)
    try:
        loaded = load_demo(utc_now())
        mirror = InMemoryMirror(loaded.tables, loaded.as_of)
        assistant = build_assistant(
            store=store,
            mirror=mirror,
            providers=[OfflineProvider()],
            policy=LimitPolicy(per_user_per_hour=LIMIT),
        )
        service = build_service(assistant)

        async def ask(n: int) -> str:
            text = f"How many servers? ({n})"
            inbound = Inbound(identity=ADMIN, text=text, platform="console", is_dm=True)
            events = [event async for event in service.answer(inbound)]
            return str(getattr(events[-1], "outcome", "?"))

        # Every process is set up before any asks: the 200 questions really overlap.
        await asyncio.to_thread(barrier.wait, 60)
        outcomes, marks = await asyncio.gather(
            asyncio.gather(*(ask(n) for n in range(ASKS_PER_PROCESS))),
            asyncio.gather(*(store.markers.mark("race", "x") for _ in range(10))),
        )
        return {"outcomes": Counter(outcomes), "marks": sum(marks)}
    finally:
        await store.close()


def _worker(url: str, barrier: Any, results: Any) -> None:
    try:
        results.put(asyncio.run(_ask_many(url, barrier)))
    except BaseException as exc:
        results.put({"error": repr(exc)})
        raise


def _run_processes(url: str) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, barrier, results)) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    try:
        return [results.get(timeout=120) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()


async def test_four_processes_admit_exactly_the_limit_and_audit_every_refusal(pg_url: str):
    store = await open_store(pg_url, upgrade=True)
    try:
        reports = await asyncio.to_thread(_run_processes, pg_url)
        rows = await collect(store.audit.iter())
    finally:
        await store.close()
    assert all("error" not in r for r in reports), reports
    outcomes = sum((r["outcomes"] for r in reports), Counter())
    assert outcomes == {Outcome.ANSWERED: LIMIT, Outcome.RATE_LIMITED: 150}
    assert sum(r["marks"] for r in reports) == 1

    assert len(rows) == PROCESSES * ASKS_PER_PROCESS
    assert Counter(row.result for row in rows) == outcomes
    refusals = [row for row in rows if row.result is Outcome.RATE_LIMITED]
    for row in refusals:
        assert row.reason == "rate_limited" and row.user_id == "usr_ada"
        # The window's oldest hit is seconds old: the wait is just under an hour.
        assert row.retry_after_s is not None and 3000 < row.retry_after_s <= 3600
        assert row.answer is not None and "Try again in" in row.answer

    # Four writers, one chain: every row links to a different predecessor, none is skipped.
    assert len({row.prev_hash for row in rows}) == len(rows)
    result = verify_chain(rows)
    assert result.ok and result.checked == len(rows), result
