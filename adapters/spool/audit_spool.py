"""Question records the database could not take, kept on local disk until it is back.

When the database is down the person still gets a clear reply; this keeps that question's
audit row (and any usage it cost) in an append-only JSON-lines file, and `replay` writes them
through `Store.record_exchange` once the database answers again, oldest first. Nothing is
lost on the way, short of losing the disk itself.

A line that cannot be replayed (torn by a crash mid-write, edited by hand, or refused by a
database that is otherwise up) must not hold back the rows behind it: it is moved to a side
file next to the spool (`<spool>.bad`), logged with its line number, and replay goes on.
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
from typing import Any, Literal

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


# Every encoded line starts so (keys are sorted, and quotes inside values are escaped), which
# finds a whole row glued behind a torn one by a writer that did not end the torn line.
_ROW_START = '{"audit": '
# Bytes that are not UTF-8 survive a read and a rewrite unchanged, and are set aside as such.
_ENCODING, _RAW = "utf-8", "surrogateescape"
# A row the database refuses this many times while it answers pings is the row's fault.
STRIKES = 3


def _rows_of(line: str) -> tuple[tuple[AuditRecord, UsageRecord | None] | None, str, str]:
    """The row a spool line holds, and the part of it that is no row (with why), if any."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return None, line, "not UTF-8"
    try:
        return decode(line), "", ""
    except Exception as exc:  # JSON, shape or value: any of them makes the line unreadable
        why = f"not a readable audit row ({type(exc).__name__})"
    start = _torn_prefix(line)
    if start:
        return decode(line[start:]), line[:start], why
    return None, line, why


def _torn_prefix(line: str) -> int:
    """Where a readable row starts after a torn one on the same line; 0 when there is none."""
    start = line.find(_ROW_START, 1)
    while start > 0:
        try:
            decode(line[start:])
            return start
        except Exception:
            start = line.find(_ROW_START, start + 1)
    return 0


class AuditSpool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.set_aside_path = path.with_name(path.name + ".bad")
        self._file_lock = threading.Lock()  # appends (threads) vs the replay's rewrite
        self._replaying = asyncio.Lock()
        self._strikes: dict[str, int] = {}

    async def put(self, record: AuditRecord, usage: UsageRecord | None = None) -> None:
        await asyncio.to_thread(self._append, encode(record, usage))
        log.warning(
            "database unavailable: kept the audit row of %s in %s", record.identity, self.path
        )

    def _append(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        with self._file_lock, self.path.open("a+b", buffering=0) as out:
            end = out.seek(0, os.SEEK_END)
            if end:
                out.seek(end - 1)
                if out.read(1) != b"\n":
                    data = b"\n" + data  # a crash tore the last line: don't glue a row onto it
            out.write(data)  # one write() on an O_APPEND file: whole lines, whoever else appends
            os.fsync(out.fileno())  # the row must survive a crash of this process too

    def pending(self) -> int:
        return len(self._read())

    async def replay(self, store: Store) -> int:
        """Writes kept rows to the store, oldest first, until the database fails; lines that
        cannot be replayed are set aside. Returns how many rows were written."""
        async with self._replaying:
            lines = await asyncio.to_thread(self._read)
            done = written = 0
            for number, line in lines:
                row, bad, why = _rows_of(line)
                if row is not None:
                    fate = await self._write(store, number, line, *row)
                    if fate == "paused":
                        break  # the line stays, whole, for the next attempt
                    if fate == "written":
                        written += 1
                if bad:
                    await asyncio.to_thread(self._set_aside, number, bad, why)
                done += 1
            if done:
                await asyncio.to_thread(self._drop_first, done)
            if written:
                log.info("replayed %d kept audit rows into the database", written)
            return written

    async def _write(
        self,
        store: Store,
        number: int,
        line: str,
        record: AuditRecord,
        usage: UsageRecord | None,
    ) -> Literal["written", "set aside", "paused"]:
        """Writes one kept row; a row the database keeps refusing while it is up is set aside."""
        try:
            await store.record_exchange(record, usage=usage)
        except Exception as exc:
            failure = type(exc).__name__
        else:
            self._strikes.pop(line, None)
            return "written"
        try:
            await store.ping()
        except Exception:
            log.info("spool replay paused, database still unavailable (%s)", failure)
            return "paused"
        strikes = self._strikes[line] = self._strikes.get(line, 0) + 1
        if strikes < STRIKES:
            log.warning("spool replay paused: the database refused a kept row (%s)", failure)
            return "paused"
        del self._strikes[line]
        await asyncio.to_thread(
            self._set_aside, number, line, f"refused by the database {strikes} times ({failure})"
        )
        return "set aside"

    def _set_aside(self, number: int, line: str, why: str) -> None:
        with self._file_lock, self.set_aside_path.open("a", encoding=_ENCODING, errors=_RAW) as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())  # kept before it leaves the spool
        log.warning(
            "spool %s line %d: %s; set aside in %s", self.path, number, why, self.set_aside_path
        )

    def _read(self) -> list[tuple[int, str]]:
        """The non-blank lines with their line numbers in the file as it is now."""
        with self._file_lock:
            if not self.path.exists():
                return []
            text = self.path.read_bytes().decode(_ENCODING, errors=_RAW)
        return [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]

    def _drop_first(self, count: int) -> None:
        with self._file_lock:
            text = self.path.read_bytes().decode(_ENCODING, errors=_RAW)
            rest = [line for line in text.split("\n") if line.strip()][count:]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(line + "\n" for line in rest), _ENCODING, errors=_RAW)
            os.replace(tmp, self.path)
