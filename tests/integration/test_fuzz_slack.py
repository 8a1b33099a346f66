"""2,000 generated requests against a real `stackdock-assistant slack` process in HTTP mode.

Forged headers (timestamps, signatures, duplicates), signed bodies of every content type, any
bytes, any nesting depth, 1 MB and over, every interactive payload type Bolt routes and every
event the app listens to, whole or with fields dropped or retyped, and Slack's retries. Whatever
the sender controls, the process answers 401 (not signed), 400 (signed, not Slack's), 413 (too
big) or 200, never a 5xx, never logs a traceback, and answers a replayed event at most once.

Each test runs its own share of the cases and checks them itself; the process is shared only
to save its start-up.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import itertools
import json
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.slack.shapes import MAX_DEPTH
from tests.fakes.services.slack_api import SIGNING_SECRET, TEAM, event_envelope, mention, message
from tests.harness.slack_process import SlackProcess, sign, slack_process

ONE_MB = 1024 * 1024
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_n = itertools.count(1)

SAFETY_NET = ("a Slack listener failed", "could not handle a signed Slack request")

# Cases per test; 2,000 in all.
HEADER_CASES = 500
CONTENT_TYPE_CASES = 150
BODY_CASES = 450
PAYLOAD_CASES = 750
REPLAY_CASES = 150


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackProcess]:
    with slack_process(tmp_path_factory.mktemp("fuzz")) as process:
        yield process
        print(f"\nfuzz: {sum(process.statuses.values())} requests, statuses {process.statuses}")
        assert "Traceback" not in process.log_since(0)


def fuzz(cases: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=cases,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def good_mention() -> bytes:
    n = next(_n)
    return json.dumps(event_envelope(mention("Any problems?", user="UADMIN", ts=f"{n}.9"))).encode()


@dataclass(frozen=True)
class Request:
    kind: str
    body: bytes
    headers: list[tuple[bytes, bytes]]
    allowed: frozenset[int]  # the statuses this request may get


def signed(kind: str, body: bytes, content_type: str, allowed: set[int]) -> Request:
    headers = [(k.encode(), v.encode()) for k, v in sign(body).items()]
    return Request(
        kind, body, [*headers, (b"Content-Type", content_type.encode())], frozenset(allowed)
    )


def run(bot: SlackProcess, requests: st.SearchStrategy[Request], cases: int) -> Counter[str]:
    """Sends `cases` generated requests; each must get a status it allows, none a 5xx, and the
    process must log no traceback while they are handled."""
    mark, kinds = bot.log_mark(), Counter[str]()

    @fuzz(cases)
    @given(request=requests)
    def one(request: Request) -> None:
        status = bot.post(request.body, request.headers)
        kinds[request.kind] += 1
        assert status < 500 and status in request.allowed, (
            request.kind,
            status,
            request.body[:300],
        )

    one()
    assert sum(kinds.values()) >= cases, kinds
    time.sleep(0.5)  # work started by the last requests logs after their ack
    log = bot.log_since(mark)
    assert "Traceback" not in log, log[-3000:]
    # The transport's safety net (adapters/slack/transport.py) never had to catch anything:
    # every odd shape was refused before Bolt, or handled by the listener it reached.
    caught = [line for line in log.splitlines() if any(net in line for net in SAFETY_NET)]
    assert caught == []
    return kinds


# ---- forged headers: always 401 ----

# What h11 lets through as a header value: visible bytes, with spaces or tabs only inside.
_HEADER_BYTES = [*range(0x21, 0x7F), *range(0x80, 0x100)]
header_bytes = st.lists(st.sampled_from([*_HEADER_BYTES, 0x20, 0x09]), max_size=40).map(
    lambda b: bytes(b).strip(b" \t")
)
ODD_TIMESTAMPS = [
    b"abc", b"", b"1e9", b"NaN", b"nan", b"inf", b"-Infinity", b"0x6553f100", b"1_700_000_000",
    b"9" * 40, b"-1", b"0", "١٧٠٠٠٠٠٠٠٠".encode(), b"1.5", b"true", b"null", b"[]",
]  # fmt: skip
TS, SIG = b"X-Slack-Request-Timestamp", b"X-Slack-Signature"


def _fresh(ts: bytes) -> bool:
    return bool(re.fullmatch(rb"[0-9]{1,12}", ts)) and abs(time.time() - int(ts)) <= 300


def _signature(ts: bytes, body: bytes, secret: str = SIGNING_SECRET) -> bytes:
    digest = hmac.new(secret.encode(), b"v0:" + ts + b":" + body, hashlib.sha256).hexdigest()
    return b"v0=" + digest.encode()


@st.composite
def forged(draw: st.DrawFn) -> Request:
    """A good mention whose signature headers are wrong, odd, stale, missing or repeated."""
    body = good_mention()
    now = int(time.time())
    fresh = str(now + draw(st.integers(-250, 250))).encode()
    good = _signature(fresh, body)
    mode = draw(st.sampled_from(["odd_ts", "stale_ts", "bad_sig", "missing", "duplicate"]))
    if mode == "odd_ts" or mode == "stale_ts":
        if mode == "odd_ts":
            ts = draw(st.sampled_from(ODD_TIMESTAMPS) | header_bytes)
        else:
            # 30 s beyond Slack's 300 s: a timestamp just ahead of now would turn fresh while a
            # slow machine delivers the request (seen: 301 s ahead, accepted a second later).
            ts = str(now + draw(st.sampled_from([-1, 1])) * draw(st.integers(331, 10**15))).encode()
        assume(not _fresh(ts))
        # Signed correctly over the odd value, or not: both are refused.
        sig = draw(st.sampled_from([_signature(ts, body), good]) | header_bytes)
        headers = [(TS, ts), (SIG, sig)]
    elif mode == "bad_sig":
        wrong = [
            good.upper(), b"v1=" + good[3:], good + b"0", good[:-1], b"",
            _signature(fresh, body + b" "), _signature(fresh, body, "not-the-secret"),
        ]  # fmt: skip
        hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)
        sig = draw(st.sampled_from(wrong) | header_bytes | hex64.map(lambda h: b"v0=" + h.encode()))
        assume(sig != good)
        headers = [(TS, fresh), (SIG, sig)]
    elif mode == "missing":
        headers = [draw(st.sampled_from([(TS, fresh), (SIG, good)]))]
    else:
        # One good copy and one other: Bolt and a check could each read a different one.
        name = draw(st.sampled_from([TS, SIG]))
        headers = [(TS, fresh), (SIG, good), (name, draw(header_bytes))]
        draw(st.randoms()).shuffle(headers)
    return Request(mode, body, [*headers, (b"Content-Type", JSON.encode())], frozenset({401}))


def test_forged_or_odd_signature_headers_get_401(bot: SlackProcess) -> None:
    kinds = run(bot, forged(), HEADER_CASES)
    assert set(kinds) == {"odd_ts", "stale_ts", "bad_sig", "missing", "duplicate"}


# ---- signed, with any content type ----

CONTENT_TYPES = [
    JSON, FORM, f"{JSON}; charset=utf-8", "APPLICATION/JSON", "text/plain", "text/json",
    "application/json5", "multipart/form-data; boundary=x", "application/octet-stream", "",
    "application/x-www-form-urlencoded; charset=latin-1", "*/*", "application/",
]  # fmt: skip


# Ones aiohttp inflates get a body that inflates: a body that does not is torn down mid-request
# (tests/security/test_slack_transport.py sends those, and br and zstd, byte by byte).
ENCODINGS = ["identity", "gzip", "deflate", "GZIP", "Deflate", "x-gzip", "compress"]
INFLATE = {"gzip": gzip.compress, "deflate": zlib.compress}


@st.composite
def any_content_type(draw: st.DrawFn) -> Request:
    ctype = draw(st.sampled_from(CONTENT_TYPES) | header_bytes.map(lambda b: b.decode("latin-1")))
    body = good_mention()
    # A mention is JSON: under any content type that does not say JSON it is refused.
    allowed = {200, 400} if "json" in ctype.lower() else {400}
    request = signed("content_type", body, ctype, allowed)
    encoding = draw(
        st.none() | st.sampled_from(ENCODINGS) | header_bytes.map(lambda b: b.decode("latin-1"))
    )
    if encoding is None:
        return request
    # Slack never compresses a request, so any encoding but identity is refused.
    headers = [*request.headers, (b"Content-Encoding", encoding.encode())]
    encoded = INFLATE.get(encoding.lower(), lambda raw: raw)(body)
    refused = encoding.lower() != "identity"
    return Request("content_encoding", encoded, headers, frozenset({400} if refused else allowed))


def test_signed_requests_of_any_content_type_or_encoding_get_200_or_400(
    bot: SlackProcess,
) -> None:
    kinds = run(bot, any_content_type(), CONTENT_TYPE_CASES)
    assert set(kinds) == {"content_type", "content_encoding"}
    assert bot.post_signed(good_mention(), "text/plain") == 400
    assert bot.post_signed(good_mention(), f"{JSON}; charset=utf-8") == 200


# ---- signed bodies: any bytes, any depth, any size ----

EVENT_FIELDS = ("type", "user", "text", "ts", "channel", "team", "thread_ts", "event_ts", "bot_id")


@st.composite
def nested(draw: st.DrawFn) -> Request:
    """A mention carrying `depth` nested lists or objects in its blocks: refused past the cap."""
    depth = draw(st.integers(1, MAX_DEPTH + 8) | st.integers(MAX_DEPTH, 20_000))
    opener = draw(st.sampled_from(["[", '{"a":']))
    closer = "]" if opener == "[" else "}"
    envelope = event_envelope(mention("Any problems?", user="UADMIN", ts=f"{next(_n)}.3"))
    envelope["event"]["blocks"] = "@@"
    text = json.dumps(envelope).replace('"@@"', opener * depth + "1" + closer * depth)
    # The envelope, its event and the blocks field's own value hold `depth` levels: 2 + depth.
    return signed("nested", text.encode(), JSON, {200} if 2 + depth <= MAX_DEPTH else {400})


@st.composite
def wrongly_typed(draw: st.DrawFn) -> Request:
    """A real-looking envelope with some of its fields replaced by any JSON value."""
    envelope = event_envelope(mention("How many servers?", user="UADMIN", ts=f"{next(_n)}.5"))
    event = envelope["event"]
    for name in draw(st.lists(st.sampled_from(EVENT_FIELDS), min_size=1, max_size=4)):
        event[name] = draw(json_values)
    for name in draw(
        st.lists(st.sampled_from(["type", "team_id", "event_id", "event"]), max_size=2)
    ):
        envelope[name] = draw(json_values)
    return signed("typed", json.dumps(envelope).encode(), JSON, {200, 400})


@st.composite
def garbage(draw: st.DrawFn) -> Request:
    body = draw(
        st.binary(max_size=2000)
        | st.sampled_from([b"\xff\xfe{}", b'{"a":"\xc3\x28"}', b"payload=%ff%fe", b"{}" * 3])
    )
    ctype = draw(st.sampled_from([JSON, FORM, "text/plain"]))
    return signed("garbage", body, ctype, {200, 400})


@st.composite
def form_fields(draw: st.DrawFn) -> Request:
    field = draw(st.sampled_from(["payload", "command", "text", "user_id", "team_id", "ssl_check"]))
    value = draw(st.text(max_size=200) | json_values.map(json.dumps))
    body = urlencode({field: value, "command": "/stackdock"}).encode()
    return signed("form", body, FORM, {200, 400})


@st.composite
def oversized(draw: st.DrawFn) -> Request:
    size = draw(st.integers(ONE_MB - 64, ONE_MB + 4096))
    envelope = event_envelope(mention("x", user="UADMIN", ts=f"{next(_n)}.7"))
    envelope["event"]["text"] = "x" * size
    body = json.dumps(envelope).encode()
    return signed("oversized", body, JSON, {413} if len(body) > ONE_MB else {200})


def test_signed_bodies_of_any_bytes_depth_or_size_never_get_5xx(bot: SlackProcess) -> None:
    bodies = nested() | wrongly_typed() | garbage() | form_fields() | oversized()
    kinds = run(bot, bodies, BODY_CASES)
    assert set(kinds) == {"nested", "typed", "garbage", "form", "oversized"}


# ---- every payload type Bolt routes, whole or with fields dropped or retyped ----


def _user() -> dict[str, Any]:
    return {"id": "UADMIN", "team_id": TEAM, "username": "someone"}


def _interaction(kind: str, response_url: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind, "team": {"id": TEAM, "domain": "fake"}, "user": _user(), "api_app_id": "A1",
        "token": "legacy-verification-token", "trigger_id": "1.2.3", "response_url": response_url,
        **fields,
    }  # fmt: skip


def _view() -> dict[str, Any]:
    values = {"b1": {"a1": {"type": "plain_text_input", "value": "List my servers"}}}
    return {
        "id": "V1", "type": "modal", "callback_id": "stackdock_modal", "hash": "1.2",
        "private_metadata": "", "team_id": TEAM, "state": {"values": values}, "blocks": [],
    }  # fmt: skip


FEEDBACK_VALUES = [
    "up:1",
    "down:1",
    "up:0",
    "down:99999999999999999999999",
    "up:²",
    "sideways:1",
    "",
]


def interactive(kind: str, draw: st.DrawFn, response_url: str) -> dict[str, Any]:
    ts = f"{next(_n)}.1"
    in_message = {
        "channel": {"id": "C1", "name": "general"},
        "container": {"type": "message", "channel_id": "C1", "message_ts": ts},
        "message": {"type": "message", "user": "UBOT", "ts": ts, "text": "an answer"},
    }
    if kind == "block_actions":
        action_id = draw(st.sampled_from(["feedback", "ask_prompt_0", "not_ours"]))
        value = (
            draw(st.sampled_from(FEEDBACK_VALUES))
            if action_id == "feedback"
            else draw(st.sampled_from(["List my servers", "", "x" * 2000]))
        )
        action = {"type": "button", "action_id": action_id, "block_id": "b1", "value": value}
        return _interaction(kind, response_url, actions=[action], **in_message)
    if kind in {"view_submission", "view_closed"}:
        return _interaction(kind, response_url, view=_view(), response_urls=[])
    if kind == "shortcut":
        return _interaction(kind, response_url, callback_id="stackdock_shortcut", action_ts=ts)
    if kind == "message_action":
        return _interaction(kind, response_url, callback_id="stackdock_message", **in_message)
    assert kind == "block_suggestion"
    return _interaction(
        kind, response_url, action_id="a1", block_id="b1", value="que", view=_view()
    )


def event(kind: str, draw: st.DrawFn) -> dict[str, Any]:
    ts = f"{next(_n)}.2"
    thread = {
        "user_id": "UADMIN", "channel_id": "D1", "thread_ts": ts,
        "context": {"channel_id": "C1", "team_id": TEAM, "enterprise_id": None},
    }  # fmt: skip
    if kind == "app_mention":
        return event_envelope(mention("List my servers", user="UADMIN", ts=ts))
    if kind == "message":
        where = draw(st.sampled_from(["dm", "assistant", "thread", "channel", "changed"]))
        if where == "dm":
            body = message("List my servers", user="UADMIN", channel="D1", ts=ts, channel_type="im")
        elif where == "assistant":
            body = message("Any problems?", user="UADMIN", channel="D1", ts=f"{ts}1",
                           thread_ts=ts, channel_type="im")  # fmt: skip
        elif where == "thread":
            body = message("and domains?", user="UADMIN", channel="C1", ts=f"{ts}1", thread_ts=ts)
        elif where == "channel":
            body = message("chatter", user="UADMIN", channel="C1", ts=ts)
        else:
            edited = {"type": "message", "user": "UADMIN", "text": "edited", "ts": ts}
            body = message("", user="UADMIN", channel="C1", ts=f"{ts}1", subtype="message_changed",
                           message=edited, previous_message={**edited, "text": "before"})  # fmt: skip
        return event_envelope(body)
    if kind == "app_home_opened":
        tab = draw(st.sampled_from(["home", "messages"]))
        home = {"type": kind, "user": "UADMIN", "channel": "D1", "tab": tab, "event_ts": ts}
        return event_envelope(home)
    if kind in {"assistant_thread_started", "assistant_thread_context_changed"}:
        return event_envelope({"type": kind, "assistant_thread": thread, "event_ts": ts})
    if kind == "url_verification":
        return {"token": "legacy-verification-token", "challenge": f"c{ts}", "type": kind}
    assert kind == "reaction_added"  # one the app does not listen to
    item = {"type": "message", "channel": "C1", "ts": ts}
    return event_envelope({"type": kind, "user": "UADMIN", "reaction": "+1", "item": item})


COMMAND_TEXTS = [
    "", "help", "ask what servers do I have?", "usage", "prompts", "prompts security",
    "link <@UDEV> dev@example.com", "link nobody@example.com", "ask @channel hello", "nonsense",
]  # fmt: skip


def command(draw: st.DrawFn, response_url: str) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token", "team_id": TEAM, "team_domain": "fake",
        "channel_id": draw(st.sampled_from(["C1", "D1", "C2"])), "channel_name": "general",
        "user_id": draw(st.sampled_from(["UADMIN", "UDEV", "UNOBODY"])), "user_name": "someone",
        "command": draw(st.sampled_from(["/stackdock", "/stackdock", "/other"])),
        "text": draw(st.sampled_from(COMMAND_TEXTS) | st.text(max_size=60)),
        "api_app_id": "A1", "response_url": response_url, "trigger_id": "1.2.3",
    }  # fmt: skip


INTERACTIVE = ["block_actions", "view_submission", "view_closed", "shortcut", "message_action",
               "block_suggestion"]  # fmt: skip
EVENTS = ["app_mention", "message", "app_home_opened", "assistant_thread_started",
          "assistant_thread_context_changed", "reaction_added", "url_verification"]  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    found = []
    for key, child in children:
        if key not in {"response_url", "response_urls"}:  # never a URL off this machine
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    return found


def mutate(draw: st.DrawFn, payload: dict[str, Any], as_text: bool) -> int:
    """Drops, empties or retypes up to three fields anywhere in `payload`; returns how many."""
    changes = draw(st.sampled_from([0, 0, 1, 1, 2, 3]))  # whole often: listeners run on those
    for _ in range(changes):
        paths = _paths(payload)
        if not paths:
            break
        *parents, key = draw(st.sampled_from(paths))
        parent = payload
        for step in parents:
            parent = parent[step]
        op = draw(st.sampled_from(["drop", "retype", "retype", "empty"]))
        if op == "drop":
            parent.pop(key)
        elif op == "empty":
            parent[key] = draw(st.sampled_from([[], {}, "", None]))
        else:
            value = draw(json_values)
            parent[key] = value if not as_text or isinstance(value, str) else json.dumps(value)
    return changes


@st.composite
def slack_payloads(draw: st.DrawFn, response_url: str) -> Request:
    kind = draw(st.sampled_from([*INTERACTIVE, *EVENTS, "command"]))
    if kind in INTERACTIVE:
        payload = interactive(kind, draw, response_url)
        changed = mutate(draw, payload, as_text=False)
        body, ctype = urlencode({"payload": json.dumps(payload)}).encode(), FORM
    elif kind == "command":
        payload = command(draw, response_url)
        changed = mutate(draw, payload, as_text=True)
        body, ctype = urlencode(payload).encode(), FORM
    else:
        payload = event(kind, draw)
        changed = mutate(draw, payload, as_text=False)
        body, ctype = json.dumps(payload).encode(), JSON
    # Whole, each is a request Slack sends and gets 200 (acked, or ignored when no listener
    # wants it); with fields changed it may be refused, never failed.
    return signed(kind, body, ctype, {200, 400} if changed else {200})


def test_every_payload_type_whole_or_mangled_gets_200_or_400(bot: SlackProcess) -> None:
    kinds = run(bot, slack_payloads(bot.api.response_url("fuzz")), PAYLOAD_CASES)
    assert set(kinds) == {*INTERACTIVE, *EVENTS, "command"}


# ---- Slack's retries: answered at most once, and the bot still answers ----


@st.composite
def deliveries(draw: st.DrawFn) -> Request:
    ts = f"{next(_n)}.4"
    question = draw(st.sampled_from(["How many servers?", "List my domains", "Any problems?"]))
    question += draw(st.text(max_size=20))  # hypothesis stops early on a small space
    body = json.dumps(event_envelope(mention(question, user="UADMIN", ts=ts))).encode()
    return signed("replay", body, JSON, {200})


def test_redelivered_events_are_answered_once_and_the_bot_still_answers(
    bot: SlackProcess,
) -> None:
    sent: list[bytes] = []

    def deliver_three_times(request: Request) -> Request:
        # Slack's retries carry these headers; the third delivery (by `run`) comes without.
        retry = [(b"X-Slack-Retry-Num", b"1"), (b"X-Slack-Retry-Reason", b"http_timeout")]
        assert bot.post(request.body, request.headers) == 200
        assert bot.post(request.body, [*request.headers, *retry]) == 200
        sent.append(request.body)
        return request

    run(bot, deliveries().map(deliver_three_times), REPLAY_CASES)
    threads = {json.loads(body)["event"]["ts"] for body in sent}
    ts = f"{next(_n)}.8"
    good = json.dumps(event_envelope(mention("List my servers", user="UADMIN", ts=ts))).encode()
    assert bot.post_signed(good, JSON) == 200
    _wait(lambda: "acme-web-1" in bot.api.thread_text("C1", ts))
    _wait(lambda: threads <= _streamed(bot))  # every replayed mention was answered...
    time.sleep(1.0)  # ...and a late duplicate would have started by now
    streams = [
        c.args.get("thread_ts") for c in list(bot.api.calls) if c.method == "chat.startStream"
    ]
    twice = [t for t, n in Counter(streams).items() if n > 1 and t in threads]
    assert twice == [], "an event was answered twice"


def _streamed(bot: SlackProcess) -> set[str]:
    return {c.args.get("thread_ts") for c in list(bot.api.calls) if c.method == "chat.startStream"}


def _wait(done: Callable[[], bool], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
