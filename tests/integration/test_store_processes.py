"""On PostgreSQL, rate limits and the audit chain hold across separate processes, not only
across the connections of one process. (SQLite deployments are one process by design.)"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from adapters.store import open_store
from core.audit import verify_chain
from tests.store_contract import collect

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import asyncio, sys
from adapters.store import open_store
from tests.store_contract import T0, audit_record

async def main(url, worker):
    store = await open_store(url)
    try:
        admits = await asyncio.gather(
            *(store.rate_limits.admit("user:shared", 50, 3600, T0) for _ in range(50))
        )
        records = [audit_record(worker * 100 + n) for n in range(25)]
        await asyncio.gather(*(store.audit.append(record) for record in records))
    finally:
        await store.close()
    print(sum(a.admitted for a in admits))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def _worker(url: str, worker: int) -> tuple[int | None, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        url,
        str(worker),
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode, out, err


async def test_four_processes_share_one_limit_and_one_chain(pg_url: str) -> None:
    store = await open_store(pg_url, upgrade=True)
    try:
        # Every worker runs to the end before any assertion, so none outlives the database.
        finished = await asyncio.gather(*(_worker(pg_url, w) for w in range(4)))
        rows = await collect(store.audit.iter())
    finally:
        await store.close()
    for code, _, err in finished:
        assert code == 0, err.decode()[-2000:]
    assert sum(int(out) for _, out, _ in finished) == 50
    result = verify_chain(rows)
    assert result.ok and result.checked == 100, result
