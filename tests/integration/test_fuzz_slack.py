"""1,000 generated bad Slack requests against a real `stackdock-assistant slack` process in HTTP
mode: malformed, oversized (1 MB), wrongly typed, unsigned, stale and replayed. None may crash
it or get a 5xx; bad signatures get 401; a replayed event is answered at most once; and the
process still answers a good mention afterwards.

The fake Slack Web API runs on its own event loop in a thread, so that hypothesis can drive the
bot with plain synchronous requests.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.slack_api import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlackApi,
    event_envelope,
    mention,
    signed_headers,
)
from tests.fakes.slack_harness import SLACK_USERS

ROOT = Path(__file__).resolve().parents[2]
ONE_MB = 1024 * 1024
_ts = itertools.count(1)


class Bot:
    def __init__(self, api: FakeSlackApi, loop: asyncio.AbstractEventLoop, port: int) -> None:
        self.api, self.loop, self.port = api, loop, port
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20)
        self.statuses: list[int] = []

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        status = self.http.post("/slack/events", content=body, headers=headers).status_code
        self.statuses.append(status)
        return status


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    api = FakeSlackApi(SLACK_USERS)
    asyncio.run_coroutine_threadsafe(api.__aenter__(), loop).result(10)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI", "AI_"))}
    env |= {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / 'bot.db'}",
        "AI_PROVIDER": "offline",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api.url,
        "RATE_LIMIT_PER_HOUR": "0",
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    }
    cli = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*cli, "bind", "slack:T1", "org_acme"], cwd=ROOT, env=env, check=True)
    port = _free_port()
    proc = subprocess.Popen(
        [*cli, "slack", "--port", str(port)], cwd=ROOT, env=env, stderr=subprocess.PIPE
    )
    fixture = Bot(api, loop, port)
    try:
        for _ in range(200):  # 20 s at most
            try:
                if fixture.http.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield fixture
        assert proc.poll() is None, "the bot died under fuzzing"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
        fixture.http.close()
        asyncio.run_coroutine_threadsafe(api.__aexit__(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert b"Traceback" not in stderr, stderr.decode()[-2000:]


# ---- what a request can be ----

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
EVENT_FIELDS = ("type", "user", "text", "ts", "channel", "team", "thread_ts", "event_ts", "bot_id")


@st.composite
def wrongly_typed(draw: st.DrawFn) -> dict[str, Any]:
    """A real-looking envelope with some of its fields replaced by any JSON value."""
    n = next(_ts)
    envelope = event_envelope(mention("How many servers?", user="UADMIN", ts=f"{n}.5"))
    event = envelope["event"]
    for name in draw(st.lists(st.sampled_from(EVENT_FIELDS), min_size=1, max_size=4)):
        event[name] = draw(json_values)
    for name in draw(
        st.lists(st.sampled_from(["type", "team_id", "event_id", "event"]), max_size=2)
    ):
        envelope[name] = draw(json_values)
    return envelope


def _signed(body: bytes, *, stale: bool = False) -> dict[str, str]:
    timestamp = int(time.time()) - (600 if stale else 0)
    return {**signed_headers(body.decode("latin-1"), SIGNING_SECRET, timestamp)}


Case = tuple[str, bytes, dict[str, str]]


@st.composite
def requests(draw: st.DrawFn) -> Case:
    kind = draw(
        st.sampled_from(
            [
                "garbage",
                "typed",
                "form",
                "oversized",
                "unsigned",
                "bad_signature",
                "stale",
                "replay",
            ]
        )
    )
    json_type = {"Content-Type": "application/json"}
    if kind == "garbage":
        body = draw(st.binary(max_size=2000))
        ctype = draw(
            st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"])
        )
        return kind, body, {**_signed(body), "Content-Type": ctype}
    if kind == "typed":
        body = json.dumps(draw(wrongly_typed())).encode()
        return kind, body, {**_signed(body), **json_type}
    if kind == "form":
        field = draw(st.sampled_from(["payload", "command", "text", "user_id", "team_id"]))
        value = draw(st.text(max_size=200) | json_values.map(json.dumps))
        body = urlencode({field: value, "command": "/stackdock"}).encode()
        return kind, body, {**_signed(body), "Content-Type": "application/x-www-form-urlencoded"}
    if kind == "oversized":
        size = draw(st.integers(ONE_MB - 64, ONE_MB + 4096))
        envelope = event_envelope(mention("x", user="UADMIN", ts=f"{next(_ts)}.7"))
        envelope["event"]["text"] = "x" * size
        body = json.dumps(envelope).encode()
        return kind, body, {**_signed(body), **json_type}
    body = json.dumps(
        event_envelope(mention("Any problems?", user="UADMIN", ts=f"{next(_ts)}.9"))
    ).encode()
    if kind == "unsigned":
        return kind, body, json_type
    if kind == "bad_signature":
        headers = _signed(body)
        headers["X-Slack-Signature"] = "v0=" + draw(
            st.text("0123456789abcdef", min_size=0, max_size=64)
        )
        return kind, body, {**headers, **json_type}
    if kind == "stale":
        return kind, body, {**_signed(body, stale=True), **json_type}
    return kind, body, {**_signed(body), **json_type}  # replay: sent twice, see below


@settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(case=requests())
def test_bad_requests_never_crash_the_bot(bot: Bot, case: Case) -> None:
    kind, body, headers = case
    status = bot.post(body, headers)
    if kind in {"unsigned", "bad_signature", "stale"}:
        assert status == 401, (kind, status)
    elif kind == "oversized" and len(body) > ONE_MB:
        assert status == 413, status
    else:
        assert status < 500, (kind, status, body[:200])
    if kind == "replay":
        retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        assert bot.post(body, headers) < 500
        assert bot.post(body, retry) < 500


def test_after_fuzzing_no_event_was_answered_twice_and_the_bot_still_answers(bot: Bot) -> None:
    assert len(bot.statuses) >= 1000, "runs after the fuzz test, in file order"
    assert all(status < 500 for status in bot.statuses)
    body = json.dumps(event_envelope(mention("List my servers", user="UADMIN", ts="777777.1")))
    assert (
        bot.post(body.encode(), {**_signed(body.encode()), "Content-Type": "application/json"})
        == 200
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "acme-web-1" in bot.api.thread_text("C1", "777777.1"):
            break
        time.sleep(0.05)
    assert "acme-web-1" in bot.api.thread_text("C1", "777777.1")
    time.sleep(1.0)  # let replays that raced their first delivery finish
    streams = [
        c.args.get("thread_ts") for c in list(bot.api.calls) if c.method == "chat.startStream"
    ]
    assert len(streams) == len(set(streams)), "an event was answered twice"
