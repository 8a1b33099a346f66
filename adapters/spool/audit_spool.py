"""Question records the database could not take, kept on local disk until it is back.

When the database is down the person still gets a clear reply; this keeps that question's
audit row (and any usage it cost) in an append-only JSON-lines file, and `replay` writes them
through `Store.record_exchange` once the database answers again, oldest first. Nothing is
lost on the way, short of losing the disk itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.models import AuditRecord, Outcome, Usage, UsageRecord
from core.ports import Store

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Outcome):
        return value.value
    return value


def encode(record: AuditRecord, usage: UsageRecord | None) -> str:
    audit = {k: _plain(v) for k, v in dataclasses.asdict(record).items()}
    spent = None
    if usage is not None:
        spent = {k: _plain(v) for k, v in dataclasses.asdict(usage).items() if k != "usage"}
        spent["usage"] = {k: _plain(v) for k, v in dataclasses.asdict(usage.usage).items()}
    return json.dumps({"audit": audit, "usage": spent}, sort_keys=True)


def decode(line: str) -> tuple[AuditRecord, UsageRecord | None]:
    data = json.loads(line)
    audit = dict(data["audit"])
    audit.update(id=None, prev_hash=None, hash=None)  # the chain is sealed again on replay
    audit["timestamp"] = datetime.fromisoformat(audit["timestamp"])
    audit["result"] = Outcome(audit["result"])
    if audit.get("cost_usd") is not None:
        audit["cost_usd"] = Decimal(audit["cost_usd"])
    usage = None
    if data.get("usage"):
        spent = dict(data["usage"])
        used = dict(spent.pop("usage"))
        if used.get("cost_usd") is not None:
            used["cost_usd"] = Decimal(used["cost_usd"])
        spent["timestamp"] = datetime.fromisoformat(spent["timestamp"])
        usage = UsageRecord(usage=Usage(**used), **spent)
    return AuditRecord(**audit), usage


class AuditSpool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file_lock = threading.Lock()  # appends (threads) vs the replay's rewrite
        self._replaying = asyncio.Lock()

    async def put(self, record: AuditRecord, usage: UsageRecord | None = None) -> None:
        await asyncio.to_thread(self._append, encode(record, usage))
        log.warning(
            "database unavailable: kept the audit row of %s in %s", record.identity, self.path
        )

    def _append(self, line: str) -> None:
        with self._file_lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())  # the row must survive a crash of this process too

    def pending(self) -> int:
        with self._file_lock:
            if not self.path.exists():
                return 0
            return sum(1 for line in self.path.read_text("utf-8").splitlines() if line.strip())

    async def replay(self, store: Store) -> int:
        """Writes kept rows to the store, oldest first; stops at the first failure. Returns
        how many were written."""
        async with self._replaying:
            lines = await asyncio.to_thread(self._read)
            done = 0
            for line in lines:
                record, usage = decode(line)
                try:
                    await store.record_exchange(record, usage=usage)
                except Exception as exc:
                    log.info(
                        "spool replay paused, database still unavailable (%s)", type(exc).__name__
                    )
                    break
                done += 1
            if done:
                await asyncio.to_thread(self._drop_first, done)
                log.info("replayed %d kept audit rows into the database", done)
            return done

    def _read(self) -> list[str]:
        with self._file_lock:
            if not self.path.exists():
                return []
            return [line for line in self.path.read_text("utf-8").splitlines() if line.strip()]

    def _drop_first(self, count: int) -> None:
        with self._file_lock:
            rest = [line for line in self.path.read_text("utf-8").splitlines() if line.strip()]
            rest = rest[count:]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(line + "\n" for line in rest), "utf-8")
            os.replace(tmp, self.path)
