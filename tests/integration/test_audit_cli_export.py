"""`audit export` streams: 100,000 rows leave in the memory of a page.

The rows are bulk-inserted directly (appending one by one would take minutes). The big export
watches the process's resident memory as lines go out, since tracemalloc would slow 100,000
rows down fourfold; a smaller export, sealed into a real chain, is measured with tracemalloc.
"""

from __future__ import annotations

import csv
import json
import os
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from adapters.store import SqlStore, open_store
from adapters.store.tables import audit_events
from bot.reports import export_audit, verify
from core.audit import GENESIS, seal
from tests.store_contract import T0, audit_record

ROWS = 100_000
SMALL = 2_500  # crosses page boundaries (1,000 rows a page)
CHUNK = 5_000
# Holding 100,000 rows at once takes well over 150 MB; streamed, the export peaks near 3 MB.
RSS_GROWTH_BOUND = 40 * 1024 * 1024
TRACED_BOUND = 8 * 1024 * 1024
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


class CountingSink:
    """A text stream that keeps only what the test checks: the line count and a few lines."""

    def __init__(self) -> None:
        self.lines = 0
        self.first: list[str] = []
        self.last = ""
        self._partial = ""
        self.baseline = rss_bytes()
        self.peak_growth = 0

    def write(self, text: str) -> int:
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        for line in complete:
            self.lines += 1
            if len(self.first) < 3:
                self.first.append(line)
            self.last = line
            if self.lines % 5_000 == 0:
                self.peak_growth = max(self.peak_growth, rss_bytes() - self.baseline)
        return len(text)


async def _fill(store: SqlStore, count: int, *, sealed: bool) -> None:
    prev = GENESIS
    columns = [c.name for c in audit_events.columns if c.name != "id"]
    async with store.engine.begin() as conn:
        for start in range(0, count, CHUNK):
            rows = []
            for n in range(start, min(start + CHUNK, count)):
                record = audit_record(n, timestamp=T0 + timedelta(seconds=n), tools=["count"])
                # Sealing costs 50 µs a row; the big export only needs rows, not a chain.
                record = (
                    seal(record, prev) if sealed else replace(record, prev_hash=prev, hash=prev)
                )
                prev = record.hash or GENESIS
                row = {name: getattr(record, name) for name in columns if name != "seq"}
                row["seq"] = n + 1  # already in the chain, as the sealer leaves a row
                row["result"] = str(record.result)
                rows.append(row)
            await conn.execute(sa.insert(audit_events), rows)


async def test_export_of_100k_rows_runs_in_bounded_memory(pg_url: str) -> None:
    store = await open_store(pg_url, upgrade=True)
    try:
        await _fill(store, ROWS, sealed=False)
        sink = CountingSink()
        await export_audit(store, sink, "jsonl", None)  # type: ignore[arg-type]
    finally:
        await store.close()
    assert sink.lines == ROWS
    first, last = json.loads(sink.first[0]), json.loads(sink.last)
    assert (first["id"], first["question"]) == (1, "question 0")
    assert (last["id"], last["question"]) == (ROWS, f"question {ROWS - 1}")
    growth = sink.peak_growth
    assert growth < RSS_GROWTH_BOUND, f"resident memory grew {growth / 1e6:.1f} MB"


@pytest.fixture
async def small_store(db_url: str) -> AsyncIterator[SqlStore]:
    store = await open_store(db_url, upgrade=True)
    await _fill(store, SMALL, sealed=True)
    yield store
    await store.close()


async def _traced_export(store: SqlStore, fmt: str, since=None) -> tuple[CountingSink, int]:
    sink = CountingSink()
    tracemalloc.start()
    try:
        await export_audit(store, sink, fmt, since)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sink, peak


async def test_jsonl_export_is_the_whole_chain_and_verifies(small_store: SqlStore) -> None:
    sink, peak = await _traced_export(small_store, "jsonl")
    assert sink.lines == SMALL and peak < TRACED_BOUND
    first = json.loads(sink.first[0])
    assert (first["id"], first["prev_hash"], first["question"]) == (1, GENESIS, "question 0")
    out = _Text()
    assert await verify(small_store, out) == 0
    assert f"{SMALL:,} rows verified from genesis" in out.value


async def test_csv_export_since_a_date_streams_only_the_later_rows(small_store: SqlStore) -> None:
    since = T0 + timedelta(seconds=SMALL - 1500)
    sink, peak = await _traced_export(small_store, "csv", since)
    assert sink.lines == 1 + 1500  # the header, then the rows
    header = next(csv.reader([sink.first[0]]))
    assert header[0] == "id" and header[-2:] == ["prev_hash", "hash"]
    row = dict(zip(header, next(csv.reader([sink.first[1]])), strict=True))
    assert row["question"] == f"question {SMALL - 1500}" and json.loads(row["tools"]) == ["count"]
    assert peak < TRACED_BOUND


class _Text:
    def __init__(self) -> None:
        self.value = ""

    def write(self, text: str) -> int:
        self.value += text
        return len(text)
