"""A fake Discord on 127.0.0.1: the REST API and the gateway, enough for the real discord.py.

It behaves like Discord where the bot depends on it: HELLO, IDENTIFY, READY and GUILD_CREATE on
the gateway; threads whose id is their starter message's id; 400 with code 50035 for content
over 2000 characters; 429 with `retry_after` when a test asks for it. Components V2 messages
(flag IS_COMPONENTS_V2) are held to Discord's rules: no `content` or embeds, at most 4,000
characters of text displays and 40 components in all, the flag never removed; a message
without the flag may hold only action rows. A test can switch V2 off to see the fallback.
Every REST call is recorded, with the time it arrived, so tests can check what the bot said
and how often.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
CONTENT_LIMIT = 2000
COMPONENTS_V2 = 1 << 15  # the IS_COMPONENTS_V2 message flag
TEXT_DISPLAY_LIMIT = 4000  # all the text displays of one message together
COMPONENT_LIMIT = 40  # components of one message, nested ones included
ACTION_ROW, TEXT_DISPLAY = 1, 10
BOT_TOKEN = "fake-discord-token"
_BASE_ID = 1_300_000_000_000_000_000


@dataclass
class RestCall:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any
    at: float  # time.monotonic() on arrival
    status: int = 0
    response: Any = None  # the JSON the fake answered with, if any
    files: dict[str, bytes] = field(default_factory=dict)  # attachments, by file name


@dataclass
class RateLimit:
    method: str
    pattern: re.Pattern[str]
    retry_after: float
    times: int


@dataclass
class Guild:
    id: str
    name: str
    channel_id: str  # its one text channel
    threads: list[dict[str, Any]] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses a body as JSON only when content-type is exactly application/json.
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def slash_command(sub: str, options: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    """The `data` of an INTERACTION_CREATE for `/stackdock <sub>` (`extra`: `resolved`, …)."""
    return {
        "id": "1",
        "name": "stackdock",
        "type": 1,
        "options": [{"name": sub, "type": 1, "options": options or []}],
        **extra,
    }


def string_option(name: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": 3, "value": value, **extra}


class FakeDiscord:
    def __init__(self) -> None:
        self._ids = itertools.count(_BASE_ID + 1)
        self.application_id = self.new_id()
        self.bot = self.user(self.new_id(), "StackDock", bot=True)
        self.calls: list[RestCall] = []
        self.identifies: list[dict[str, Any]] = []
        self.guilds: list[Guild] = []
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.webhook_messages: dict[str, dict[str, Any]] = {}  # by interaction token
        self.interactions: dict[str, dict[str, Any]] = {}  # delivered, by token
        self._rate_limits: list[RateLimit] = []
        self._forbidden: list[tuple[str, re.Pattern[str]]] = []
        self._socket: web.WebSocketResponse | None = None
        self._seq = 0
        self._ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.components_v2 = True  # False: refuse the flag, as an API without V2 would

    # ---- identities and payloads ----

    def new_id(self) -> str:
        return str(next(self._ids))

    @staticmethod
    def user(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {
            "id": user_id,
            "username": name,
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }

    @staticmethod
    def member(user: dict[str, Any]) -> dict[str, Any]:
        return {
            "user": user,
            "roles": [],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "2248473465835073",
        }

    def add_guild(self, name: str = "Acme") -> Guild:
        guild = Guild(id=self.new_id(), name=name, channel_id=self.new_id())
        self.channels[guild.channel_id] = {
            "id": guild.channel_id,
            "type": 0,
            "guild_id": guild.id,
            "name": "ops",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }
        self.guilds.append(guild)
        return guild

    def dm_channel(self, user: dict[str, Any]) -> str:
        channel_id = self.new_id()
        self.channels[channel_id] = {"id": channel_id, "type": 1, "recipients": [user]}
        return channel_id

    def group_dm(self, *people: dict[str, Any]) -> str:
        """A group DM of people (the bot not among them): reached only by a user install."""
        channel_id = self.new_id()
        self.channels[channel_id] = {
            "id": channel_id,
            "type": 3,
            "recipients": list(people),
            "owner_id": people[0]["id"],
            "name": "friends",
            "icon": None,
        }
        return channel_id

    def foreign_channel(self) -> str:
        """A text channel of a server the bot is not in (reached only by a user install)."""
        channel_id = self.new_id()
        self.channels[channel_id] = {
            "id": channel_id,
            "type": 0,
            "guild_id": self.new_id(),
            "name": "elsewhere",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }
        return channel_id

    def _guild_payload(self, guild: Guild) -> dict[str, Any]:
        channels = [c for c in self.channels.values() if c.get("guild_id") == guild.id]
        return {
            "id": guild.id,
            "name": guild.name,
            "icon": None,
            "owner_id": self.new_id(),
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "afk_timeout": 300,
            "system_channel_flags": 0,
            "roles": [
                {
                    "id": guild.id,
                    "name": "@everyone",
                    "permissions": "2248473465835073",
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "member_count": 2,
            "large": False,
            "unavailable": False,
            "joined_at": _now(),
            "members": [self.member(self.bot)],
            "channels": [c for c in channels if c["type"] != 11],
            "threads": [c for c in channels if c["type"] == 11 and not c.get("_deleted")],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }

    def message_payload(
        self,
        channel_id: str,
        author: dict[str, Any],
        content: str,
        *,
        mentions: list[dict[str, Any]] | None = None,
        type: int = 0,
        webhook_id: str | None = None,
    ) -> dict[str, Any]:
        channel = self.channels.get(channel_id, {})
        data: dict[str, Any] = {
            "id": self.new_id(),
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions or [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": type,
            "flags": 0,
            "components": [],
        }
        if channel.get("guild_id"):
            data["guild_id"] = channel["guild_id"]
            data["member"] = {k: v for k, v in self.member(author).items() if k != "user"}
        if webhook_id:
            data["webhook_id"] = webhook_id
        return data

    # ---- the server ----

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- gateway ----

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ready.clear()
        self._socket, self._seq = ws, 0
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["op"] == 1:
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif frame["op"] == 2:
                self.identifies.append(frame["d"])
                await self._send_ready(ws)
        if self._socket is ws:
            self._socket = None
            self._ready.clear()
        return ws

    async def _send_ready(self, ws: web.WebSocketResponse) -> None:
        await self._emit(
            ws,
            "READY",
            {
                "v": 10,
                "user": self.bot,
                "guilds": [{"id": g.id, "unavailable": True} for g in self.guilds],
                "session_id": "fake-session",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": self.application_id, "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for guild in self.guilds:
            await self._emit(ws, "GUILD_CREATE", self._guild_payload(guild))
        self._ready.set()

    async def _emit(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        self._seq += 1
        await ws.send_json({"op": 0, "t": event, "s": self._seq, "d": data})

    async def wait_connected(self, within_s: float = 10) -> None:
        await asyncio.wait_for(self._ready.wait(), within_s)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        await self.wait_connected()
        assert self._socket is not None, "no client is connected"
        await self._emit(self._socket, event, data)

    async def post_message(
        self,
        channel_id: str,
        author: dict[str, Any],
        content: str,
        *,
        mention_bot: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """A person (or bot) writes in a channel; returns the MESSAGE_CREATE payload sent."""
        if mention_bot:
            content = f"<@{self.bot['id']}> {content}"
        mentions = [self.bot] if mention_bot else []
        data = self.message_payload(channel_id, author, content, mentions=mentions, **extra)
        self.messages[data["id"]] = data
        await self.dispatch("MESSAGE_CREATE", data)
        return data

    async def interact(
        self,
        user: dict[str, Any],
        channel_id: str,
        *,
        type: int,
        data: dict[str, Any],
        message: dict[str, Any] | None = None,
        context: int | None = None,
    ) -> dict[str, Any]:
        """Delivers an INTERACTION_CREATE (2 command, 3 component, 4 autocomplete).

        `context` is where it was used (0 server, 1 the bot's DM, 2 another private channel);
        by default a server for a server's channel and the bot's DM otherwise. Context 2, or a
        server the bot is not in, comes from a user install (authorised by the person)."""
        channel = self.channels[channel_id]
        guild_id = channel.get("guild_id")
        if context is None:
            context = 0 if guild_id else 1
        by_user = context == 2 or (guild_id and all(g.id != guild_id for g in self.guilds))
        owners = {"1": user["id"]} if by_user else {"0": guild_id or user["id"]}
        payload: dict[str, Any] = {
            "id": self.new_id(),
            "application_id": self.application_id,
            "type": type,
            "data": data,
            "token": f"itoken-{self.new_id()}",
            "version": 1,
            "channel_id": channel_id,
            "channel": {k: v for k, v in channel.items() if not k.startswith("_")},
            "app_permissions": "2248473465835073",
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": owners,
            "context": context,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if guild_id:
            payload["guild_id"] = guild_id
            payload["guild_locale"] = "en-US"
            payload["member"] = self.member(user)
        else:
            payload["user"] = user
        if message is not None:
            payload["message"] = message
        self.interactions[payload["token"]] = payload
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    def followups(self, interaction: dict[str, Any]) -> list[RestCall]:
        """Messages the bot sent after answering an interaction (ephemeral ones included)."""
        return self.calls_to("POST", rf"/webhooks/\d+/{interaction['token']}")

    def original_edits(self, interaction: dict[str, Any]) -> list[RestCall]:
        """Edits of an interaction's own response (its "thinking…" placeholder)."""
        return self.calls_to("PATCH", rf"/webhooks/\d+/{interaction['token']}/messages/@original")

    # ---- REST ----

    def rate_limit(
        self, method: str, path_pattern: str, retry_after: float, times: int = 1
    ) -> None:
        """The next `times` matching calls get 429 with this `retry_after` (seconds)."""
        self._rate_limits.append(RateLimit(method, re.compile(path_pattern), retry_after, times))

    def forbid(self, method: str, path_pattern: str) -> None:
        """Matching calls get 403 Missing Permissions, as when the invite lacked one."""
        self._forbidden.append((method, re.compile(path_pattern)))

    def calls_to(self, method: str, pattern: str) -> list[RestCall]:
        regex = re.compile(pattern)
        return [c for c in self.calls if c.method == method and regex.fullmatch(c.path)]

    async def wait_for(
        self, predicate: Callable[[], Any], within_s: float = 10, what: str = "condition"
    ) -> Any:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; REST calls: {self.summary()}")

    def summary(self) -> list[str]:
        return [f"{c.status} {c.method} {c.path}" for c in self.calls]

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: dict[str, bytes] = {}
        if request.content_type == "multipart/form-data":
            # Attachments: Discord takes the JSON as `payload_json` and each file as a part.
            async for part in await request.multipart():
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(data)
                else:
                    files[part.filename or part.name or "file"] = bytes(data)  # type: ignore[union-attr]
        elif request.can_read_body:
            raw = await request.read()
            with contextlib.suppress(ValueError):
                body = json.loads(raw)
        call = RestCall(request.method, path, dict(request.query), body, time.monotonic())
        call.files = files
        self.calls.append(call)
        if request.headers.get("Authorization") not in (f"Bot {BOT_TOKEN}", None):
            call.status = 401
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        response = (
            self._limited(call)
            or self._refused(call)
            or self._too_long(call)
            or self._bad_layout(call)
            or self._route(call)
        )
        call.status = response.status
        if isinstance(response.body, bytes) and response.content_type == "application/json":
            call.response = json.loads(response.body)
        return response

    def _limited(self, call: RestCall) -> web.Response | None:
        for limit in self._rate_limits:
            if (
                limit.times > 0
                and limit.method == call.method
                and limit.pattern.fullmatch(call.path)
            ):
                limit.times -= 1
                body = {"message": "You are being rate limited.", "retry_after": limit.retry_after}
                body["global"] = False
                # discord.py takes a 429 without `Via` for a Cloudflare ban and gives up.
                return _json(body, 429, {"Via": "1.1 google", "Retry-After": "1"})
        return None

    def _refused(self, call: RestCall) -> web.Response | None:
        if any(m == call.method and p.fullmatch(call.path) for m, p in self._forbidden):
            return _json({"message": "Missing Permissions", "code": 50013}, 403)
        return None

    @staticmethod
    def _too_long(call: RestCall) -> web.Response | None:
        content = call.body.get("content") if isinstance(call.body, dict) else None
        if isinstance(call.body, dict) and isinstance(call.body.get("data"), dict):
            content = call.body["data"].get("content")
        if isinstance(content, str) and len(content) > CONTENT_LIMIT:
            return _json(
                {
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {
                        "content": {
                            "_errors": [
                                {
                                    "code": "BASE_TYPE_MAX_LENGTH",
                                    "message": "Must be 2000 or fewer in length.",
                                }
                            ]
                        }
                    },
                },
                400,
            )
        return None

    def _bad_layout(self, call: RestCall) -> web.Response | None:
        """Discord's rules for a message's components, V2 and not (see the module's doc)."""
        body = call.body if isinstance(call.body, dict) else None
        if body is not None and isinstance(body.get("data"), dict):
            body = body["data"]  # an interaction callback carries its message as `data`
        if body is None:
            return None
        before = self._edited_message(call)
        v2 = bool((body.get("flags") or 0) & COMPONENTS_V2)
        if before is not None and before.get("flags", 0) & COMPONENTS_V2:
            v2 = True  # set once, the flag stays: the edit is held to the same rules
        components = body.get("components") or []
        if not v2:
            if any(c.get("type") != ACTION_ROW for c in components):
                return _invalid("components", "Layout components need IS_COMPONENTS_V2.")
            return None
        if not self.components_v2:
            return _invalid("flags", "Unknown message flag.")
        if body.get("content") is not None or body.get("embeds"):
            return _invalid(
                "content",
                'The "content" field cannot be used when using MessageFlags.IS_COMPONENTS_V2',
            )
        count, text = _measure(components)
        if text > TEXT_DISPLAY_LIMIT:
            return _invalid("components", f"Text displays total {text}, over {TEXT_DISPLAY_LIMIT}.")
        if count > COMPONENT_LIMIT:
            return _invalid("components", f"{count} components, over {COMPONENT_LIMIT}.")
        return None

    def _edited_message(self, call: RestCall) -> dict[str, Any] | None:
        if call.method != "PATCH":
            return None
        if hit := re.fullmatch(r"/channels/\d+/messages/(\d+)", call.path):
            return self.messages.get(hit[1])
        if hit := re.fullmatch(r"/webhooks/\d+/([^/]+)/messages/([^/]+)", call.path):
            key = hit[1] if hit[2] == "@original" else f"{hit[1]}/{hit[2]}"
            return self.webhook_messages.get(key)
        return None

    def _route(self, call: RestCall) -> web.Response:
        m, p, body = call.method, call.path, call.body or {}
        if m == "GET" and p == "/users/@me":
            return _json(self.bot)
        if m == "GET" and p == "/oauth2/applications/@me":
            return _json(self._application())
        if m == "PUT" and (hit := re.fullmatch(r"/applications/\d+(/guilds/\d+)?/commands", p)):
            return _json(
                [
                    {
                        **c,
                        "id": self.new_id(),
                        "application_id": self.application_id,
                        "version": self.new_id(),
                        "type": c.get("type", 1),
                    }
                    for c in body
                ]
            )
        if m == "GET" and (hit := re.fullmatch(r"/users/(\d+)", p)):
            return _json(self.user(hit[1], f"user{hit[1][-4:]}"))
        if m == "POST" and p == "/users/@me/channels":
            recipient = self.user(str(body.get("recipient_id")), "member")
            channel_id = self.dm_channel(recipient)
            return _json({**self.channels[channel_id], "last_message_id": None})
        if m == "POST" and (hit := re.fullmatch(r"/channels/(\d+)/typing", p)):
            return web.Response(status=204)
        if m == "POST" and (hit := re.fullmatch(r"/channels/(\d+)/messages", p)):
            return _json(self._store_message(hit[1], body))
        if m == "PATCH" and (hit := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", p)):
            return self._edit(self.messages, hit[2], body)
        if m == "DELETE" and (hit := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", p)):
            return self._delete(self.messages, hit[2])
        if m == "POST" and (hit := re.fullmatch(r"/channels/(\d+)/messages/(\d+)/threads", p)):
            return self._create_thread(hit[1], body, thread_id=hit[2])
        if m == "POST" and (hit := re.fullmatch(r"/channels/(\d+)/threads", p)):
            return self._create_thread(hit[1], body, thread_id=self.new_id())
        if m == "PUT" and re.fullmatch(r"/channels/\d+/thread-members/\d+", p):
            return web.Response(status=204)
        if m == "POST" and (hit := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", p)):
            return self._callback(hit[1], hit[2], body, call.query)
        if hit := re.fullmatch(r"/webhooks/\d+/([^/]+)(?:/messages/([^/]+))?", p):
            return self._webhook(m, hit[1], hit[2], body)
        return _json({"message": f"404: Not Found ({m} {p})", "code": 0}, 404)

    def _application(self) -> dict[str, Any]:
        return {
            "id": self.application_id,
            "name": "StackDock",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.user(self.new_id(), "owner"),
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
        }

    def _store_message(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        data = self.message_payload(channel_id, self.bot, body.get("content") or "")
        data["components"] = body.get("components") or []
        data["flags"] = body.get("flags") or 0
        data["allowed_mentions"] = body.get("allowed_mentions")
        self.messages[data["id"]] = data
        return data

    def _edit(
        self, store: dict[str, dict[str, Any]], key: str, body: dict[str, Any]
    ) -> web.Response:
        if key not in store:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        data = store[key]
        for name in ("content", "components", "allowed_mentions"):
            if name in body:
                data[name] = body[name]
        if "flags" in body:
            data["flags"] = (body["flags"] or 0) | (data.get("flags", 0) & COMPONENTS_V2)
        data["edited_timestamp"] = _now()
        return _json({k: v for k, v in data.items() if k != "allowed_mentions"})

    @staticmethod
    def _delete(store: dict[str, dict[str, Any]], key: str) -> web.Response:
        if store.pop(key, None) is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        return web.Response(status=204)

    async def start_thread(self, parent_id: str, owner: dict[str, Any], name: str) -> str:
        """A person (or the bot) starts a thread in a channel; returns the thread's id."""
        thread_id = self.new_id()
        thread = self._thread(parent_id, {"name": name}, thread_id, owner["id"])
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread_id

    def _create_thread(self, parent_id: str, body: dict[str, Any], thread_id: str) -> web.Response:
        thread = self._thread(parent_id, body, thread_id, self.bot["id"])
        # Like Discord, announce it on the gateway too; that is what puts it in the cache.
        asyncio.get_running_loop().create_task(
            self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        )
        return _json(thread, 201)

    def _thread(
        self, parent_id: str, body: dict[str, Any], thread_id: str, owner_id: str
    ) -> dict[str, Any]:
        parent = self.channels[parent_id]
        thread = {
            "id": thread_id,
            "type": body.get("type", 11),
            "guild_id": parent["guild_id"],
            "parent_id": parent_id,
            "owner_id": owner_id,
            "name": body["name"],
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": _now(),
                "locked": False,
            },
        }
        self.channels[thread_id] = thread
        return thread

    def _callback(
        self, interaction_id: str, token: str, body: dict[str, Any], query: dict[str, str]
    ) -> web.Response:
        kind = body.get("type")
        data = body.get("data") or {}
        response: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & 64),
            }
        }
        if kind in (4, 5):  # a message, or the "thinking…" placeholder of one
            message = self.message_payload(
                self._channel_of(token), self.bot, data.get("content", "")
            )
            message.update(
                flags=data.get("flags", 0),
                components=data.get("components") or [],
                allowed_mentions=data.get("allowed_mentions"),
            )
            self.webhook_messages[token] = message
            response["interaction"]["response_message_id"] = message["id"]
            response["resource"] = {"type": kind, "message": message}
        elif kind is not None:
            response["resource"] = {"type": kind}
        if query.get("with_response") not in ("1", "true"):
            return web.Response(status=204)
        return _json(response)

    def _channel_of(self, token: str) -> str:
        return self.interactions[token]["channel_id"]

    def _webhook(self, method: str, token: str, message: str | None, body: Any) -> web.Response:
        key = token if message in (None, "@original") else f"{token}/{message}"
        if method == "POST" and message is None:
            data = self.message_payload(
                self._channel_of(token), self.bot, body.get("content") or ""
            )
            data.update(
                flags=body.get("flags", 0),
                components=body.get("components") or [],
                allowed_mentions=body.get("allowed_mentions"),
            )
            self.webhook_messages[f"{token}/{data['id']}"] = data
            return _json(data)
        if method == "PATCH" and message is not None:
            return self._edit(self.webhook_messages, key, body)
        if method == "DELETE" and message is not None:
            return self._delete(self.webhook_messages, key)
        if method == "GET" and key in self.webhook_messages:
            return _json(self.webhook_messages[key])
        return _json({"message": "Unknown Webhook", "code": 10015}, 404)


def _invalid(field: str, message: str) -> web.Response:
    return _json(
        {
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {field: {"_errors": [{"code": "BASE_TYPE_INVALID", "message": message}]}},
        },
        400,
    )


def _measure(components: list[dict[str, Any]]) -> tuple[int, int]:
    """How many components there are, nested ones included, and their text displays' length."""
    count = text = 0
    for component in components:
        count += 1
        if component.get("type") == TEXT_DISPLAY:
            text += len(component.get("content") or "")
        inner = component.get("components") or []
        if component.get("accessory"):
            inner = [*inner, component["accessory"]]
        more, words = _measure(inner)
        count, text = count + more, text + words
    return count, text


def text_of(message: dict[str, Any]) -> str:
    """What a message says: its content, or the text displays of a V2 message, in order."""
    if message.get("content"):
        return str(message["content"])
    return "\n".join(_texts(message.get("components") or []))


def _texts(components: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for component in components:
        if component.get("type") == TEXT_DISPLAY:
            found.append(str(component.get("content") or ""))
        found += _texts(component.get("components") or [])
    return found


def buttons_of(message: dict[str, Any]) -> list[str]:
    """The custom ids of a message's buttons, wherever they sit in its layout."""
    return _button_ids(message.get("components") or [])


def _button_ids(components: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for component in components:
        if component.get("type") == 2 and component.get("custom_id"):
            found.append(str(component["custom_id"]))
        found += _button_ids(component.get("components") or [])
        if component.get("accessory"):
            found += _button_ids([component["accessory"]])
    return found


def is_card(message: dict[str, Any]) -> bool:
    return bool(message.get("flags", 0) & COMPONENTS_V2)


def button_of(message: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """The button component with this custom id, wherever it sits in the message's layout."""
    stack = list(message.get("components") or [])
    while stack:
        component = stack.pop(0)
        if component.get("type") == 2 and component.get("custom_id") == custom_id:
            return component
        stack += component.get("components") or []
    raise KeyError(custom_id)
