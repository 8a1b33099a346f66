"""What one answer costs, measured from outside the bot's processes, for `bench/workers.py`.

- CPU: utime+stime from /proc/<pid>/stat (this machine's PostgreSQL is local, so its backends
  are readable too).
- Round trips: a proxy between the workers and PostgreSQL, in its own process so that it does not
  share an event loop with the load generator, counts ReadyForQuery messages. The client waits
  for one after every Sync or simple Query, so that count is the number of round trips, exactly.
  It also counts Execute and Query messages (statements) and connections opened.
  pg_stat_database is not used for this: a backend may hold its counters up to 10 s before
  publishing them (PostgreSQL 15), so a burst window cannot be cut out of it.
- Lock waits and lock holds: pg_locks, polled every few ms by `BackendSampler`.

Run as `python -m bench.worker_costs proxy --target HOST:PORT` it is the proxy: it prints the port
it listens on, then one JSON line of counts per line read on stdin, and stops at end of input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import struct
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of a process (all its threads), or None once it has exited."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses; the fields after its last ')' do not.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


# ---- the proxy that counts round trips ----

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


@dataclass
class Tally:
    round_trips: int = 0  # ReadyForQuery messages
    statements: int = 0  # Execute and simple Query messages
    connections: int = 0


class _Kinds:
    """Reads a stream of PostgreSQL messages for their kinds, holding no byte back."""

    def __init__(self, on_kind: Any, skip: int = 0) -> None:
        self.on_kind = on_kind
        self.head = bytearray()
        self.skip = skip  # bytes left of the current message

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n:
            if self.skip:
                step = min(self.skip, n - i)
                self.skip -= step
                i += step
                continue
            take = min(5 - len(self.head), n - i)
            self.head += data[i : i + take]
            i += take
            if len(self.head) == 5:
                self.on_kind(self.head[0])
                self.skip = int.from_bytes(self.head[1:], "big") - 4
                self.head.clear()


class _Upstream(asyncio.Protocol):
    def __init__(self, client: _Client) -> None:
        self.client = client
        self.kinds = _Kinds(client.server_kind)

    def data_received(self, data: bytes) -> None:
        self.client.transport.write(data)
        self.kinds.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.transport.close()


class _Client(asyncio.Protocol):
    """One connection from a worker. Bytes are forwarded as they arrive (no await between), and
    read on the side for their message kinds."""

    def __init__(self, tally: Tally, target: tuple[str, int], tasks: set[Any]) -> None:
        self.tally, self.target, self.tasks = tally, target, tasks
        self.opening: bytearray | None = bytearray()  # until the startup packet is through
        self.kinds = _Kinds(self.client_kind)
        self.upstream: asyncio.Transport | None = None
        self.backlog = bytearray()

    def client_kind(self, kind: int) -> None:
        if kind in (0x45, 0x51):  # Execute, Query
            self.tally.statements += 1

    def server_kind(self, kind: int) -> None:
        if kind == 0x5A:  # ReadyForQuery
            self.tally.round_trips += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        task = asyncio.ensure_future(self._connect())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            upstream, _ = await loop.create_connection(lambda: _Upstream(self), *self.target)
        except OSError:
            self.transport.close()
            return
        self.tally.connections += 1
        self.upstream = upstream
        if self.backlog:
            upstream.write(bytes(self.backlog))
            self.backlog.clear()

    def data_received(self, data: bytes) -> None:
        if self.opening is not None:
            self.opening += data
            while len(self.opening) >= 8:
                length, code = struct.unpack("!ii", self.opening[:8])
                if code not in (SSL_REQUEST, GSSENC_REQUEST):
                    break
                self.transport.write(b"N")  # stay in plain text, so that messages can be read
                del self.opening[:8]
            else:
                return
            data, self.opening = bytes(self.opening), None
            self.kinds.skip = length  # the startup packet has no kind byte
        if self.upstream is not None:
            self.upstream.write(data)
        else:
            self.backlog += data
        self.kinds.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None:
            self.upstream.close()


async def serve_proxy(target: tuple[str, int]) -> None:
    tally = Tally()
    tasks: set[Any] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Client(tally, target, tasks), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    while await commands.readline():
        print(json.dumps(asdict(tally)), flush=True)
    server.close()


class CountingProxy:
    """The proxy as a child process: `port` to connect to, `await counts()` for a snapshot."""

    def __init__(self, host: str, port: int) -> None:
        self.target = f"{host}:{port}"
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> CountingProxy:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.worker_costs", "proxy", "--target", self.target,
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self._proc.stdout is not None
        self.port = int(await self._proc.stdout.readline())
        return self

    async def counts(self) -> dict[str, int]:
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(b"\n")
        await self._proc.stdin.drain()
        return json.loads(await self._proc.stdout.readline())

    async def __aexit__(self, *exc: object) -> None:
        if self._proc is None:
            return
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 5)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()


# ---- pg_locks and the backends' CPU, sampled ----

# One row per backend of the database, plus one per lock it waits for or advisory lock it holds.
_SAMPLE = """
SELECT a.pid, l.locktype, l.granted, l.classid, l.objid, l.objsubid, l.relation, l.page,
       l.tuple, l.transactionid::text AS xid, l.virtualxid
FROM pg_stat_activity a
LEFT JOIN pg_locks l ON l.pid = a.pid AND (NOT l.granted OR l.locktype = 'advisory')
WHERE a.datname = $1
"""
# Labels only: the keys `adapters/store` passes to pg_advisory_xact_lock(hashtextextended(k, 0)).
KNOWN_KEYS = (
    "stackdock-assistant:audit-chain",
    "stackdock-assistant:alerts-detect",
    "stackdock-assistant:alerts-claim",
    "stackdock-assistant:migrations",
)


@dataclass
class Sampled:
    seconds: float = 0.0
    polls: int = 0
    waits: Counter[str] = field(default_factory=Counter)  # wait episodes seen, by lock type
    wait_s: float = 0.0  # seconds some backend was seen waiting, summed over backends
    held_s: dict[str, float] = field(default_factory=dict)  # advisory key -> seconds seen held
    backend_cpu_s: float = 0.0
    backends: int = 0  # distinct backends seen
    peak_backends: int = 0


class BackendSampler:
    """Polls the database's backends every `interval_s` between `async with` entry and exit.

    A wait episode is one backend seen waiting for one lock in consecutive polls; a wait shorter
    than a poll can be missed, so the count is a lower bound. Seconds waited and seconds an
    advisory lock was held are estimated from the polls (state at a poll times the time since the
    previous one). A backend's CPU is its latest reading minus its reading at entry (zero if it
    started later, so its connection setup counts); a backend that exits loses at most its last
    interval.
    """

    def __init__(self, dsn: str, database: str, interval_s: float = 0.005) -> None:
        self.dsn, self.database, self.interval_s = dsn, database, interval_s
        self.result = Sampled()
        self._labels: dict[tuple[int, int], str] = {}
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._waiting: set[tuple[Any, ...]] = set()
        self._held_s: dict[tuple[int, int], float] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None

    async def __aenter__(self) -> BackendSampler:
        self._conn = await asyncpg.connect(self.dsn)
        await self._name_keys(self._conn, list(KNOWN_KEYS))
        self._started = self._previous = time.perf_counter()
        await self._poll(first=True)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._poll(first=False)
        await self._conn.close()
        # The rate-limit keys are only known once used: name them from the database itself.
        bench = await asyncpg.connect(self.dsn.rsplit("/", 1)[0] + "/" + self.database)
        try:
            keys = await bench.fetch("SELECT DISTINCT key FROM rate_limit_hits")
            await self._name_keys(bench, [f"rate-limit:{k['key']}" for k in keys])
        except asyncpg.PostgresError:
            pass  # the table was renamed: the locks keep their numbers
        finally:
            await bench.close()
        r = self.result
        for key, seconds in self._held_s.items():
            r.held_s[self._labels.get(key, f"advisory {key[0]}:{key[1]}")] = seconds
        r.seconds = time.perf_counter() - self._started
        r.backend_cpu_s = sum(self._last[p] - self._first.get(p, 0.0) for p in self._last)
        r.backends = len(self._last)

    async def _name_keys(self, conn: Any, keys: list[str]) -> None:
        rows = await conn.fetch(
            "SELECT k, (hashtextextended(k, 0) >> 32) & 4294967295 AS hi,"
            " hashtextextended(k, 0) & 4294967295 AS lo FROM unnest($1::text[]) k",
            keys,
        )
        self._labels |= {(r["hi"], r["lo"]): r["k"] for r in rows}

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
            await self._poll(first=False)

    async def _poll(self, first: bool) -> None:
        rows = await self._conn.fetch(_SAMPLE, self.database)
        now = time.perf_counter()
        dt, self._previous = now - self._previous, now
        r = self.result
        r.polls += 1
        pids = {row["pid"] for row in rows}
        r.peak_backends = max(r.peak_backends, len(pids))
        for pid in pids:
            if pid not in self._last and not _is_postgres(pid):
                continue  # PostgreSQL on another host: its pids are not ours to read
            cpu = cpu_seconds(pid)
            if cpu is not None:
                self._last[pid] = cpu
                if first:
                    self._first[pid] = cpu
        waiting = {tuple(row.values()) for row in rows if row["granted"] is False}
        for key in waiting - self._waiting:
            r.waits[key[1]] += 1
        self._waiting = waiting
        r.wait_s += len(waiting) * dt
        held = {
            (row["classid"], row["objid"])
            for row in rows
            if row["granted"] and row["locktype"] == "advisory"
        }
        for key in held:
            self._held_s[key] = self._held_s.get(key, 0.0) + dt


# ---- the projection ----


def projection(
    worker_cpu_s: float, pg_cpu_s: float, lock: str, lock_s: float, lock_crowded_s: float,
    backends_per_worker: float, max_connections: int, cores: int = 4,
) -> list[str]:  # fmt: skip
    """Answers per second of 1, 4 and 16 workers (one event loop each, so one core at most,
    `cores` workers per box) on one PostgreSQL box of `cores` cores, from per-answer costs:
    each limit is capacity / cost, and the smallest is the first bottleneck. `lock_s` is the
    held time that decides; `lock_crowded_s`, measured with more processes than cores, is shown
    beside it."""
    ms = 1e3
    pg = cores / pg_cpu_s if pg_cpu_s > 0 else math.inf
    held = 1 / lock_s if lock_s > 0 else math.inf
    crowded = 1 / lock_crowded_s if lock_crowded_s > 0 else math.inf
    lines = [
        f"worker CPU:     n workers x 1 core / {worker_cpu_s * ms:.2f} ms per answer",
        f"PostgreSQL CPU: {cores} cores / {pg_cpu_s * ms:.2f} ms per answer = {pg:,.0f}/s",
        f"lock {lock}: 1 / {lock_s * ms:.2f} ms held per answer = {held:,.0f}/s (all workers "
        f"together; held {lock_crowded_s * ms:.2f} ms on the crowded run = {crowded:,.0f}/s)",
    ]
    for n in (1, 4, 16):
        worker = n / worker_cpu_s
        limits = {"worker CPU": worker, "PostgreSQL CPU": pg, f"lock {lock}": held}
        first = min(limits, key=lambda k: limits[k])
        lines.append(
            f"{n:>2} workers ({math.ceil(n / cores)} box(es)): min(workers {n} / "
            f"{worker_cpu_s * ms:.2f} ms = {worker:,.0f}/s, PostgreSQL {pg:,.0f}/s, lock "
            f"{held:,.0f}/s) = {limits[first]:,.0f} answers/s; first bottleneck: {first}"
        )
        connections = n * backends_per_worker
        if connections > max_connections:
            lines.append(
                f"    and {n} x {backends_per_worker:.0f} connections = {connections:.0f} > "
                f"max_connections {max_connections}: needs a pooler or smaller pools first"
            )
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the round-trip counting proxy")
    parser.add_argument("role", choices=["proxy"])
    parser.add_argument("--target", required=True, help="HOST:PORT of PostgreSQL")
    host, _, port = parser.parse_args().target.rpartition(":")
    asyncio.run(serve_proxy((host, int(port))))
