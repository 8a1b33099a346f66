"""A fake Slack Web API on 127.0.0.1 that behaves like Slack for the calls the bot makes.

It records every call, keeps the messages it was asked to post (streamed ones too), enforces
Slack's limits (`msg_too_long`, and `invalid_blocks` for Block Kit past its limits: 50 blocks,
3,000 characters of a section, 12,000 of a message's markdown blocks, a table's 100 rows of 20
cells), and can be told to fail a method once or answer `ratelimited` with a 429 and
`Retry-After`. It also signs and sends events to an app, as Slack's Events API does.

By default it is an app on Slack's agent messaging experience (`agent_view`): agent sessions
work (their `processing` status, Slack's Stop, which also stops the thread's open streams),
and suggested prompts given a `thread_ts` are silently dropped, as Slack drops them for an
agent app. `agent_app=False` plays an install still on the assistant experience.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web

from tests.fake_secrets import slack_token

TEAM = "T1"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
BOT_TOKEN = slack_token("xoxb", "fake", "bot", "token", "0123456789")
APP_TOKEN = slack_token("xapp", "1", "fake", "app", "token", "0123456789")
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    streamed: bool = False
    stream_open: bool = False
    user: str = BOT_USER
    chunks: list[dict[str, Any]] = field(default_factory=list)  # task updates etc. of a stream


@dataclass
class Failure:
    error: str
    times: int
    status: int = 200
    retry_after: int | None = None


class FakeSlackApi:
    """Start with `async with FakeSlackApi() as api:`; point AsyncWebClient at `api.url`."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        *,
        text_limit: int = 40000,
        stream_limit: int = 40000,
        status_in_channels: bool = True,
        streaming: bool = True,
        agent_app: bool = True,
    ) -> None:
        self.users = dict(users or {})  # user id -> email
        self.text_limit = text_limit
        self.stream_limit = stream_limit
        self.status_in_channels = status_in_channels
        self.streaming = streaming
        self.agent_app = agent_app
        self.sessions: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, thread_ts)
        self.prompts_shown: dict[str, list[dict[str, Any]]] = {}  # channel -> prompts
        self.prompts_dropped: list[dict[str, Any]] = []  # calls Slack accepts and ignores
        self.titles: dict[tuple[str, str], str] = {}  # assistant thread titles
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.responses: list[dict[str, Any]] = []  # posts to response_url
        self.uploads: dict[str, dict[str, Any]] = {}  # files.getUploadURLExternal, by file id
        self.failures: dict[str, list[Failure]] = {}
        self.delays: dict[str, float] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.web = web.Application()
        self.web.router.add_route("*", "/api/{method}", self._api)
        self.web.router.add_post("/respond/{key}", self._respond)
        self.web.router.add_post("/upload/{file_id}", self._upload)
        self.socket_url: str | None = None  # set by the Socket Mode fake

    # ---- lifecycle ----

    async def __aenter__(self) -> FakeSlackApi:
        self._runner = web.AppRunner(self.web, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"{self.base}/respond/{key}"

    # ---- test controls ----

    def fail(self, method: str, error: str, times: int = 1) -> None:
        self.failures.setdefault(method, []).append(Failure(error, times))

    def ratelimit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        self.failures.setdefault(method, []).append(
            Failure("ratelimited", times, status=429, retry_after=retry_after)
        )

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def bot_messages(
        self, channel: str | None = None, thread_ts: str | None = None
    ) -> list[Message]:
        """Messages the bot posted, oldest first, optionally in one channel and thread."""
        found = [
            m
            for m in self.messages.values()
            if (channel is None or m.channel == channel)
            and (thread_ts is None or m.thread_ts == thread_ts)
        ]
        return sorted(found, key=lambda m: float(m.ts))

    def thread_text(self, channel: str, thread_ts: str) -> str:
        return "".join(m.text for m in self.bot_messages(channel, thread_ts))

    async def wait_for(self, predicate: Callable[[], Any], within_s: float = 10.0) -> Any:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError(
            f"timed out after {within_s} s; calls: {[c.method for c in self.calls]}"
        )

    # ---- the Web API ----

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or args.pop(
            "token", None
        )
        self.calls.append(Call(method, args, token))
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return _json({"ok": False, "error": "invalid_auth"})
        injected = self._injected_failure(method)
        if injected is not None:
            return injected
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _json({"ok": False, "error": "unknown_method"})
        return _json(handler(args))

    def _injected_failure(self, method: str) -> web.Response | None:
        queue = self.failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else None
        return _json({"ok": False, "error": failure.error}, failure.status, headers)

    async def _respond(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.responses.append({"key": request.match_info["key"], **payload})
        return web.Response(text="ok")

    def _next_ts(self) -> str:
        return f"{1700000000 + next(self._ts)}.000100"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "stackdock",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        email = self.users[user]
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": TEAM,
                "name": email.split("@")[0],
                "is_bot": False,
                "profile": {"email": email, "real_name": email.split("@")[0]},
            },
        }

    def _check_text(self, text: str, blocks: Any) -> str | None:
        if len(text) > self.text_limit:
            return "msg_too_long"
        return check_blocks(blocks or [])

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, text, blocks = args.get("channel"), args.get("text") or "", _blocks(args)
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        error = self._check_text(text, blocks)
        if error:
            return {"ok": False, "error": error}
        ts = self._next_ts()
        self.messages[(channel, ts)] = Message(channel, ts, text, args.get("thread_ts"), blocks)
        message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": text, "ts": ts}
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get((args.get("channel"), args.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        text, blocks = args.get("text") or "", _blocks(args)
        error = self._check_text(text, blocks)
        if error:
            return {"ok": False, "error": error}
        message.text, message.blocks = text, blocks
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": text}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.messages.pop((args.get("channel"), args.get("ts")), None) is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": args["channel"], "ts": args["ts"]}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _stream_append(self, message: Message, args: dict[str, Any]) -> str | None:
        addition = args.get("markdown_text") or ""
        for chunk in _json_field(args.get("chunks")) or []:
            if chunk.get("type") == "markdown_text":
                addition += chunk.get("text", "")
            elif chunk.get("type") == "task_update":
                if (
                    not (chunk.get("id") and chunk.get("title"))
                    or chunk.get("status") not in TASK_STATUSES
                ):
                    return "invalid_chunks"
                message.chunks.append(chunk)
            else:
                message.chunks.append(chunk)
        if len(addition) > 12000 or len(message.text) + len(addition) > self.stream_limit:
            return "msg_too_long"
        message.text += addition
        return None

    def _chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.streaming:
            return {"ok": False, "error": "unknown_method"}
        channel, thread_ts = args.get("channel"), args.get("thread_ts")
        if not channel or not thread_ts:
            return {"ok": False, "error": "invalid_arguments"}
        if not channel.startswith("D") and not (
            args.get("recipient_team_id") and args.get("recipient_user_id")
        ):
            return {"ok": False, "error": "missing_recipient_user_id"}
        ts = self._next_ts()
        message = Message(channel, ts, "", thread_ts, streamed=True, stream_open=True)
        error = self._stream_append(message, args)
        if error:
            return {"ok": False, "error": error}
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts}

    def _open_stream(self, args: dict[str, Any]) -> Message | str:
        message = self.messages.get((args.get("channel"), args.get("ts")))
        if message is None or not message.streamed:
            return "message_not_found"
        if not message.stream_open:
            return "message_not_in_streaming_state"
        return message

    def _chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._open_stream(args)
        if isinstance(message, str):
            return {"ok": False, "error": message}
        error = self._stream_append(message, args)
        if error:
            return {"ok": False, "error": error}
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._open_stream(args)
        if isinstance(message, str):
            return {"ok": False, "error": message}
        error = self._stream_append(message, args)
        if error:
            return {"ok": False, "error": error}
        status = args.get("session_status")
        if status is not None and status not in SESSION_STATUSES:
            return {"ok": False, "error": "invalid_arguments"}
        message.stream_open = False
        message.blocks = _blocks(args)
        session = self.sessions.get((message.channel, message.thread_ts or ""))
        if session is not None:
            session["status"] = status or "active"  # Slack's default for a stopped stream
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": {}}

    def _assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel_id") or ""
        loading = _json_field(args.get("loading_messages"))
        if loading is not None and (
            not isinstance(loading, list)
            or len(loading) > 10
            or not all(isinstance(m, str) and m for m in loading)
        ):
            return {"ok": False, "error": "invalid_arguments"}
        if not channel.startswith("D") and not self.status_in_channels:
            return {"ok": False, "error": "not_allowed"}
        return {"ok": True}

    def _assistant_threads_setSuggestedPrompts(self, args: dict[str, Any]) -> dict[str, Any]:
        prompts = _json_field(args.get("prompts"))
        if not prompts or len(prompts) > 4:
            return {"ok": False, "error": "invalid_arguments"}
        if self.agent_app and args.get("thread_ts"):
            self.prompts_dropped.append(args)  # Slack answers ok and shows nothing
            return {"ok": True}
        self.prompts_shown[args.get("channel_id") or ""] = prompts
        return {"ok": True}

    def _assistant_threads_setTitle(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts, title = (args.get(k) for k in ("channel_id", "thread_ts", "title"))
        if not (channel and thread_ts and title):
            return {"ok": False, "error": "invalid_arguments"}
        self.titles[(channel, thread_ts)] = title
        return {"ok": True}

    def _agents_sessions_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.agent_app:
            return {"ok": False, "error": "not_allowed"}  # only agent apps have sessions
        channel, thread_ts = args.get("channel_id") or "", args.get("thread_ts") or ""
        status, title = args.get("status"), args.get("title")
        if status not in SESSION_STATUSES or not channel or not thread_ts:
            return {"ok": False, "error": "invalid_arguments"}
        if title is not None and not 0 < len(title) <= 200:
            return {"ok": False, "error": "invalid_arguments"}
        session = self.sessions.setdefault(
            (channel, thread_ts), {"title": title, "initiator": args.get("initiator_user_id")}
        )
        session["status"] = status
        return {"ok": True, "status": status, "title": session["title"]}

    # ---- what Slack does when a person presses the session's Stop ----

    def stop_session(self, channel: str, thread_ts: str, user: str) -> dict[str, Any]:
        """Stops the thread's open streams, as Slack does on its Stop, and returns the
        `agent_session_stopped` event to send to the app."""
        stopped = []
        for message in self.bot_messages(channel, thread_ts):
            if message.stream_open:
                message.stream_open = False
                stopped.append(message.ts)
        return {
            "type": "agent_session_stopped",
            "user": user,
            "channel": channel,
            "thread_ts": thread_ts,
            "streaming_message_ts": stopped,
            "event_ts": f"{time.time():.6f}",
        }

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _json_field(args.get("view")) or {}
        if not args.get("user_id") or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": "V1", **view}}

    def _users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        for user, known in self.users.items():
            if known.lower() == email:
                return self._users_info({"user": user})
        return {"ok": False, "error": "users_not_found"}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self.uploads) + 1:04d}"
        self.uploads[file_id] = {"filename": args["filename"], "length": int(args["length"])}
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.uploads:
            return web.Response(status=404, text="no such upload")
        self.uploads[file_id]["content"] = await request.read()
        return web.Response(text="OK - " + str(len(self.uploads[file_id]["content"])))

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = _json_field(args.get("files")) or []
        done = []
        for item in files:
            upload = self.uploads.get(item.get("id"))
            if upload is None or "content" not in upload:
                return {"ok": False, "error": "file_not_found"}
            upload["channel"] = args.get("channel_id")
            upload["title"] = item.get("title")
            done.append({"id": item["id"], "title": item.get("title"), "name": upload["filename"]})
        return {"ok": True, "files": done}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = args.get("users") or ""
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0].removeprefix("U")}}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.socket_url:
            return {"ok": False, "error": "not_allowed"}
        return {"ok": True, "url": self.socket_url}

    # ---- sending events to an app, signed as Slack signs them ----

    async def post_event(
        self,
        app_url: str,
        payload: dict[str, Any] | str,
        *,
        secret: str = SIGNING_SECRET,
        retry_num: int | None = None,
        timestamp: int | None = None,
        form: bool = False,
    ) -> tuple[int, str, float]:
        """POSTs a signed request to the app; returns (status, body, seconds to the ack)."""
        if form:
            body = urlencode(payload) if isinstance(payload, dict) else payload
            content_type = "application/x-www-form-urlencoded"
        else:
            body = payload if isinstance(payload, str) else json.dumps(payload)
            content_type = "application/json"
        headers = signed_headers(body, secret, timestamp)
        headers["Content-Type"] = content_type
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        started = time.perf_counter()
        async with (
            aiohttp.ClientSession() as session,
            session.post(app_url, data=body.encode(), headers=headers) as resp,
        ):
            text = await resp.text()
            return resp.status, text, time.perf_counter() - started


def signed_headers(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None):
    return web.json_response(data, status=status, headers=headers)


async def _read_args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)  # GET methods such as users.info
    raw = await request.text()
    if request.content_type == "application/json":
        args.update(json.loads(raw or "{}"))
    else:
        args.update(parse_qsl(raw))
    return args


def _json_field(value: Any) -> Any:
    # Form-encoded calls carry lists and objects as JSON strings; JSON calls carry them as is.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    return _json_field(args.get("blocks")) or []


TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
SESSION_STATUSES = frozenset({"active", "processing", "suspended", "closed"})
MAX_BLOCKS = 50
SECTION_TEXT = 3000
MARKDOWN_TOTAL = 12000
TABLE_ROWS, TABLE_CELLS = 100, 20


def check_blocks(blocks: list[Any]) -> str | None:
    """Slack's Block Kit limits for a message's blocks: None when Slack takes them."""
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    markdown = 0
    for block in blocks:
        if not isinstance(block, dict):
            return "invalid_blocks"
        kind = block.get("type")
        inner = block.get("text")
        if (
            kind == "section"
            and isinstance(inner, dict)
            and len(inner.get("text", "")) > SECTION_TEXT
        ):
            return "invalid_blocks"
        if kind == "markdown":
            if not isinstance(inner, str):
                return "invalid_blocks"
            markdown += len(inner)
        if kind == "table" and not _table_ok(block):
            return "invalid_blocks"
    return "invalid_blocks" if markdown > MARKDOWN_TOTAL else None


def _table_ok(block: dict[str, Any]) -> bool:
    rows, settings = block.get("rows"), block.get("column_settings", [])
    if not isinstance(rows, list) or not 0 < len(rows) <= TABLE_ROWS:
        return False
    if not isinstance(settings, list) or len(settings) > TABLE_CELLS:
        return False
    return all(
        isinstance(row, list)
        and 0 < len(row) <= TABLE_CELLS
        and all(
            isinstance(cell, dict)
            and cell.get("type") in {"raw_text", "rich_text"}
            and (cell.get("type") == "rich_text" or bool(cell.get("text")))
            for cell in row
        )
        for row in rows
    )


# ---- payloads as Slack sends them ----

_event_ids = itertools.count(1)


def event_envelope(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A1",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": TEAM, "user_id": BOT_USER, "is_bot": True, "is_enterprise_install": False}
        ],
    }


def mention(
    text: str, *, user: str, channel: str = "C1", ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": channel,
        "team": TEAM,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(
    text: str,
    *,
    user: str,
    channel: str,
    ts: str,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    **extra: Any,
) -> dict[str, Any]:
    event = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "channel_type": channel_type,
        "team": TEAM,
        "event_ts": ts,
        **extra,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def slash_command(
    text: str, *, user: str, channel: str = "C1", response_url: str
) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "fake",
        "channel_id": channel,
        "channel_name": "general" if channel.startswith("C") else "directmessage",
        "user_id": user,
        "user_name": "someone",
        "command": "/stackdock",
        "text": text,
        "api_app_id": "A1",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def block_action(
    action: dict[str, Any],
    *,
    user: str,
    channel: str | None = "C1",
    message_ts: str | None = None,
    thread_ts: str | None = None,
    view: dict[str, Any] | None = None,
    response_url: str | None = None,
) -> dict[str, str]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": user, "team_id": TEAM, "username": "someone"},
        "api_app_id": "A1",
        "token": "legacy-verification-token",
        "trigger_id": "1.2.3",
        "actions": [{"action_ts": str(time.time()), **action}],
    }
    if channel:
        payload["channel"] = {"id": channel, "name": "general"}
        container = {"type": "message", "channel_id": channel, "message_ts": message_ts}
        if thread_ts:
            container["thread_ts"] = thread_ts
        payload["container"] = container
        payload["message"] = {"ts": message_ts, "thread_ts": thread_ts, "text": ""}
    if view is not None:
        payload["view"] = view
        payload["container"] = {"type": "view", "view_id": view.get("id", "V1")}
    if response_url:
        payload["response_url"] = response_url
    return {"payload": json.dumps(payload)}
