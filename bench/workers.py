"""Answers per second of 1 vs 2 `stackdock-assistant slack` processes sharing PostgreSQL.

Run from the repository root, with PostgreSQL on 127.0.0.1:
    .venv/bin/python -m bench.workers [--events 300] [--model-s 0.2]

Each run gets a fresh database (`db upgrade`, `bind` through the CLI), then starts 1 or 2 real
`stackdock-assistant slack` processes in HTTP mode. The load generator plays a round-robin load
balancer: every signed mention goes to one worker, and the same event is re-delivered (with
`X-Slack-Retry-Num`) to the next worker, as Slack does after a slow ack. The model is the fake
OpenAI server, which streams each answer over `--model-s` seconds; the fake Slack API records
the answers. Both fakes and the load generator share this process, on 127.0.0.1.

Answers per second = events / (first send → last answer's stream stopped). Every thread must get
exactly one answer, whichever worker saw the event first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg

from tests.fakes.services.openai_server import FakeOpenAI, Reply
from tests.fakes.services.slack_api import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlackApi,
    event_envelope,
    mention,
    signed_headers,
)

ROOT = Path(__file__).resolve().parents[1]
ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
USERS = {f"U{i:04d}": "ada@acme.example" for i in range(2000)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def fresh_database() -> tuple[str, str]:
    name = f"sda_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return name, f"{base}/{name}"


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def worker_env(db_url: str, api: FakeSlackApi, model: FakeOpenAI) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI", "AI_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=db_url,
        AI_PROVIDER="openai",
        OPENAI_API_KEY="sk-bench-0123456789abcdef",
        OPENAI_BASE_URL=model.base_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api.url,
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


async def wait_ready(session: aiohttp.ClientSession, port: int) -> None:
    for _ in range(300):
        try:
            async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"worker on port {port} never became ready")


async def post(session: aiohttp.ClientSession, url: str, body: str, retry: bool) -> int:
    headers = {**signed_headers(body, SIGNING_SECRET), "Content-Type": "application/json"}
    if retry:
        headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    async with session.post(url, data=body.encode(), headers=headers) as resp:
        await resp.read()
        return resp.status


async def measure(workers: int, events: int, model_s: float) -> dict[str, object]:
    name, db_url = await fresh_database()
    procs: list[asyncio.subprocess.Process] = []
    try:
        async with FakeSlackApi(USERS) as api, FakeOpenAI() as model:
            pieces = ["All ", "twelve ", "servers ", "are ", "up."]
            delay = model_s / len(pieces)
            model.push(*[Reply(text=pieces, chunk_delay_s=delay)] * (events + workers * 2))
            env = worker_env(db_url, api, model)
            await cli(env, "db", "upgrade")
            await cli(env, "bind", "slack:T1", "org_acme")
            ports = [free_port() for _ in range(workers)]
            for port in ports:
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bot.cli",
                        "slack",
                        "--port",
                        str(port),
                        cwd=ROOT,
                        env=env,
                        stderr=asyncio.subprocess.DEVNULL,
                    )
                )
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
                started = time.perf_counter()
                sends = []
                for i, body in enumerate(bodies):
                    sends.append(post(session, urls[i % workers], body, retry=False))
                    sends.append(post(session, urls[(i + 1) % workers], body, retry=True))
                statuses = Counter(await asyncio.gather(*sends))
                deadline = time.monotonic() + 300
                answered: Counter[str] = Counter()
                while time.monotonic() < deadline:
                    answered = Counter(c.args.get("ts") for c in api.calls_of("chat.stopStream"))
                    if len(answered) >= events:
                        break
                    await asyncio.sleep(0.02)
                took = time.perf_counter() - started
                await asyncio.sleep(1.0)  # a duplicate answer would show up by now
                answered = Counter(c.args.get("ts") for c in api.calls_of("chat.stopStream"))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 40)
        await drop_database(name)
    return {
        "workers": workers,
        "events": events,
        "acks": dict(statuses),
        "answered": len(answered),
        "duplicates": sum(n - 1 for n in answered.values() if n > 1),
        "seconds": round(took, 2),
        "answers_per_s": round(len(answered) / took, 1),
    }


async def main(args: argparse.Namespace) -> None:
    print(f"{os.cpu_count()} CPUs; {args.events} events, model {args.model_s} s per answer")
    for workers in (1, 2):
        print(json.dumps(await measure(workers, args.events, args.model_s)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--model-s", type=float, default=0.2)
    asyncio.run(main(parser.parse_args()))
