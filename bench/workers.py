"""Workers scale: N `stackdock-assistant slack` processes on one PostgreSQL, the cost of an answer.

Run from the repository root, with PostgreSQL on 127.0.0.1 (local: its backends' CPU is read
from /proc):
    .venv/bin/python -m bench.workers [--workers 1,2,4] [--events 200] [--model-s 2] [--direct]

Each run gets a fresh database (`db upgrade`, `bind` through the CLI), then starts N real
`stackdock-assistant slack` processes in HTTP mode. The load generator plays a round-robin load
balancer: every signed mention goes to one worker, and the same event is re-delivered (with
`X-Slack-Retry-Num`) to the next worker, as Slack does after a slow ack. The model is the fake
OpenAI server, which streams each answer over `--model-s` seconds, so the model dominates; the
fake Slack API records the answers, and which worker sent each call (every worker has its own
API URL). Both fakes and the load generator share this process, on 127.0.0.1. Every thread
must get exactly one answer, whichever worker saw the event first.

The Slack users are spread over six people of the demo organisation, since the rate limit takes
one lock per person. The window is from the first send to the last answer's stream stopped.
Per run:
- answers/s = answers / window; answered p50/p95 = event sent -> its stream stopped.
- worker CPU per answer: utime+stime of the worker processes (/proc/<pid>/stat) over the
  window. "all" is all workers' CPU / all answers, the figure that must not grow with N; "each"
  is one worker's CPU / the answers it sent. A worker that lost most claims shows a high "each",
  since every worker receives the same deliveries; the details line gives CPU per delivery.
  An idle worker spends about 3 ms of CPU a second, left in.
- PostgreSQL CPU per answer: utime+stime of the bench database's backends over the window,
  sampled every 5 ms (`worker_costs.BackendSampler`). Server-wide processes (WAL writer,
  checkpointer) are shared with other databases and left out.
- round trips and statements per answer: counted exactly by a proxy between the workers and
  PostgreSQL (ReadyForQuery messages; Execute and Query messages), `worker_costs.CountingProxy`.
  pg_stat_statements is not installed, and pg_stat_database's transaction counts are published
  late (up to 10 s) by idle backends, so they cannot be cut to the window. The proxy adds a hop
  to every round trip (0.1-0.3 ms here, about 28 per answer, 4 of them under the audit chain
  lock), the same for every N; `--direct` leaves it out, and round trips uncounted, to compare.
- lock waits per answer: episodes of a backend waiting for a heavyweight lock, seen in pg_locks
  polled every 5 ms (a lower bound: a shorter wait can fall between polls), and the time spent
  waiting, estimated from the same polls. Deadlocks come from pg_stat_database, read after the
  workers exited (a backend publishes its counters when it exits).
- lock held per answer: the advisory lock shared by everyone (not one person's rate-limit key)
  held longest, its held time estimated from the same polls / answers. A key held h seconds per
  answer caps every worker together at 1/h answers/s. Held time is wall time: it includes the
  holder waiting for its event loop or for a core, so it grows when processes outnumber cores.

Scaling holds if worker CPU, round trips and lock waits per answer do not grow with N. The
projection at the end divides capacity by cost for 1, 4 and 16 workers on 4-core boxes and one
4-core PostgreSQL: workers x 1 core / worker CPU per answer (the largest measured), 4 cores /
PostgreSQL CPU per answer (the largest measured), 1 / lock held per answer (from the run with
the fewest workers, the crowded run's shown beside it), and names the smallest as the first
bottleneck. It also flags when the workers' peak connections outgrow max_connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import math
import os
import signal
import socket
import statistics
import sys
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from aiohttp import web

from bench.worker_costs import ROOT, BackendSampler, CountingProxy, cpu_seconds, projection
from tests.fakes.services.openai_server import FakeOpenAI, Reply
from tests.fakes.services.slack_api import (
    BOT_TOKEN,
    SIGNING_SECRET,
    Call,
    FakeSlackApi,
    event_envelope,
    mention,
    signed_headers,
)

ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
# Acme's members in the demo data who may ask. The rate limit locks one key per person, so one
# email for every Slack user would serialize the whole burst on one person's key.
PEOPLE = (
    "ada@acme.example",
    "devon@acme.example",
    "sam@acme.example",
    "cleo@client.example",
    "nico@acme.example",
    "max@globex.example",
)
USERS = {f"U{i:04d}": PEOPLE[i % len(PEOPLE)] for i in range(2000)}

_worker: contextvars.ContextVar[int | None] = contextvars.ContextVar("worker", default=None)


class StampedCalls(list):
    """`FakeSlackApi.calls`, noting when each call arrived and from which worker."""

    def append(self, call: Call) -> None:
        call.at = time.perf_counter()  # type: ignore[attr-defined]
        call.worker = _worker.get()  # type: ignore[attr-defined]
        super().append(call)


class WorkersSlackApi(FakeSlackApi):
    """The fake Slack API, also served under /w<n>/api/ so that each worker has its own URL."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.calls = StampedCalls()
        self.web.router.add_route("*", "/w{worker}/api/{method}", self._worker_api)

    async def _worker_api(self, request: web.Request) -> web.Response:
        _worker.set(int(request.match_info["worker"]))  # this request's task only
        return await self._api(request)

    def worker_url(self, n: int) -> str:
        return f"{self.base}/w{n}/api/"

    def answers(self) -> dict[str, list[Any]]:
        """Thread -> its stopped streams (one each when all is well)."""
        threads: dict[str, list[Any]] = {}
        for call in self.calls_of("chat.stopStream"):
            message = self.messages.get((str(call.args.get("channel")), str(call.args.get("ts"))))
            if message is not None and message.thread_ts:
                threads.setdefault(message.thread_ts, []).append(call)
        return threads


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def admin(query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def database_url(name: str, port: int | None = None) -> str:
    base = urlsplit(ADMIN_DSN)
    netloc = base.netloc if port is None else f"{base.netloc.rsplit(':', 1)[0]}:{port}"
    return f"postgresql+asyncpg://{netloc}/{name}"


async def fresh_database() -> tuple[str, str]:
    """A new, empty database: its name and URL (tests start workers on it too)."""
    name = f"sda_bench_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    return name, database_url(name)


async def drop_database(name: str) -> None:
    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker_env(db_url: str, api: FakeSlackApi | str, model: FakeOpenAI) -> dict[str, str]:
    api_url = api if isinstance(api, str) else api.url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI", "AI_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=db_url,
        AI_PROVIDER="openai",
        OPENAI_API_KEY="sk-bench-0123456789abcdef",
        OPENAI_BASE_URL=model.base_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api_url,
        RATE_LIMIT_PER_HOUR="1000000",  # checked (a shared PostgreSQL window), never hit
        LOG_LEVEL="WARNING",
    )
    return env


async def cli(env: dict[str, str], *args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{args}: {err.decode()}")


async def start_worker(port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "slack", "--port", str(port),
        cwd=ROOT, env=env, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def wait_ready(session: aiohttp.ClientSession, port: int) -> None:
    for _ in range(600):
        try:
            async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"worker on port {port} never became ready")


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: str,
    retry: bool,
    sent: dict[str, float] | None = None,
) -> int:
    if sent is not None:
        sent[json.loads(body)["event"]["ts"]] = time.perf_counter()
    headers = {**signed_headers(body, SIGNING_SECRET), "Content-Type": "application/json"}
    if retry:
        headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    async with session.post(url, data=body.encode(), headers=headers) as resp:
        await resp.read()
        return resp.status


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0


async def deadlocks(name: str) -> int:
    rows = await admin("SELECT deadlocks FROM pg_stat_database WHERE datname = $1", name)
    return rows[0]["deadlocks"] if rows else 0


async def measure(
    workers: int, events: int, model_s: float, direct: bool = False
) -> dict[str, Any]:
    name, _ = await fresh_database()
    try:
        return await measure_in(name, workers, events, model_s, direct)
    finally:
        await drop_database(name)


async def measure_in(
    name: str, workers: int, events: int, model_s: float, direct: bool
) -> dict[str, Any]:
    procs: list[asyncio.subprocess.Process] = []
    pg = urlsplit(ADMIN_DSN)
    api = WorkersSlackApi(USERS)
    try:
        async with (
            api,
            FakeOpenAI() as model,
            CountingProxy(pg.hostname or "127.0.0.1", pg.port or 5432) as proxy,
        ):
            pieces = ["All ", "twelve ", "servers ", "are ", "up."]
            delay = model_s / len(pieces)
            model.push(*[Reply(text=pieces, chunk_delay_s=delay)] * (events + workers * 2))
            setup = worker_env(database_url(name), api.url, model)
            await cli(setup, "db", "upgrade")
            await cli(setup, "bind", "slack:T1", "org_acme")
            deadlocks_before = await deadlocks(name)
            ports = [free_port() for _ in range(workers)]
            for n, port in enumerate(ports):
                db_url = database_url(name, None if direct else proxy.port)
                env = worker_env(db_url, api.worker_url(n), model)
                procs.append(await start_worker(port, env))
            urls = [f"http://127.0.0.1:{port}/slack/events" for port in ports]
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:
                await asyncio.gather(*(wait_ready(session, port) for port in ports))
                for n, url in enumerate(urls):  # Bolt's one-time auth.test, out of the figures
                    warm = event_envelope(mention("hi", user="U1999", ts=f"9{n}.0", channel="CW"))
                    await post(session, url, json.dumps(warm), retry=False)
                await api.wait_for(lambda: len(api.calls_of("chat.stopStream")) >= workers, 30)
                api.calls.clear()

                bodies = [
                    json.dumps(
                        event_envelope(mention("Status?", user=f"U{i:04d}", ts=f"{1000 + i}.1"))
                    )
                    for i in range(events)
                ]
                sent: dict[str, float] = {}
                async with BackendSampler(ADMIN_DSN, name) as sampler:
                    counts_before = await proxy.counts()
                    cpu_before = [cpu_seconds(p.pid) or 0.0 for p in procs]
                    started = time.perf_counter()
                    sends = []
                    for i, body in enumerate(bodies):
                        sends.append(post(session, urls[i % workers], body, False, sent))
                        sends.append(post(session, urls[(i + 1) % workers], body, retry=True))
                    statuses = Counter(await asyncio.gather(*sends))
                    deadline = time.monotonic() + 300
                    while time.monotonic() < deadline:
                        if len(api.answers()) >= events:
                            break
                        await asyncio.sleep(0.01)
                    ended = time.perf_counter()
                    cpu_after = [cpu_seconds(p.pid) or 0.0 for p in procs]
                    counts_after = await proxy.counts()
                await asyncio.sleep(1.0)  # a duplicate answer would show up by now
                answers = api.answers()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 40)
    new_deadlocks = await deadlocks(name) - deadlocks_before

    window = ended - started
    answered = len(answers)
    per_worker = Counter(calls[0].worker for calls in answers.values())
    latencies = [calls[0].at - sent[t] for t, calls in answers.items() if t in sent]
    cpu = [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]
    s = sampler.result
    # One person's rate-limit key serializes only that person's questions: no limit on the whole.
    shared = {k: v for k, v in s.held_s.items() if not k.startswith("rate-limit:user:")}
    lock, held = max(shared.items(), key=lambda kv: kv[1], default=("none seen", 0.0))
    person = max(s.held_s.items() - shared.items(), key=lambda kv: kv[1], default=("-", 0.0))
    per = max(answered, 1)

    def counted(key: str) -> int:
        return counts_after[key] - counts_before[key]

    return {
        "workers": workers,
        "events": events,
        "acks": dict(statuses),
        "answered": answered,
        "duplicates": sum(len(calls) - 1 for calls in answers.values()),
        "seconds": window,
        "answers_per_s": answered / window,
        "p50": statistics.median(latencies) if latencies else 0.0,
        "p95": pct(latencies, 95),
        "answers_by_worker": [per_worker[n] for n in range(workers)],
        "worker_cpu_s": cpu,
        "worker_cpu_per_answer": sum(cpu) / per,
        "worker_cpu_each": [c / per_worker[n] if per_worker[n] else 0.0 for n, c in enumerate(cpu)],
        "pg_cpu_per_answer": s.backend_cpu_s / per,
        # NaN with --direct: nothing went through the proxy to count.
        "round_trips": counted("round_trips") / per if not direct else math.nan,
        "statements": counted("statements") / per if not direct else math.nan,
        "connections_opened": counts_after["connections"] - counts_before["connections"],
        "lock_waits": sum(s.waits.values()) / per,
        "lock_waits_by_type": dict(s.waits),
        "lock_wait_s": s.wait_s / per,
        "deadlocks": new_deadlocks,
        "lock": lock,
        "lock_held_s": held / per,
        "person_lock": person[0],
        "person_lock_held_s": person[1] / per,
        "polls": s.polls,
        "backends_seen": s.backends,
        "peak_backends": s.peak_backends,
    }


def report(runs: list[dict[str, Any]], max_connections: int) -> None:
    ms = 1e3
    print(
        f"\n{'N':>2} {'answered':>9} {'dup':>4} {'ans/s':>6} {'p50 s':>6} {'p95 s':>6} | "
        f"per answer: {'worker CPU ms (all; each)':<28} {'PG CPU ms':>9} {'round trips':>11} "
        f"{'stmts':>6} {'lock waits':>10} {'waited ms':>9} {'lock held ms':>12}"
    )
    for r in runs:
        each = ", ".join(f"{c * ms:.1f}" for c in r["worker_cpu_each"])
        print(
            f"{r['workers']:>2} {r['answered']:>4}/{r['events']:<4} {r['duplicates']:>4} "
            f"{r['answers_per_s']:>6.1f} {r['p50']:>6.2f} {r['p95']:>6.2f} |             "
            f"{r['worker_cpu_per_answer'] * ms:>5.2f}; {each:<21} "
            f"{r['pg_cpu_per_answer'] * ms:>9.2f} "
            f"{r['round_trips']:>11.1f} {r['statements']:>6.1f} {r['lock_waits']:>10.2f} "
            f"{r['lock_wait_s'] * ms:>9.2f} {r['lock_held_s'] * ms:>12.2f}"
        )
    for r in runs:
        delivered = 2 * r["events"] / r["workers"]  # every worker receives as many
        print(
            f"N={r['workers']}: answers by worker {r['answers_by_worker']}; CPU s by worker "
            f"{[round(c, 2) for c in r['worker_cpu_s']]}, ms per delivery received "
            f"{[round(c * ms / delivered, 1) for c in r['worker_cpu_s']]}; acks {r['acks']}"
        )
        print(
            f"     lock waits {r['lock_waits_by_type']}, deadlocks {r['deadlocks']}; busiest "
            f"shared lock {r['lock']}; busiest per-person lock {r['person_lock']}, held "
            f"{r['person_lock_held_s'] * ms:.2f} ms per answer"
        )
        print(
            f"     backends seen {r['backends_seen']} (peak {r['peak_backends']}), connections "
            f"opened {r['connections_opened']}, a poll every "
            f"{r['seconds'] / r['polls'] * ms:.1f} ms"
        )
    ok = all(r["answered"] == r["events"] and r["duplicates"] == 0 for r in runs)
    print(f"exactly one answer per thread in every run: {'yes' if ok else 'NO'}")

    first, last = runs[0], runs[-1]
    print(f"\ngrowth from N={first['workers']} to N={last['workers']} (per answer; must stay ~1x):")
    for key, label in (
        ("worker_cpu_per_answer", "worker CPU"),
        ("pg_cpu_per_answer", "PostgreSQL CPU"),
        ("round_trips", "round trips"),
        ("statements", "statements"),
        ("lock_waits", "lock waits"),
        ("lock_wait_s", "seconds waited"),
        ("lock_held_s", "busiest lock held"),
    ):
        a, b = first[key], last[key]
        ratio = f"{b / a:.2f}x" if a else "n/a (0 at the start)"
        if math.isnan(a):
            ratio = "not counted (--direct)"
        print(f"  {label:<18} {a:.4g} -> {b:.4g}  {ratio}")

    # CPU-seconds are work done, much the same however crowded the box: take the largest
    # measured, so that the projection does not flatter. A lock's held time is wall time, which
    # grows while its holder waits for a core: take it from the run with the fewest workers.
    worst = {k: max(r[k] for r in runs) for k in ("worker_cpu_per_answer", "pg_cpu_per_answer")}
    calm = min(runs, key=lambda r: r["workers"])
    crowded = max(runs, key=lambda r: r["workers"])
    per_worker = max(r["peak_backends"] / r["workers"] for r in runs)
    print(
        f"\nprojection: 1, 4 and 16 workers on 4-core boxes, one 4-core PostgreSQL (largest CPU "
        f"per answer of any run; lock held from N={calm['workers']}, crowded = "
        f"N={crowded['workers']}; a worker is one event loop, so one core at most):"
    )
    for line in projection(
        worst["worker_cpu_per_answer"], worst["pg_cpu_per_answer"], calm["lock"],
        calm["lock_held_s"], crowded["lock_held_s"], per_worker, max_connections,
    ):  # fmt: skip
        print("  " + line)
    print("  (the model and Slack are outside: answers wait on them, but they cap no worker)")


async def main(args: argparse.Namespace) -> None:
    counts = [int(n) for n in args.workers.split(",")]
    max_connections = int((await admin("SHOW max_connections"))[0][0])
    print(
        f"{os.cpu_count()} CPUs; workers {counts}; {args.events} events, model "
        f"{args.model_s} s per answer; PostgreSQL max_connections {max_connections}"
    )
    runs = []
    for n in counts:
        print(f"N={n}: load average before the run {os.getloadavg()[0]:.2f}")
        runs.append(await measure(n, args.events, args.model_s, args.direct))
        print(
            json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in runs[-1].items()})
        )
    report(runs, max_connections)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts, one run each")
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--model-s", type=float, default=2.0)
    parser.add_argument(
        "--direct", action="store_true", help="workers connect to PostgreSQL without the proxy"
    )
    asyncio.run(main(parser.parse_args()))
