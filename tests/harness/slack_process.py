"""A real `stackdock-assistant slack` process in HTTP mode, against the fake Slack Web API.

The fake runs on its own event loop in a thread, so that a test (hypothesis included) drives the
process with plain synchronous requests. The process logs to a file the test can read from
any point on, so each test checks only what its own requests wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.fakes.services.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlackApi
from tests.harness.slack_harness import SLACK_USERS

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's signature over the raw bytes (the fake's `signed_headers` takes text)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest.hexdigest()}


class SlackProcess:
    def __init__(self, api: FakeSlackApi, port: int, log_path: Path) -> None:
        self.api, self.port, self.log_path = api, port, log_path
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20)
        self.statuses: Counter[int] = Counter()

    def post(
        self,
        body: bytes,
        headers: dict[str, str] | list[tuple[str, str]] | list[tuple[bytes, bytes]],
    ) -> int:
        status = self.http.post("/slack/events", content=body, headers=headers).status_code
        self.statuses[status] += 1
        return status

    def post_signed(self, body: bytes, content_type: str, **headers: str) -> int:
        return self.post(body, {**sign(body), "Content-Type": content_type, **headers})

    def log_mark(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, mark: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, mark: int, text: str, within_s: float = 5.0) -> str:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if text in (log := self.log_since(mark)):
                return log
            time.sleep(0.05)
        return self.log_since(mark)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


@contextlib.contextmanager
def slack_process(tmp: Path, log_level: str = "WARNING") -> Iterator[SlackProcess]:
    """Binds workspace T1 to org_acme, starts `slack` in HTTP mode, and stops it with SIGTERM,
    checking that it was still alive and stopped cleanly."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    api = FakeSlackApi(SLACK_USERS)
    asyncio.run_coroutine_threadsafe(api.__aenter__(), loop).result(10)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI", "AI_"))}
    env |= {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bot.db'}",
        "AI_PROVIDER": "offline",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api.url,
        "RATE_LIMIT_PER_HOUR": "0",
        "LOG_LEVEL": log_level,
        "PYTHONPATH": str(ROOT),
    }
    cli = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*cli, "bind", "slack:T1", "org_acme"], cwd=ROOT, env=env, check=True)
    port = free_port()
    log_path = tmp / "slack.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*cli, "slack", "--port", str(port)], cwd=ROOT, env=env, stderr=log)
    bot = SlackProcess(api, port, log_path)
    try:
        for _ in range(300):  # 30 s at most
            with contextlib.suppress(httpx.TransportError):
                if bot.http.get("/healthz").status_code == 200:
                    break
            assert proc.poll() is None, bot.log_since(0)[-2000:]
            time.sleep(0.1)
        yield bot
        assert proc.poll() is None, "the bot died: " + bot.log_since(0)[-2000:]
    finally:
        proc.terminate()
        code = proc.wait(timeout=40)
        bot.http.close()
        asyncio.run_coroutine_threadsafe(api.__aexit__(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert code == 0, f"exit {code}: " + bot.log_since(0)[-2000:]
