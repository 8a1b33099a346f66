"""Issue 11, item 3: what an unauthenticated sender, or Slack relaying odd input, can make the
real `stackdock-assistant slack` process do over HTTP.

Unsigned or badly signed is always 401, whatever the timestamp header holds; signed garbage is
400 (or an ignored 200); never a 5xx, never a traceback in the log, one log line per refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fakes.services.slack_api import SIGNING_SECRET, TEAM, event_envelope, mention
from tests.harness.slack_process import SlackProcess, sign, slack_process

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
REFUSED = "rejected a signed Slack request"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackProcess]:
    with slack_process(tmp_path_factory.mktemp("transport"), log_level="INFO") as process:
        yield process


def _mention(ts: str) -> bytes:
    return json.dumps(event_envelope(mention("List my servers", user="UADMIN", ts=ts))).encode()


# Timestamps that `int()` refuses, or that are not Unix seconds in ASCII digits.
ODD_TIMESTAMPS = [
    "abc", "", "1e9", "1E9", "NaN", "nan", "inf", "-inf", "Infinity", "0x6553f100",
    "1_700_000_000", "9" * 40, "-" + "9" * 40, "-1", "-0", "+1700000000", "17 00000000",
    "1700000000\t1", "1700000000.0", "1.7e9", "١٧٠٠٠٠٠٠٠٠", "１７００００００００", "null", "[]",
    "{}", "true",
]  # fmt: skip


@pytest.mark.parametrize("timestamp", ODD_TIMESTAMPS)
def test_an_odd_timestamp_is_401_however_the_request_is_signed(
    bot: SlackProcess, timestamp: str
) -> None:
    mark = bot.log_mark()
    body = _mention(f"{time.time():.6f}")
    variants = {
        "unsigned": {},
        "garbage signature": {"X-Slack-Signature": "v0=garbage"},
        # Signed with the real secret over the odd value itself: still not Slack's format.
        "signed over the odd value": {"X-Slack-Signature": _signature_over(body, timestamp)},
        "a good signature for now": {"X-Slack-Signature": sign(body)["X-Slack-Signature"]},
    }
    for name, signature in variants.items():
        headers = {"X-Slack-Request-Timestamp": timestamp, "Content-Type": JSON, **signature}
        # As UTF-8 bytes: httpx would refuse to send the non-ASCII digits as text.
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        assert bot.post(body, raw) == 401, (timestamp, name)
    assert bot.post(body, {**sign(body), "Content-Type": JSON}) == 200, "the same body, signed"
    log = bot.log_since(mark)
    assert "Traceback" not in log, log


def _signature_over(body: bytes, timestamp: str) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


def test_a_repeated_signature_header_is_401(bot: SlackProcess) -> None:
    body = _mention(f"{time.time():.6f}")
    good = sign(body)
    headers = [
        ("X-Slack-Request-Timestamp", good["X-Slack-Request-Timestamp"]),
        ("X-Slack-Signature", good["X-Slack-Signature"]),
        ("X-Slack-Signature", "v0=" + "0" * 64),
        ("Content-Type", JSON),
    ]
    assert bot.post(body, headers) == 401


def _form(payload: Any) -> bytes:
    return urlencode(
        {"payload": payload if isinstance(payload, str) else json.dumps(payload)}
    ).encode()


def _interaction(kind: str, **fields: Any) -> dict[str, Any]:
    user = {"id": "UADMIN", "team_id": TEAM}
    return {"type": kind, "team": {"id": TEAM}, "user": user, "api_app_id": "A1", **fields}


def _event(event: Any, **fields: Any) -> bytes:
    return json.dumps(
        {**event_envelope({"type": "app_mention"}), "event": event, **fields}
    ).encode()


def _thread_event(kind: str, thread: Any) -> bytes:
    return _event({"type": kind, "assistant_thread": thread, "event_ts": "1.1"})


def _deep(opener: str, closer: str, depth: int) -> str:
    return opener * depth + "1" + closer * depth


GOOD_THREAD = {"user_id": "UADMIN", "channel_id": "D1", "thread_ts": "1.1"}
# Signed, and nothing Slack sends: (what, body, content type). Each must get 400.
SIGNED_GARBAGE: list[tuple[str, bytes, str]] = [
    ("deep JSON arrays", ('{"a":' + _deep("[", "]", 100_000) + "}").encode(), JSON),
    ("deep JSON objects", ('{"a":' + _deep('{"a":', "}", 20_000) + "}").encode(), JSON),
    ("deep payload", _form('{"type":"block_actions","a":' + _deep("[", "]", 50_000) + "}"), FORM),
    ("block_actions, no actions", _form(_interaction("block_actions", actions=[])), FORM),
    ("block_actions, actions missing", _form(_interaction("block_actions")), FORM),
    ("block_actions, actions a string", _form(_interaction("block_actions", actions="x")), FORM),
    ("block_actions, action a number", _form(_interaction("block_actions", actions=[1])), FORM),
    ("block_actions, no action_id", _form(_interaction("block_actions", actions=[{}])), FORM),
    ("block_actions, user a number", _form({**_interaction("block_actions"), "user": 7}), FORM),
    ("view_submission, view a list", _form(_interaction("view_submission", view=[1])), FORM),
    ("view_submission, view a string", _form(_interaction("view_submission", view="v")), FORM),
    ("view_submission, view null", _form(_interaction("view_submission", view=None)), FORM),
    ("view_closed, no view", _form(_interaction("view_closed")), FORM),
    ("view_submission, view without a type", _form(_interaction("view_submission", view={"id": "V", "callback_id": "c"})), FORM),
    ("workflow step save without the step", _form(_interaction("view_submission", view={"id": "V", "type": "workflow_step", "callback_id": "c"})), FORM),
    ("view_submission, response_urls 3", _form(_interaction("view_submission", response_urls=3)), FORM),
    ("shortcut, no callback_id", _form(_interaction("shortcut")), FORM),
    ("message_action, no message", _form(_interaction("message_action", callback_id="c")), FORM),
    ("block_suggestion, no value", _form(_interaction("block_suggestion", action_id="a")), FORM),
    ("context changed, thread a string", _thread_event("assistant_thread_context_changed", "x"), JSON),
    ("context changed, thread a list", _thread_event("assistant_thread_context_changed", [1]), JSON),
    ("context changed, no channel", _thread_event("assistant_thread_context_changed", {"thread_ts": "1"}), JSON),
    ("context changed, context a list", _thread_event("assistant_thread_context_changed", {**GOOD_THREAD, "context": [1]}), JSON),
    ("thread started, thread missing", _event({"type": "assistant_thread_started"}), JSON),
    ("event null", _event(None), JSON),
    ("event a list", _event([1]), JSON),
    ("event without a type", _event({"user": "U1"}), JSON),
    ("mention, channel an object list", _event({"type": "app_mention", "channel": [1], "ts": "1.1"}), JSON),
    ("home opened, no user", _event({"type": "app_home_opened", "channel": "D1"}), JSON),
    ("authorizations a number", _event({"type": "app_mention"}, authorizations=5), JSON),
    ("enterprise a number", _event({"type": "app_mention"}, enterprise=5), JSON),
    ("url_verification, no challenge", b'{"type": "url_verification"}', JSON),
    ("a type Slack never sends", b'{"type": "nonsense"}', JSON),
    ("a JSON list", b"[1, 2]", JSON),
    ("a JSON string", b'"x"', JSON),
    ("not JSON", b"{not json", JSON),
    ("empty body", b"", JSON),
    ("payload not JSON", b"payload=%7Bnot+json", FORM),
    ("payload a list", _form([1]), FORM),
    ("payload a string", _form('"x"'), FORM),
    ("payload named but absent", b"text=payload", FORM),
    ("form body in JSON", b'{"command": "/stackdock"}', FORM),
    ("command without a user", b"command=%2Fstackdock&text=help&team_id=T1&channel_id=C1", FORM),
    ("form, nothing Slack sends", b"a=1&b=2", FORM),
    ("JSON as text/plain", _mention("1.1"), "text/plain"),
    ("JSON as multipart", _mention("1.2"), "multipart/form-data; boundary=x"),
    ("JSON with no content type", _mention("1.3"), ""),
    ("JSON as octet-stream", _mention("1.4"), "application/octet-stream"),
    ("non-UTF-8 JSON", b'{"type": "event_callback", "x": "\xff\xfe"}', JSON),
    ("non-UTF-8 form", b"command=%2Fstackdock&text=\xc3\x28", FORM),
    ("latin-1 declared", '{"type": "url_verification", "challenge": "é"}'.encode("latin-1"), f"{JSON}; charset=latin-1"),
]  # fmt: skip


def test_signed_garbage_is_400_with_one_log_line_each(bot: SlackProcess) -> None:
    mark = bot.log_mark()
    refused = {what: bot.post_signed(body, ctype) for what, body, ctype in SIGNED_GARBAGE}
    assert {what: status for what, status in refused.items() if status != 400} == {}
    log = bot.wait_for_log(mark, "Traceback", within_s=1.0)  # anything logged after the acks
    assert "Traceback" not in log, log[-3000:]
    lines = [line for line in log.splitlines() if REFUSED in line]
    assert len(lines) == len(SIGNED_GARBAGE), "\n".join(lines)
    assert all(len(line) < 300 for line in lines)


def test_odd_but_well_formed_requests_are_acked_and_the_bot_still_answers(
    bot: SlackProcess,
) -> None:
    mark = bot.log_mark()
    ignored = [
        # Well formed, but nothing here listens: acknowledged and ignored, never retried.
        (_event({"type": "reaction_added", "user": "UADMIN", "item": {"channel": "C1"}}), JSON),
        (_form(_interaction("block_actions", actions=[{"action_id": "not_ours"}])), FORM),
        (
            _form(
                _interaction(
                    "view_submission", view={"id": "V1", "type": "modal", "callback_id": "x"}
                )
            ),
            FORM,
        ),
        (_form(_interaction("shortcut", callback_id="x", trigger_id="1")), FORM),
        (b"ssl_check=1&token=legacy", FORM),
    ]
    assert [bot.post_signed(body, ctype) for body, ctype in ignored] == [200] * len(ignored)
    ts = f"{time.time():.6f}"
    assert bot.post_signed(_mention(ts), JSON) == 200
    deadline = time.monotonic() + 20
    while "acme-web-1" not in bot.api.thread_text("C1", ts):
        assert time.monotonic() < deadline, "the bot stopped answering"
        time.sleep(0.05)
    assert "Traceback" not in bot.log_since(mark)


def _raw(port: int, request: bytes, hang_up_after_s: float | None = None) -> bytes:
    """Sends bytes no HTTP client would; returns the status line, or b"" if none came."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(request)
        conn.settimeout(hang_up_after_s or 5.0)
        try:
            return conn.recv(200).split(b"\r\n")[0]
        except TimeoutError:
            return b""


def test_malformed_http_is_400_and_one_log_line(bot: SlackProcess) -> None:
    mark = bot.log_mark()
    body = b'{"type": "url_verification", "challenge": "c"}'
    head = b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
    head += b"".join(f"{k}: {v}\r\n".encode() for k, v in sign(body).items())
    cases = {
        "gzip that is not": head
        + b"Content-Encoding: gzip\r\nContent-Length: 10\r\n\r\n0123456789",
        "deflate that is not": head + b"Content-Encoding: deflate\r\nContent-Length: 4\r\n\r\nabcd",
        "brotli": head + b"Content-Encoding: br\r\nContent-Length: 4\r\n\r\nabcd",
        "zstd": head + b"Content-Encoding: zstd\r\nContent-Length: 4\r\n\r\nabcd",
        "a bad chunk": head + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
        "a bad length": head + b"Content-Length: abc\r\n\r\n" + body,
        "a header too long": head + b"X-Long: " + b"a" * 20_000 + b"\r\n\r\n",
        "not HTTP": b"\x00\x01GARBAGE\r\n\r\n",
    }
    statuses = {what: _raw(bot.port, request) for what, request in cases.items()}
    assert {what: line for what, line in statuses.items() if b" 400 " not in line} == {}
    # A client that promises 100 bytes, sends fewer and hangs up gets no answer, and no trace.
    torn = head + b"Content-Length: 100\r\n\r\n" + body
    assert _raw(bot.port, torn, hang_up_after_s=0.5) == b""
    log = bot.wait_for_log(mark, "could not read a Slack request")
    assert "could not read a Slack request: ConnectionResetError" in log
    assert "Traceback" not in log, log[-3000:]
    assert bot.post_signed(body, JSON) == 200, "and the bot still serves"
