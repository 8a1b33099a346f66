"""Two processes on one SQLite file (the bot, and an operator's CLI `ask`) keep one chain."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import UTC, datetime

from adapters.store import open_store
from core.audit import verify_chain
from core.models import AuditRecord, Outcome

ROWS_PER_PROCESS = 150


def _append_many(url: str, tag: str, start) -> None:  # start: a multiprocessing Barrier
    async def run() -> None:
        store = await open_store(url)
        await store.ping()  # connect before the race starts
        start.wait(30)
        try:
            for i in range(ROWS_PER_PROCESS):
                record = AuditRecord(
                    timestamp=datetime.now(UTC),
                    identity=f"email:{tag}@example.com",
                    platform="console",
                    result=Outcome.ANSWERED,
                    question=f"{tag}-{i}",
                )
                await store.audit.append(record)
        finally:
            await store.close()

    asyncio.run(run())


async def test_two_processes_appending_to_one_sqlite_file_keep_one_chain(sqlite_url):
    store = await open_store(sqlite_url, upgrade=True)
    await store.close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    workers = [
        ctx.Process(target=_append_many, args=(sqlite_url, tag, start)) for tag in ("bot", "cli")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        await asyncio.to_thread(worker.join, 60)
        assert worker.exitcode == 0
    store = await open_store(sqlite_url)
    try:
        rows = [row async for row in store.audit.iter()]
    finally:
        await store.close()
    assert len(rows) == 2 * ROWS_PER_PROCESS
    assert len({row.prev_hash for row in rows}) == len(rows)  # no two rows share a parent
    assert verify_chain(rows).ok
