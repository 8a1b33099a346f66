"""`audit export` streams: 100,000 rows leave in the memory of a page, on SQLite and PostgreSQL.

The rows are sealed and bulk-inserted directly (appending one by one would take minutes), so
they form a real chain; the export is then measured with tracemalloc.
"""

from __future__ import annotations

import csv
import json
import tracemalloc
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.reports import export_audit, verify
from core.audit import GENESIS, seal
from core.store import SqlStore, open_store
from core.store.tables import audit_events
from tests.store_contract import T0, audit_record

ROWS = 100_000
CHUNK = 5_000
# Holding 100,000 rows at once takes well over 100 MB; one page of 1,000 takes about 2 MB.
BOUND_BYTES = 12 * 1024 * 1024


class CountingSink:
    """A text stream that keeps only what the test checks: the line count and a few lines."""

    def __init__(self) -> None:
        self.lines = 0
        self.first: list[str] = []
        self.last = ""
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        for line in complete:
            self.lines += 1
            if len(self.first) < 3:
                self.first.append(line)
            self.last = line
        return len(text)


async def _fill(store: SqlStore) -> None:
    prev = GENESIS
    columns = [c.name for c in audit_events.columns if c.name != "id"]
    async with store.engine.begin() as conn:
        for start in range(0, ROWS, CHUNK):
            rows = []
            for n in range(start, start + CHUNK):
                record = audit_record(n, timestamp=T0 + timedelta(seconds=n), tools=["count"])
                sealed = seal(record, prev)
                prev = sealed.hash
                row = {name: getattr(sealed, name) for name in columns}
                row["result"] = str(sealed.result)
                rows.append(row)
            await conn.execute(sa.insert(audit_events), rows)


@pytest.fixture
async def big_store(db_url: str) -> AsyncIterator[SqlStore]:
    store = await open_store(db_url, upgrade=True)
    await _fill(store)
    yield store
    await store.close()


async def _measured_export(store: SqlStore, fmt: str, since=None) -> tuple[CountingSink, int]:
    sink = CountingSink()
    tracemalloc.start()
    try:
        await export_audit(store, sink, fmt, since)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sink, peak


async def test_export_of_100k_rows_runs_in_bounded_memory(big_store: SqlStore) -> None:
    sink, peak = await _measured_export(big_store, "jsonl")
    assert sink.lines == ROWS
    first, last = json.loads(sink.first[0]), json.loads(sink.last)
    assert (first["id"], first["prev_hash"], first["question"]) == (1, GENESIS, "question 0")
    assert last["question"] == f"question {ROWS - 1}"
    assert peak < BOUND_BYTES, f"export peaked at {peak / 1e6:.1f} MB"

    # The same trail verifies, streamed the same way.
    out = _Text()
    assert await verify(big_store, out) == 0
    assert f"{ROWS:,} rows verified" in out.value


async def test_csv_export_since_a_date_streams_only_the_later_rows(big_store: SqlStore) -> None:
    since = T0 + timedelta(seconds=ROWS - 1500)
    sink, peak = await _measured_export(big_store, "csv", since)
    assert sink.lines == 1 + 1500  # the header, then the rows
    header = next(csv.reader([sink.first[0]]))
    assert header[0] == "id" and header[-2:] == ["prev_hash", "hash"]
    row = dict(zip(header, next(csv.reader([sink.first[1]])), strict=True))
    assert row["question"] == f"question {ROWS - 1500}" and json.loads(row["tools"]) == ["count"]
    assert peak < BOUND_BYTES


class _Text:
    def __init__(self) -> None:
        self.value = ""

    def write(self, text: str) -> int:
        self.value += text
        return len(text)
