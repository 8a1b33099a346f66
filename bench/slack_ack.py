"""Slack ack latency under load: 200 concurrent signed mentions while the model takes 2 s.

Run from the repository root:  .venv/bin/python -m bench.slack_ack [--events 200] [--model-s 2]

Two apps are measured in the same run, each in its own process so that neither shares an event
loop with the load generator or the fake Slack API (both in this process, on 127.0.0.1):
- ours: the real bot (SlackBot on the real core, SQLite, a provider that waits `--model-s`
  before answering), behind the same `/slack/events` endpoint `stackdock-assistant slack` serves;
- bare: a Bolt AsyncApp whose only listener does nothing, i.e. Bolt's own floor.
Ack latency is the client's time from sending a request to its HTTP response. For ours the run
also waits until every mention is answered (its stream stopped) and reports how many were.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.services.slack_api import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlackApi,
    event_envelope,
    mention,
    signed_headers,
)

ROOT = Path(__file__).resolve().parents[1]
USERS = {f"U{i:04d}": "ada@acme.example" for i in range(1000)}


# ---- the two servers, run as child processes ----


class SlowProvider:
    """A model that thinks for `seconds`, then answers in a few pieces."""

    name, model = "slow", "slow-1"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def turn(self, system: str, messages: Sequence, tools: Sequence) -> AsyncIterator:
        from core.models import TextDelta, TurnEnd, Usage

        await asyncio.sleep(self.seconds)
        for piece in ("All ", "twelve ", "servers ", "are ", "up."):
            yield TextDelta(piece)
        yield TurnEnd((), Usage(self.name, self.model, 100, 5))


def timed(durations: list[float]):
    """A middleware noting how long each request to the events endpoint took inside the server
    (its ack time)."""
    from aiohttp import web

    from adapters.slack.transport import EVENTS_PATH

    @web.middleware
    async def timing(request, handler):
        if request.path != EVENTS_PATH:
            return await handler(request)
        started = time.perf_counter()
        response = await handler(request)
        durations.append(time.perf_counter() - started)
        return response

    return timing


async def serve(kind: str, port: int, api_url: str, db: str, model_s: float) -> None:
    """Serves one app until SIGTERM. Ours is served as `stackdock-assistant slack` serves it
    over HTTP (bot/serve_slack.py): the same wiring and the same serving shell (startup objects
    frozen for the collector, the answers under way drained on stop); run it with `run_child`,
    which runs the event loop the `slack` command runs."""
    from aiohttp import web

    from adapters.slack.app import web_client
    from adapters.slack.transport import EVENTS_PATH, events_endpoint
    from bot.serving import listening, stopping_on_signals

    durations: list[float] = []
    client = web_client(BOT_TOKEN, api_url)
    if kind == "bare":
        from slack_bolt.async_app import AsyncApp

        bare = AsyncApp(client=client, signing_secret=SIGNING_SECRET, name="bare")

        @bare.event("app_mention")
        async def ack_only() -> None:
            return None

        web_app = web.Application(middlewares=[timed(durations)])
        web_app.router.add_post(EVENTS_PATH, events_endpoint(bare, signing_secret=SIGNING_SECRET))
        with stopping_on_signals(asyncio.Event()) as stop:
            async with listening(web_app, "127.0.0.1", port):
                await stop.wait()
        print(json.dumps(durations))
        return

    from bot.serve_slack import SlackConnection
    from bot.serving import serve as serve_shell
    from bot.settings import Settings
    from bot.wiring import build_slack_app, runtime
    from core.models import Binding

    settings = Settings(
        database_url=db, ai_provider="offline", rate_limit_per_hour=0, slack_api_url=api_url
    )
    with stopping_on_signals(asyncio.Event()) as stop:
        async with runtime(settings, providers=[SlowProvider(model_s)]) as rt:
            await rt.store.bindings.set(Binding("slack:T1", "org_acme"))
            # The app `stackdock-assistant slack` serves, built by the same wiring.
            slack = build_slack_app(rt, client=client, signing_secret=SIGNING_SECRET)
            slack.web.middlewares.append(timed(durations))
            connection = SlackConnection(slack.bot)
            await serve_shell(connection, slack.web, host="127.0.0.1", port=port, stop=stop)
    print(json.dumps(durations))


def run_child(main: Coroutine[Any, Any, None], *, asyncio_loop: bool = False) -> None:
    """Runs a served app as the `slack` command runs it (bot/serving.py's `run`: uvloop where
    it is installed); `asyncio_loop` runs it on asyncio's own loop instead, for comparison."""
    from bot.serving import run

    if asyncio_loop:
        asyncio.run(main)
    else:
        run(main)


# ---- the load ----


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def post(session: aiohttp.ClientSession, url: str, payload: str) -> tuple[int, float]:
    headers = {**signed_headers(payload, SIGNING_SECRET), "Content-Type": "application/json"}
    started = time.perf_counter()
    async with session.post(url, data=payload.encode(), headers=headers) as resp:
        await resp.read()
        return resp.status, time.perf_counter() - started


async def wait_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with session.post(url, data=b"{}") as resp:
                if resp.status == 401:  # up, and checking signatures
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} never came up")


async def measure(kind: str, api: FakeSlackApi, events: int, model_s: float) -> dict:
    port = free_port()
    db = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    cmd = [sys.executable, "-m", "bench.slack_ack", "--serve", kind, "--port", str(port),
           "--api", api.url, "--db", db, "--model-s", str(model_s)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_up(session, url)
            # One warm-up event, so that Bolt's one-time auth.test is not in the figures, and
            # as many open connections as the burst will use, so that TCP set-up is not either.
            warm = event_envelope(mention("warm up", user="U0999", ts="1.0", channel="CWARM"))
            await post(session, url, json.dumps(warm))
            challenge = json.dumps({"type": "url_verification", "challenge": "c", "token": "t"})
            await asyncio.gather(*(post(session, url, challenge) for _ in range(events)))
            await asyncio.sleep(model_s + 1)
            api.calls.clear()
            payloads = [
                json.dumps(
                    event_envelope(mention("What's up?", user=f"U{i:04d}", ts=f"{100 + i}.1"))
                )
                for i in range(events)
            ]
            started = time.perf_counter()
            results = await asyncio.gather(*(post(session, url, p) for p in payloads))
            answered, took = 0, None
            if kind == "ours":
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    answered = len(
                        {c.args.get("ts") for c in api.calls if c.method == "chat.stopStream"}
                    )
                    if answered >= events:
                        break
                    await asyncio.sleep(0.05)
                took = time.perf_counter() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=90)
    # The server noted every request: the warm-ups first, then the burst.
    inside = sorted(json.loads(out.strip().splitlines()[-1])[-events:])
    client = sorted(seconds for _, seconds in results)
    return {
        "kind": kind,
        "acked": sum(1 for status, _ in results if status == 200),
        "client": percentiles(client),
        "server": percentiles(inside),
        "answered": answered,
        "all_answered_s": took,
    }


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max, in milliseconds."""
    p99 = seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))]
    return statistics.median(seconds) * 1000, p99 * 1000, seconds[-1] * 1000


async def bench(events: int, model_s: float) -> None:
    async with FakeSlackApi(USERS) as api:
        ours = await measure("ours", api, events, model_s)
        bare = await measure("bare", api, events, model_s)
    print(f"{events} concurrent signed app_mention events; model takes {model_s:g} s\n")
    print("ack latency in ms: client = request sent -> response read (loopback, client queueing);")
    print("server = request handed to the endpoint -> ack ready\n")
    head = f"{'app':<6}{'acked':>6}{'answered':>9}"
    print(head + "  client p50   p99   max   server p50   p99   max")
    for row in (ours, bare):
        answered = f"{row['answered']}" if row["kind"] == "ours" else "-"
        c, s = row["client"], row["server"]
        print(
            f"{row['kind']:<6}{row['acked']:>6}{answered:>9}"
            f"  {c[0]:>10.1f}{c[1]:>6.1f}{c[2]:>6.1f}  {s[0]:>10.1f}{s[1]:>6.1f}{s[2]:>6.1f}"
        )
    print(
        f"\nall {ours['answered']} answers written {ours['all_answered_s']:.1f} s after the burst"
    )
    complete = ours["answered"] == events and ours["acked"] == events
    for name, i in (("client", 1), ("server", 1)):
        ratio = ours[name][i] / bare[name][i]
        met = complete and ratio <= 2 and ours[name][i] < 100
        print(
            f"{name}: ours p99 / bare p99 = {ratio:.2f}, ours p99 {ours[name][i]:.1f} ms "
            f"(target <= 2x and < 100 ms): {'met' if met else 'NOT met'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--model-s", type=float, default=2.0)
    parser.add_argument("--serve", choices=["ours", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_child(serve(args.serve, args.port, args.api, args.db, args.model_s))
    else:
        asyncio.run(bench(args.events, args.model_s))


if __name__ == "__main__":
    main()
