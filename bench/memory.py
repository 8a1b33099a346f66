"""Memory: the bot's RSS over 10,000 questions across 2,000 threads (issue 17: ≤ 250 MB, flat
after warm-up).

Run from the repository root:  .venv/bin/python -m bench.memory [--questions 10000]
                               [--threads 2000] [--users 500] [--in-flight 50] [--model-s 0.02]
                               [--probe] [--tracemalloc]

The bot runs as `bench/slack_ack.py`'s `serve("ours", ...)` runs it (imported, not copied): its
own process, the real SlackBot on the real core behind the signed `/slack/events` endpoint,
SQLite, the demo snapshot, a model that waits `--model-s` and streams a short answer, the
workspace bound to org_acme, no per-user window. The fake Slack Web API and the load generator
share this (the parent) process.

The questions go round by round: each of the `--threads` threads (spread over 20 channels) gets
its first question (a mention that opens the thread), then its second, and so on; a thread's next
question waits for its previous answer, as people in a thread do. Follow-ups alternate between a
plain reply in the thread (answered because the bot is engaged there) and a mention in it. The
asker rotates over `--users` distinct Slack users. At most `--in-flight` questions are
unanswered at any time (sent, answer not yet complete in the fake Slack). Each Slack user is a
StackDock person of their own (person{i}@acme.example, added to org_acme in the child's demo
data with the org's roles in turn); `--one-person` makes them all Ada, as bench/slack_ack.py does.

RSS is VmRSS of the bot's process (/proc/PID/status), read every `--every` questions once the
questions under way have drained, from `--warm-up` on. Printed: the least-squares slope over
the samples after warm-up, in MB per 1,000 questions, and over the second half of them (the
steady state, once every thread and person has been seen), which is "flat" at <= 0.2 MB per
1,000 questions (with `--probe`, the same for Python's allocated blocks, at <= 0.3 per
question). The allocators' free lists settle slowly: `--questions 30000 --threads 6000` shows
the slope falling to a few hundredths of a MB per 1,000.

`--probe` makes the child, at each sample, run a full collection and write its live objects by
type (the top growers since the first sample), SQLite's and glibc malloc's own figures;
`--tracemalloc` also traces allocations in the child from the first sample on (slow: several
times the CPU) and writes the source lines whose allocations made since then are still alive.
Both go to stdout at the end; RSS figures from a traced run are not the bot's own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import itertools
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web

from bench import slack_ack
from bench.slack_ack import ROOT, free_port, post, wait_up
from tests.fakes.services.slack_api import Call, FakeSlackApi, event_envelope, mention, message

TARGET_MB = 250.0
# Flat, over the second half of the samples: RSS moves by 0.1-0.3 MB from one sample to the
# next whatever the load (the allocators' free lists), so its slope is judged at 0.2 MB per
# 1,000 questions; Python's allocated blocks (--probe) are finer: a leak of one object per
# question is +1 block per question, their noise about +-0.2.
FLAT_MB_PER_K = 0.2
FLAT_BLOCKS_PER_Q = 0.3
CHANNELS = 20
THREAD_TS0 = 1_800_000_000  # thread t opens at ts THREAD_TS0 + t


# ---- the fake Slack: notes when each thread's answer is complete, keeps no call log ----


class AnswerWatch(list):
    """Stands in for `FakeSlackApi.calls`: instead of keeping 50,000 calls, it counts them by
    method and resolves the future of the thread whose answer a call completes."""

    def __init__(self, api: WatchedSlackApi) -> None:
        super().__init__()
        self.api = api
        self.methods: Counter[str] = Counter()

    def append(self, call: Call) -> None:
        self.methods[call.method] += 1
        self.api.noticed(call)


class WatchedSlackApi(FakeSlackApi):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.calls = AnswerWatch(self)
        self.waiting: dict[tuple[str, str], asyncio.Future[str]] = {}

    def expect(self, channel: str, thread_ts: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting[(channel, thread_ts)] = future
        return future

    def noticed(self, call: Call) -> None:
        args = call.args
        channel = args.get("channel")
        if call.method == "chat.postEphemeral":  # a refusal in a channel
            thread = args.get("thread_ts")
            how = "refused"
        elif call.method == "chat.stopStream" or (
            call.method == "chat.update" and args.get("blocks")
        ):
            found = self.messages.get((channel, args.get("ts")))
            thread = found.thread_ts if found is not None else None
            how = "answered"
        else:
            return
        future = self.waiting.pop((str(channel), str(thread)), None)
        if future is not None and not future.done():
            future.set_result(how)

    def forget_finished(self) -> None:
        """Drops the messages of finished answers (the fake's own memory, not the bot's)."""
        for key in [k for k, m in self.messages.items() if not m.stream_open]:
            del self.messages[key]


# ---- the child: slack_ack's server, plus a probe on SIGUSR1 ----


def _type_counts() -> Counter[str]:
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        counts[f"{kind.__module__}.{kind.__qualname__}"] += 1
    return counts


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def native_heap() -> dict[str, float]:
    """MB held outside Python's own accounting: SQLite's allocations (its page caches), and
    glibc malloc's heap in use and free (free but kept: fragmentation)."""
    found: dict[str, float] = {}
    with contextlib.suppress(OSError, AttributeError):
        sqlite = ctypes.CDLL("libsqlite3.so.0")  # the library _sqlite3 already loaded
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
        found["sqlite_mb"] = sqlite.sqlite3_memory_used() / 2**20
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        found["malloc_used_mb"] = (info.uordblks + info.hblkhd) / 2**20
        found["malloc_free_mb"] = info.fordblks / 2**20
    found["py_blocks"] = sys.getallocatedblocks()
    return found


class Probe:
    """On SIGUSR1: a full collection, then live objects by type (and, when tracing, the
    allocation snapshot) compared with the first probe's; one JSON line appended to `path`."""

    def __init__(self, path: str, traced: bool) -> None:
        self.path = path
        self.traced = traced
        self.first_types: Counter[str] | None = None
        self.first_snapshot: Any = None

    def __call__(self) -> None:
        import tracemalloc

        started = time.perf_counter()
        collected = gc.collect()
        types = _type_counts()
        row: dict[str, Any] = {"collected": collected, "objects": sum(types.values())}
        row.update(native_heap())
        if self.first_types is None:
            self.first_types = types
        grew = Counter(types)
        grew.subtract(self.first_types)
        row["types"] = [(k, n, types[k]) for k, n in grew.most_common(25) if n > 0]
        if self.traced and not tracemalloc.is_tracing():
            # From the first probe on: what is traced later and still alive is the growth.
            tracemalloc.start(16)
        if self.traced:
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            if self.first_snapshot is None:
                self.first_snapshot = snapshot
            lines = snapshot.compare_to(self.first_snapshot, "lineno")
            row["traced_mb"] = tracemalloc.get_traced_memory()[0] / 2**20
            row["lines"] = [
                (str(s.traceback[0]), s.size_diff, s.count_diff) for s in lines[:25] if s.size_diff
            ]
            stacks = snapshot.compare_to(self.first_snapshot, "traceback")
            row["stacks"] = [
                (s.size_diff, s.count_diff, [str(f) for f in s.traceback.format()[-16:]])
                for s in stacks[:6]
                if s.size_diff > 0
            ]
        row["probe_s"] = time.perf_counter() - started
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")


ROLES = ("role_acme_admin", "role_acme_developer", "role_acme_support", "role_acme_client")


def with_people(count: int) -> None:
    """Adds `count` StackDock people to org_acme in the demo the child loads, person{i}@acme
    with the org's roles that may ask in turn, so that per-person state (who the asker is,
    their line of the system prompt) is held for as many people as there are Slack users."""
    import bot.wiring

    load_demo = bot.wiring.load_demo

    def load(now: Any) -> Any:
        loaded = load_demo(now)
        for i in range(count):
            user = f"usr_person{i}"
            loaded.tables["users"].append(
                {"_id": user, "name": f"Person {i}", "email": f"person{i}@acme.example"}
            )
            loaded.tables["memberships"].append(
                {
                    "_id": f"mem_{user}",
                    "orgId": "org_acme",
                    "userId": user,
                    "orgRole": ROLES[i % len(ROLES)],
                }
            )
        return loaded

    bot.wiring.load_demo = load  # type: ignore[assignment]


async def serve_probed(
    port: int, api: str, db: str, model_s: float, probe: str | None, traced: bool, people: int
) -> None:
    if people:
        with_people(people)
    if probe:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, Probe(probe, traced))
    # serve() notes every request's ack time in a list: one float per question, the bench's
    # own growth (about 0.03 MB per 1,000), not the bot's. This run has no use for it.
    slack_ack.timed = lambda durations: untimed  # type: ignore[assignment]
    await slack_ack.serve("ours", port, api, db, model_s)


@aiohttp.web.middleware
async def untimed(request: aiohttp.web.Request, handler: Any) -> aiohttp.web.StreamResponse:
    return await handler(request)


# ---- the load ----


def lines_in(path: str) -> int:
    try:
        return len(Path(path).read_text().splitlines())
    except FileNotFoundError:
        return 0


MEMORY_FIELDS = {"VmRSS": "RSS", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}


def memory_of(pid: int) -> dict[str, float]:
    """MB: resident set, its anonymous part (the heaps) and its file-backed part (code and
    libraries paged in as first used), and the peak resident set."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in MEMORY_FIELDS:
                found[MEMORY_FIELDS[name]] = int(value.split()[0]) / 1024
    return found


def questions(threads: int, count: int, users: int) -> list[tuple[int, int, str, dict[str, Any]]]:
    """(number, thread, channel, event) in the order they are asked: round by round."""
    asked = []
    for n in range(count):
        rnd, t = divmod(n, threads)
        channel = f"C{t % CHANNELS:03d}"
        thread_ts = f"{THREAD_TS0 + t}.000000"
        user = f"U{(t * 7 + rnd) % users:04d}"
        text = f"Which of our servers are down? (thread {t}, question {rnd + 1})"
        if rnd == 0:
            event = mention(text, user=user, channel=channel, ts=thread_ts)
        else:
            ts = f"{THREAD_TS0 + t}.{rnd:06d}"
            if rnd % 2:
                event = message(text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)
            else:
                event = mention(text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)
        asked.append((n, t, channel, event_envelope(event)))
    return asked


async def run(args: argparse.Namespace) -> None:
    if args.one_person:  # every Slack user is Ada, as in bench/slack_ack.py
        users = {f"U{i:04d}": "ada@acme.example" for i in range(args.users)}
    else:
        users = {f"U{i:04d}": f"person{i}@acme.example" for i in range(args.users)}
    probe_file = None
    if args.probe or args.tracemalloc:
        probe_file = tempfile.mktemp(prefix="memory-probe-", suffix=".jsonl")
    port = free_port()
    db_path = Path(tempfile.mkdtemp()) / "memory.db"
    db = f"sqlite+aiosqlite:///{db_path}"
    asked = questions(args.threads, args.questions, args.users)
    samples: list[tuple[int, dict[str, float]]] = []
    outcomes: Counter[str] = Counter()
    timings: list[float] = []
    async with WatchedSlackApi(users) as api:
        cmd = [sys.executable, "-m", "bench.memory", "--serve", "--port", str(port),
               "--api", api.url, "--db", db, "--model-s", str(args.model_s)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
        if probe_file:
            cmd += ["--probe-file", probe_file]
        if args.tracemalloc:
            cmd.append("--traced")
        if not args.one_person:
            cmd += ["--people", str(args.users)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
        url = f"http://127.0.0.1:{port}/slack/events"
        probes = 0

        async def sample(done: int) -> None:
            nonlocal probes
            await asyncio.sleep(0.5)  # answers' last writes (audit rows) land
            samples.append((done, memory_of(proc.pid)))
            if probe_file:
                os.kill(proc.pid, signal.SIGUSR1)
                probes += 1
                for _ in range(6000):  # a traced heap takes a while to snapshot
                    if await asyncio.to_thread(lines_in, probe_file) >= probes:
                        break
                    await asyncio.sleep(0.1)

        try:
            connector = aiohttp.TCPConnector(limit=args.in_flight + 10)
            async with aiohttp.ClientSession(connector=connector) as session:
                await wait_up(session, url)
                started_rss = memory_of(proc.pid)["RSS"]
                gate = asyncio.Semaphore(args.in_flight)
                previous: dict[int, asyncio.Future[None]] = {}

                async def ask(n: int, t: int, channel: str, envelope: dict[str, Any]) -> None:
                    # Before the first await, so that the thread's next question, started
                    # later, finds this one to wait for.
                    before = previous.get(t)
                    mine = asyncio.get_running_loop().create_future()
                    previous[t] = mine
                    try:
                        if before is not None:
                            await before  # the thread's previous answer is in
                        async with gate:
                            await ask_now(channel, envelope)
                    finally:
                        mine.set_result(None)

                async def ask_now(channel: str, envelope: dict[str, Any]) -> None:
                    thread_ts = envelope["event"].get("thread_ts") or envelope["event"]["ts"]
                    answered = api.expect(channel, thread_ts)
                    sent = time.perf_counter()
                    status, _ = await post(session, url, json.dumps(envelope))
                    if status != 200:
                        outcomes[f"http {status}"] += 1
                        answered.cancel()
                        return
                    try:
                        outcomes[await asyncio.wait_for(answered, args.timeout)] += 1
                        timings.append(time.perf_counter() - sent)
                    except TimeoutError:
                        outcomes["no answer"] += 1
                        api.waiting.pop((channel, thread_ts), None)

                started = time.perf_counter()
                for first in range(0, len(asked), args.every):
                    batch = asked[first : first + args.every]
                    await asyncio.gather(*(ask(*q) for q in batch))
                    previous = {t: f for t, f in previous.items() if not f.done()}
                    api.forget_finished()
                    done = first + len(batch)
                    if done >= args.warm_up:
                        await sample(done)
                    print(
                        f"  {done:>6} questions  {time.perf_counter() - started:>6.0f} s"
                        + (
                            f"  RSS {samples[-1][1]['RSS']:.1f} MB"
                            if samples and samples[-1][0] == done
                            else ""
                        ),
                        flush=True,
                    )
                took = time.perf_counter() - started
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.communicate, timeout=120)
    report(args, samples, started_rss, outcomes, timings, took, api.calls.methods)
    print(audited(db_path))
    shutil.rmtree(db_path.parent, ignore_errors=True)
    if probe_file:
        show_probes(Path(probe_file), [n for n, _ in samples])


def audited(db_path: Path) -> str:
    """What the bot's own audit says of the run: rows by result, and how many people asked."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        results = db.execute(
            "SELECT result, count(*) FROM audit_events WHERE action = 'ai.chat' GROUP BY 1"
        ).fetchall()
        people = db.execute(
            "SELECT count(DISTINCT user_id) FROM audit_events WHERE action = 'ai.chat'"
        ).fetchone()[0]
    return f"audit rows by result: {dict(results)}; distinct StackDock people: {people}"


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares MB per question."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def report(
    args: argparse.Namespace,
    samples: list[tuple[int, dict[str, float]]],
    started_rss: float,
    outcomes: Counter[str],
    timings: list[float],
    took: float,
    methods: Counter[str],
) -> None:
    print(
        f"\n{args.questions} questions across {args.threads} threads ({CHANNELS} channels), "
        f"{args.users} Slack users ({'all Ada' if args.one_person else 'each a StackDock person'}"
        f"), {args.in_flight} in flight, model {args.model_s:g} s"
    )
    print(
        f"outcomes: {dict(outcomes)}; took {took:.0f} s ({args.questions / took:.0f} questions/s)"
    )
    if timings:
        ordered = sorted(timings)
        p95 = ordered[int(len(ordered) * 0.95)]
        print(f"answer time p50 {statistics.median(ordered):.3f} s, p95 {p95:.3f} s")
    print(
        "Web API calls per question: "
        + ", ".join(f"{m} {n / args.questions:.2f}" for m, n in sorted(methods.items()))
    )
    print(f"RSS before the first question: {started_rss:.1f} MB")
    print("after N questions (MB):  questions     RSS    anon    file    peak")
    for done, mb in samples:
        print(f"{'':>24}{done:>10}" + "".join(f"{mb[k]:>8.1f}" for k in MEMORY_FIELDS.values()))
    if not samples:
        return
    (first_n, first), (last_n, last) = samples[0], samples[-1]
    span = max(1, last_n - first_n)
    print(
        f"final RSS {last['RSS']:.1f} MB (target <= {TARGET_MB:.0f} MB: "
        f"{'met' if last['RSS'] <= TARGET_MB else 'NOT met'})"
    )
    for key in ("RSS", "anon"):
        grew = last[key] - first[key]
        per_k = slope([(n, mb[key]) for n, mb in samples]) * 1000
        print(
            f"{key} growth after warm-up ({first_n} -> {last_n}): {grew:+.1f} MB, "
            f"{grew / span * 1000:+.2f} MB per 1,000 questions end to end, "
            f"{per_k:+.2f} MB per 1,000 by least squares"
        )
    if len(samples) > 2:
        steps = [b[1]["RSS"] - a[1]["RSS"] for a, b in itertools.pairwise(samples)]
        print(f"RSS step to step (MB): {', '.join(f'{s:+.1f}' for s in steps)}")
    if len(samples) >= 4:
        # The first samples still see new threads and people arrive (the questions go round
        # by round); the second half is the steady state.
        late = samples[len(samples) // 2 :]
        per_k = slope([(n, mb["RSS"]) for n, mb in late]) * 1000
        print(
            f"RSS slope over the second half ({late[0][0]} -> {late[-1][0]}): {per_k:+.2f} MB "
            f"per 1,000 questions (flat: <= {FLAT_MB_PER_K}): "
            f"{'flat' if per_k <= FLAT_MB_PER_K else 'NOT flat'}"
        )


def show_probes(path: Path, asked: list[int]) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    if not rows:
        return
    last = rows[-1]
    print(
        f"\nchild probes ({len(rows)}), each after a full collection: live gc objects "
        + ", ".join(str(r["objects"]) for r in rows)
    )
    if len(rows) >= 4 and len(rows) == len(asked):
        half = len(rows) // 2
        blocks = slope([(n, r["py_blocks"]) for n, r in zip(asked, rows, strict=True)][half:])
        print(
            f"Python blocks allocated, slope over the second half ({asked[half]} -> "
            f"{asked[-1]}): {blocks:+.2f} per question (flat: <= {FLAT_BLOCKS_PER_Q}): "
            f"{'flat' if blocks <= FLAT_BLOCKS_PER_Q else 'NOT flat'}"
        )
    for key, name in (
        ("py_blocks", "Python blocks allocated"),
        ("sqlite_mb", "SQLite MB"),
        ("malloc_used_mb", "malloc MB in use"),
        ("malloc_free_mb", "malloc MB free"),
    ):
        if key in last:
            print(f"{name}: " + ", ".join(f"{r[key]:.1f}" for r in rows))
    print("types grown most since the first probe (type, growth, now):")
    for kind, grew, now in last["types"]:
        print(f"  {grew:>+8}  {now:>8}  {kind}")
    if "lines" in last:
        print("traced MB per probe: " + ", ".join(f"{r['traced_mb']:.1f}" for r in rows))
        print("lines grown most since the first probe (KB, blocks):")
        for where, size, count in last["lines"]:
            print(f"  {size / 1024:>+9.1f} KB {count:>+7}  {where}")
        for size, count, frames in last["stacks"]:
            print(f"\n  {size / 1024:+.1f} KB in {count:+} blocks, allocated at:")
            for frame in frames:
                print(f"    {frame}")
    print(f"(probe file: {path})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2_000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--model-s", type=float, default=0.02)
    parser.add_argument(
        "--warm-up", type=int, default=1_000, help="questions before the first sample"
    )
    parser.add_argument("--every", type=int, default=1_000, help="questions between samples")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for one answer"
    )
    parser.add_argument("--probe", action="store_true", help="the child's live objects by type")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace allocations (slow)")
    parser.add_argument(
        "--one-person",
        action="store_true",
        help="every Slack user is the same StackDock person (Ada), as in bench/slack_ack.py",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--people", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--probe-file", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(
            serve_probed(
                args.port,
                args.api,
                args.db,
                args.model_s,
                args.probe_file,
                args.traced,
                args.people,
            )
        )
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
