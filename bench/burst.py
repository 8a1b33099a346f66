"""Burst: N people mention the bot at once while the model takes `--model-s` seconds.

Run from the repository root:  .venv/bin/python -m bench.burst [--users 50] [--model-s 2]
                               [--also 200] [--runs 1]

The bot runs as `bench/slack_ack.py`'s `serve("ours", ...)` runs it (imported, not copied):
its own process, served as the `slack` command serves it (the serving shell of bot/serving.py
on the event loop it runs: uvloop where installed), the real SlackBot on the real core,
SQLite, the demo snapshot, a provider
that waits `--model-s` and then streams a short answer, channel bound to org_acme. The fake
Slack Web API and the load generator share this (the parent) process. Each of the N events
comes from a distinct Slack user (users.info maps every one to ada@acme.example; serve() runs
with RATE_LIMIT_PER_HOUR=0, so the per-user window does not refuse the burst).

For every person, from the moment their signed event was sent:
- visible: the first sign of work the fake Slack receives in their thread
  (`assistant.threads.setStatus`, a `chat.postMessage` placeholder or `chat.startStream`);
- answered: the answer complete (`chat.stopStream`, or the final `chat.update` with blocks).
The fake timestamps each call as it arrives (a stamping list in place of `FakeSlackApi.calls`).

The child also notes, per thread and on the same monotonic clock (CLOCK_MONOTONIC is
system-wide, so both processes' `perf_counter` agree), when each stage of the answer path
ran: listener, deferral over, event claimed, users.info, each Web API call sent/returned,
model start/end, audit write (`--trace` prints their medians). Every run also prints the
event loop's worst lag, the loop thread's seconds on a CPU and waiting for one (from
/proc/self/schedstat: on a shared machine the second is other people's work, not ours), the
bot's garbage collections, and connections the kernel dropped for a full listen queue.

Loop CPU per answer is that running time over the answers. It counts the kernel's work for
the loop's sockets too (on loopback, a send also delivers the bytes to the receiver).

To see one part of the bot's own work:
- `--store memory`: the in-memory fake of the store in place of SQLite, leaving the Slack side
  and the core;
- `--compare-loops`: each run also runs the bot on asyncio's own event loop (the state before
  uvloop), interleaved run by run;
- `--compare-slack DIR`: each run also runs with `adapters/slack` loaded from DIR (another
  version of it, e.g. `git archive <commit> adapters/slack | tar -x -C /tmp/old`, then DIR
  is /tmp/old/adapters/slack), interleaved run by run, everything else the same;
- `--profile FILE`: py-spy samples the bot from the burst to the last answer (raw stacks in
  FILE.<people>.<variant>.<run>) and the loop thread's samples are summed: time by package of
  the running frame, and the functions with the most inclusive time. py-spy counts a sample
  whenever the thread holds the GIL, waiting for a CPU included, so on a busy machine its
  milliseconds run above the loop CPU: read the shares.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import gc
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench import slack_ack
from bench.slack_ack import ROOT, USERS, free_port, post, wait_up
from tests.fakes.services.slack_api import Call, FakeSlackApi, event_envelope, mention

SHARED, PER_CALL = "shared session", "a session per call (before)"
ASYNCIO_LOOP = "asyncio's own event loop (before)"
OTHER_SLACK = "adapters/slack from --compare-slack"
VISIBLE_METHODS = {"assistant.threads.setStatus", "chat.postMessage", "chat.startStream"}
TARGET_ANSWER_S = 2.5
TARGET_VISIBLE_S = 0.5
TARGET_500_ANSWER_S = 4.0
TARGET_ACK_S = 1.0


# ---- the fake Slack, timestamping every call ----


class StampedCalls(list):
    """`FakeSlackApi.calls`, noting when each call reached the fake (perf_counter)."""

    def append(self, call: Call) -> None:
        call.at = time.perf_counter()  # type: ignore[attr-defined]
        super().append(call)


class StampedSlackApi(FakeSlackApi):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.calls = StampedCalls()
        self.peers: set[tuple[str, int]] = set()  # one per TCP connection the bot opened
        self.web.middlewares.append(self._note_peer)

    @web.middleware
    async def _note_peer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # Ephemeral ports are not reused within a run (TIME_WAIT), so a new port is a new
        # connection.
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.peers.add(tuple(peer[:2]))
        return await handler(request)

    def thread_of(self, call: Call) -> str | None:
        """The thread a call belongs to (stream and update calls name a message, not a thread)."""
        args = call.args
        if args.get("thread_ts"):
            return str(args["thread_ts"])
        message = self.messages.get((args.get("channel"), args.get("ts")))
        return message.thread_ts if message else None

    def timeline(self) -> tuple[dict[str, float], dict[str, float]]:
        """Per thread: first visible sign of work, and when the answer was complete."""
        visible: dict[str, float] = {}
        done: dict[str, float] = {}
        for call in list(self.calls):
            thread = self.thread_of(call)
            if thread is None:
                continue
            if call.method in VISIBLE_METHODS:
                visible.setdefault(thread, call.at)  # type: ignore[attr-defined]
            final_update = call.method == "chat.update" and call.args.get("blocks")
            if call.method == "chat.stopStream" or final_update:
                done[thread] = call.at  # type: ignore[attr-defined]
        return visible, done


# ---- the child: slack_ack's server, with the answer path traced ----

_thread: contextvars.ContextVar[str | None] = contextvars.ContextVar("thread", default=None)
TRACE: dict[str, list[tuple[str, float]]] = defaultdict(list)
LOOP_LAG: list[float] = []
CPU: list[tuple[float, float, float]] = []  # (wall, loop thread running, waiting)
GC_PAUSES: list[tuple[int, float, float]] = []  # (generation, started, seconds)


def note(stage: str, thread: str | None = None) -> None:
    thread = thread or _thread.get()
    if thread is not None:
        TRACE[thread].append((stage, time.perf_counter()))


def _traced(owner: type, name: str, stage: str) -> None:
    """Wraps `owner.name` (a coroutine method) to note `stage:in` / `stage:out`."""
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapper(*args: Any, **kw: Any) -> Any:
        note(f"{stage}:in")
        try:
            return await original(*args, **kw)
        finally:
            note(f"{stage}:out")

    setattr(owner, name, wrapper)


class TracedSlowProvider(slack_ack.SlowProvider):
    async def turn(self, system: str, messages: Sequence, tools: Sequence) -> AsyncIterator:
        note("model:in")
        async for event in super().turn(system, messages, tools):
            yield event
        note("model:out")


def install_tracing() -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    from adapters.slack.answers import Answerer
    from adapters.slack.app import SlackBot
    from adapters.slack.people import EmailDirectory
    from adapters.store.database import SqlStore
    from core.assistant import Assistant
    from core.service import AssistantService

    on_mention = SlackBot.on_mention

    async def traced_mention(self: SlackBot, body: dict[str, Any], context: Any) -> None:
        note("listener", body["event"].get("thread_ts") or body["event"]["ts"])
        await on_mention(self, body, context)

    SlackBot.on_mention = traced_mention  # type: ignore[method-assign]

    answer = Answerer.answer

    async def traced_answer(self: Answerer, ask: Any, **kw: Any) -> Any:
        _thread.set(ask.thread_ts)  # inside the task: its own context
        note("deferral over")
        return await answer(self, ask, **kw)

    Answerer.answer = traced_answer  # type: ignore[method-assign]
    _traced(AssistantService, "claim_event", "claim")
    _traced(EmailDirectory, "email", "email")
    _traced(Assistant, "resolve", "resolve")  # the pipeline's own step, on the answer path
    _traced(SqlStore, "record_exchange", "audit")
    api_call = AsyncWebClient.api_call

    async def traced_call(self: AsyncWebClient, api_method: str, **kw: Any) -> Any:
        note(f"{api_method}:in")
        try:
            return await api_call(self, api_method, **kw)
        finally:
            note(f"{api_method}:out")

    AsyncWebClient.api_call = traced_call  # type: ignore[method-assign]
    slack_ack.SlowProvider = TracedSlowProvider  # type: ignore[misc]


_SCHEDSTAT: int | None = None


def main_thread_times() -> tuple[float, float]:
    """The event loop thread's seconds on a CPU, and waiting for one (runnable, not running:
    the other processes on a shared machine), from /proc/self/schedstat."""
    global _SCHEDSTAT
    try:
        if _SCHEDSTAT is None:
            _SCHEDSTAT = os.open("/proc/self/schedstat", os.O_RDONLY)
        running, waiting, _ = os.pread(_SCHEDSTAT, 200, 0).split()
        return int(running) / 1e9, int(waiting) / 1e9
    except (OSError, ValueError):
        return time.thread_time(), 0.0


async def watch_loop(period: float = 0.005) -> None:
    """The event loop's lateness in waking a `period` sleep: any blocking shows up here."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(period)
        LOOP_LAG.append(loop.time() - before - period)
        CPU.append((time.perf_counter(), *main_thread_times()))


def watch_gc() -> None:
    """Notes every garbage collection: a full one over the bot's heap stops the event loop."""
    started: list[float] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            GC_PAUSES.append((info["generation"], started[0], time.perf_counter() - started[0]))

    gc.callbacks.append(callback)


def per_call_sessions() -> None:
    """The state before issue 17: no shared session, so the SDK opens one per Web API call."""
    import bot.wiring

    bot.wiring.share_session = lambda client, app: None  # type: ignore[assignment]


def memory_store() -> None:
    """The in-memory fake of the Store port in place of the database: what is left is the
    bot's own work, Slack's side and the core's, without the store's."""
    import bot.wiring
    from tests.fakes.ports.memory_store import MemoryStore

    async def open_memory(url: str, **kw: Any) -> MemoryStore:
        return MemoryStore()

    bot.wiring.open_store = open_memory  # type: ignore[assignment]


def slack_adapter_from(directory: str) -> None:
    """Loads `adapters.slack` from another copy of it (say the one before a change, from
    `git archive`), so that two versions of the adapter run on the same tree otherwise."""
    import importlib.util

    import adapters

    init = Path(directory) / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        "adapters.slack", init, submodule_search_locations=[directory]
    )
    assert spec is not None and spec.loader is not None, f"no package in {directory}"
    module = importlib.util.module_from_spec(spec)
    sys.modules["adapters.slack"] = module
    spec.loader.exec_module(module)
    adapters.slack = module


async def serve_traced(
    port: int,
    api: str,
    db: str,
    model_s: float,
    per_call: bool,
    slack_from: str | None,
    memory: bool,
) -> None:
    if slack_from:
        slack_adapter_from(slack_from)
    if per_call:
        per_call_sessions()
    if memory:
        memory_store()
    install_tracing()
    watch_gc()
    watcher = asyncio.create_task(watch_loop())
    await slack_ack.serve("ours", port, api, db, model_s)  # prints its ack durations
    watcher.cancel()
    result = {"trace": TRACE, "loop_lag": sorted(LOOP_LAG)[-20:], "gc": GC_PAUSES, "cpu": CPU}
    print(json.dumps(result))


# ---- the load ----


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            row = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(row.get("ListenOverflows", 0))
    return 0


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> tuple[float, float, float]:
    return (statistics.median(values), pct(values, 95), max(values)) if values else (0, 0, 0)


def start_profiler(pid: int, path: str) -> subprocess.Popen:
    """py-spy sampling the bot at 500 Hz without pausing it; SIGINT makes it write `path`."""
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--pid", str(pid), "-r", "500", "-f", "raw", "-o", path,
           "--nonblocking", "--gil", "--threads", "--nolineno", "--full-filenames"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(spy: subprocess.Popen) -> None:
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)


# Where a frame's file lives, first match wins: which part of the process the CPU went to.
PACKAGES = [
    ("slack_bolt/", "slack_bolt"), ("slack_sdk/", "slack_sdk"), ("aiohttp/", "aiohttp"),
    ("yarl/", "aiohttp"), ("multidict/", "aiohttp"), ("sqlalchemy/", "sqlalchemy"),
    ("aiosqlite/", "aiosqlite"), ("/slack/", "adapters/slack"),
    ("/adapters/store/", "adapters/store"), ("/adapters/", "adapters (other)"),
    ("/core/", "core"), ("/bot/", "bot"), ("/bench/", "bench (tracing)"),
    ("/asyncio/", "asyncio"), ("/json/", "json"), ("/logging/", "logging"),
]  # fmt: skip


def package_of(frame: str) -> str:
    path = frame[frame.rfind("(") + 1 : -1]
    return next((name for part, name in PACKAGES if part in path), "other")


def function_of(frame: str) -> str:
    """`name (…/pkg/module.py)` as `module.name`."""
    name, _, path = frame.rpartition(" (")
    module = path.rstrip(")").rsplit("/", 1)[-1].removesuffix(".py")
    return f"{module}.{name}"


def profile_report(path: str, answers: int, top: int = 45) -> None:
    """The loop thread's samples (the thread with the most): self time by package, and the
    functions with the most inclusive time (each counted once per stack)."""
    threads: dict[str, list[tuple[list[str], int]]] = defaultdict(list)
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            thread, *frames = stack.split(";")
            if frames:
                threads[thread].append((frames, int(count)))
    if not threads:
        print("profile: no samples")
        return
    loop = max(threads.values(), key=lambda rows: sum(n for _, n in rows))
    total = sum(n for _, n in loop)
    own: dict[str, int] = defaultdict(int)
    inclusive: dict[str, int] = defaultdict(int)
    for frames, n in loop:
        own[package_of(frames[-1])] += n
        for name in {function_of(frame) for frame in frames}:
            inclusive[name] += n
    ms = 1000 / 500 / max(1, answers)  # one sample is 2 ms of the loop thread's time
    print(
        f"profile of the loop thread: {total} samples, {total * ms:.1f} ms per answer "
        "holding the GIL (read the shares)"
    )
    print("  self time by package (ms per answer):")
    for name, n in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"    {name:<28}{n * ms:>7.2f}  {100 * n / total:5.1f}%")
    print(f"  inclusive time, top {top} functions (ms per answer):")
    for name, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {name[-70:]:<72}{n * ms:>7.2f}  {100 * n / total:5.1f}%")


async def burst(
    users: int,
    model_s: float,
    variant: str = SHARED,
    profile: str | None = None,
    slack_from: str | None = None,
    store: str = "sqlite",
) -> dict[str, Any]:
    async with StampedSlackApi(USERS) as api:
        port = free_port()
        db = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/burst.db"
        cmd = [sys.executable, "-m", "bench.burst", "--serve", "--port", str(port),
               "--api", api.url, "--db", db, "--model-s", str(model_s)]  # fmt: skip
        if variant == PER_CALL:
            cmd.append("--per-call-sessions")
        elif variant == ASYNCIO_LOOP:
            cmd.append("--asyncio-loop")
        elif variant == OTHER_SLACK and slack_from:
            cmd += ["--slack-from", slack_from]
        if store == "memory":
            cmd.append("--memory-store")  # the database URL is then never opened
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
        url = f"http://127.0.0.1:{port}/slack/events"
        sent: dict[str, float] = {}
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                await wait_up(session, url)
                # As slack_ack: a warm-up answer (Bolt's auth.test, first-use imports, the
                # store's first connections), and the burst's connections opened beforehand.
                warm = event_envelope(mention("warm up", user="U0999", ts="1.0", channel="CW"))
                await post(session, url, json.dumps(warm))
                ping = json.dumps({"type": "url_verification", "challenge": "c", "token": "t"})
                await asyncio.gather(*(post(session, url, ping) for _ in range(users)))
                await asyncio.sleep(model_s + 1)
                api.calls.clear()
                api.peers.clear()
                payloads = {
                    f"{100 + i}.1": json.dumps(
                        event_envelope(
                            mention(f"What's up? #{i}", user=f"U{i:04d}", ts=f"{100 + i}.1")
                        )
                    )
                    for i in range(users)
                }

                async def send(thread: str, payload: str) -> tuple[int, float]:
                    sent[thread] = time.perf_counter()
                    return await post(session, url, payload)

                spy = start_profiler(proc.pid, profile) if profile else None
                if spy is not None:
                    await asyncio.sleep(1)  # attached before the first event
                load = os.getloadavg()[0]
                overflows = listen_overflows()
                cpu_before = time.process_time()
                acks = await asyncio.gather(*(send(t, p) for t, p in payloads.items()))
                deadline = time.monotonic() + 60 + 2 * model_s
                while time.monotonic() < deadline:
                    if len(api.timeline()[1].keys() & sent.keys()) >= users:
                        break
                    await asyncio.sleep(0.02)
                parent_cpu = time.process_time() - cpu_before
                overflows = listen_overflows() - overflows
                if spy is not None:
                    await asyncio.to_thread(stop_profiler, spy)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = await asyncio.to_thread(proc.communicate, timeout=90)
        visible_at, done_at = api.timeline()
        connections = len(api.peers)
        methods: dict[str, int] = defaultdict(int)
        for call in api.calls:
            methods[call.method] += 1
    child = json.loads(out.strip().splitlines()[-1])
    window = (min(sent.values()), max(done_at.values(), default=min(sent.values())))
    return {
        "users": users,
        "variant": variant,
        "connections_per_answer": connections / max(1, len(done_at.keys() & sent.keys())),
        "ack_max": max((took for _, took in acks), default=0.0),
        "acked": sum(1 for status, _ in acks if status == 200),
        "visible": [visible_at[t] - sent[t] for t in sent if t in visible_at],
        "answered": [done_at[t] - sent[t] for t in sent if t in done_at],
        "sent": sent,
        "trace": child["trace"],
        "loop_lag": child["loop_lag"],
        # Collections between the first event sent and the last answer written.
        "gc": [
            (gen, secs)
            for gen, at, secs in child["gc"]
            if min(sent.values()) <= at <= max(done_at.values(), default=at)
        ],
        "window": window,
        "bot_cpu": cpu_between(child["cpu"], *window),
        "parent_cpu": parent_cpu,
        "load": load,
        "overflows": overflows,
        "calls_per_answer": {m: n / users for m, n in sorted(methods.items())},
    }


def cpu_between(samples: list[list[float]], start: float, end: float) -> tuple[float, float]:
    """The bot's loop thread between two instants: seconds running, and waiting for a CPU."""
    before = [row for row in samples if row[0] < start][-1:]
    inside = [row for row in samples if start <= row[0] <= end]
    after = [row for row in samples if row[0] > end][:1]
    points = before + inside + after
    if len(points) < 2:
        return 0.0, 0.0
    return points[-1][1] - points[0][1], points[-1][2] - points[0][2]


def stage_medians(run: dict[str, Any]) -> list[tuple[str, float, float]]:
    """Per stage: median and p95 seconds after the event was sent (first time it was noted)."""
    per_stage: dict[str, list[float]] = defaultdict(list)
    for thread, notes in run["trace"].items():
        if thread not in run["sent"]:
            continue
        seen: set[str] = set()
        for stage, at in notes:
            if stage not in seen:
                seen.add(stage)
                per_stage[stage].append(at - run["sent"][thread])
    rows = [(s, statistics.median(v), pct(v, 95)) for s, v in per_stage.items()]
    return sorted(rows, key=lambda row: row[1])


def report(runs: list[dict[str, Any]], model_s: float, trace: bool) -> None:
    users = runs[0]["users"]
    print(
        f"\n{users} people mention the bot at once; the model takes {model_s:g} s "
        f"[{runs[0]['variant']}]"
    )
    print(f"{'run':<5}{'acked':>6}{'answered':>9}   visible p50   p95   max"
          "   answered p50   p95   max  (s)")  # fmt: skip
    for i, run in enumerate(runs, 1):
        v, a = summary(run["visible"]), summary(run["answered"])
        print(
            f"{i:<5}{run['acked']:>6}{len(run['answered']):>9}"
            f"   {v[0]:>11.2f}{v[1]:>6.2f}{v[2]:>6.2f}   {a[0]:>12.2f}{a[1]:>6.2f}{a[2]:>6.2f}"
        )
    if len(runs) > 1:
        v = [statistics.median(x) for x in zip(*(summary(r["visible"]) for r in runs), strict=True)]
        a = [
            statistics.median(x) for x in zip(*(summary(r["answered"]) for r in runs), strict=True)
        ]
        print(f"{'med':<5}{'':>15}   {v[0]:>11.2f}{v[1]:>6.2f}{v[2]:>6.2f}"
              f"   {a[0]:>12.2f}{a[1]:>6.2f}{a[2]:>6.2f}")  # fmt: skip
    last = runs[-1]
    ok = all(
        len(r["answered"]) == users
        and pct(r["answered"], 95) <= TARGET_ANSWER_S
        and pct(r["visible"], 95) <= TARGET_VISIBLE_S
        for r in runs
    )
    print(f"targets (every answer p95 <= {TARGET_ANSWER_S} s, visible p95 <= "
          f"{TARGET_VISIBLE_S} s, all answered): {'met' if ok else 'NOT met'}")  # fmt: skip
    ok_500 = all(
        len(r["answered"]) == users
        and pct(r["answered"], 95) <= TARGET_500_ANSWER_S
        and r["ack_max"] <= TARGET_ACK_S
        for r in runs
    )
    print(f"targets at 500 (all answered, p95 <= {TARGET_500_ANSWER_S} s, no ack over "
          f"{TARGET_ACK_S} s): {'met' if ok_500 else 'NOT met'}")  # fmt: skip
    acks = statistics.median(r["ack_max"] for r in runs)
    conns = statistics.median(r["connections_per_answer"] for r in runs)
    print(f"slowest ack (median of runs) {acks:.3f} s; Web API connections opened per "
          f"answer (median of runs) {conns:.2f}")  # fmt: skip
    per_answer = [r["bot_cpu"][0] / max(1, len(r["answered"])) * 1000 for r in runs]
    print(
        "bot loop CPU per answer: "
        + ", ".join(f"{ms:.1f}" for ms in per_answer)
        + f" ms (median {statistics.median(per_answer):.1f} ms)"
    )
    calls = ", ".join(f"{m} {n:.2f}" for m, n in last["calls_per_answer"].items())
    print(f"Web API calls per answer: {calls}")
    print(f"bot event loop: worst lag {max(last['loop_lag'], default=0) * 1000:.1f} ms")
    start, end = last["window"]
    print(
        f"from the burst to the last answer ({end - start:.2f} s): bot loop thread on a CPU "
        f"{last['bot_cpu'][0]:.2f} s, waiting for one {last['bot_cpu'][1]:.2f} s; parent "
        f"(fake Slack + load) CPU {last['parent_cpu']:.2f} s; load average before the run "
        f"{last['load']:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"connections dropped by a full listen queue during the burst: {last['overflows']} "
        "(machine-wide; each costs its call a 1 s SYN retransmission)"
    )
    full = [secs for gen, secs in last["gc"] if gen == 2]
    young = [secs for gen, secs in last["gc"] if gen < 2]
    print(
        f"bot garbage collections during the burst: {len(full)} full "
        f"({sum(full) * 1000:.0f} ms, longest {max(full, default=0) * 1000:.0f} ms), "
        f"{len(young)} young ({sum(young) * 1000:.0f} ms)"
    )
    if trace:
        print("answer path, s after the event was sent (median, p95), last run:")
        for stage, med, p95 in stage_medians(last):
            print(f"  {stage:<40}{med:>7.3f}{p95:>7.3f}")


async def bench(
    sizes: list[int],
    model_s: float,
    runs: int,
    trace: bool,
    variants: list[str],
    profile: str | None = None,
    slack_from: str | None = None,
    store: str = "sqlite",
) -> None:
    for users in sizes:
        # Variants interleaved run by run, so that a busier minute on a shared machine
        # falls on both alike.
        results: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for run in range(runs):
            for v, variant in enumerate(variants):
                where = f"{profile}.{users}.{v}.{run}" if profile else None
                result = await burst(users, model_s, variant, where, slack_from, store)
                result["profile"] = where
                results[variant].append(result)
        for variant in variants:
            report(results[variant], model_s, trace)
            last = results[variant][-1]
            if last["profile"]:
                profile_report(last["profile"], len(last["answered"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--model-s", type=float, default=2.0)
    parser.add_argument("--also", type=int, nargs="*", default=[200], help="more burst sizes")
    parser.add_argument("--runs", type=int, default=1, help="runs per size (medians printed)")
    parser.add_argument("--trace", action="store_true", help="print the answer path's stages")
    parser.add_argument(
        "--compare-sessions",
        action="store_true",
        help="also run the bot without its shared HTTP session (the state before), interleaved",
    )
    parser.add_argument(
        "--compare-loops",
        action="store_true",
        help="also run the bot on asyncio's own event loop (the state before uvloop), interleaved",
    )
    parser.add_argument(
        "--compare-slack",
        metavar="DIR",
        help="also run the bot with adapters/slack loaded from DIR (another version), interleaved",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy the bot during each burst (FILE.<n>...)"
    )
    parser.add_argument(
        "--store",
        choices=["sqlite", "memory"],
        default="sqlite",
        help="memory: the in-memory fake of the store, to see the bot's work without the database's",
    )
    parser.add_argument("--per-call-sessions", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--slack-from", help=argparse.SUPPRESS)
    parser.add_argument("--memory-store", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--asyncio-loop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serving = serve_traced(
            args.port,
            args.api,
            args.db,
            args.model_s,
            args.per_call_sessions,
            args.slack_from,
            args.memory_store,
        )
        slack_ack.run_child(serving, asyncio_loop=args.asyncio_loop)
    else:
        sizes = [args.users, *args.also]
        variants = [SHARED]
        if args.compare_sessions:
            variants.append(PER_CALL)
        if args.compare_loops:
            variants.append(ASYNCIO_LOOP)
        if args.compare_slack:
            variants.insert(0, OTHER_SLACK)  # the version before first, as in every table
        work = bench(
            sizes,
            args.model_s,
            args.runs,
            args.trace,
            variants,
            args.profile,
            args.compare_slack,
            args.store,
        )
        asyncio.run(work)


if __name__ == "__main__":
    main()
