"""A fake OpenAI-compatible local model server on 127.0.0.1, as llama.cpp's llama-server,
llama-cpp-python and Ollama behave with a small instruct model:

- tool calls written as text in the content (`fenced`, `bare`, `tagged`, `prefixed` shapes);
- `finish_reason: "length"` when `max_tokens` is reached, and a stream without end when no cap
  is sent (`Said(endless=True)`);
- no usage chunk (`Said(usage=False)`), and a model name of its own in every reply;
- `tools` silently dropped (`ignore_tools=True`, as for a chat template without tool support),
  which shows in `/props` and in the prompt tokens it counts;
- llama-server's 400 for a prompt over its context (`context_window=N`):
  `{"error": {"code": 400, "type": "exceed_context_size_error", "message": "request (N tokens)
  exceeds the available context size (M tokens), try increasing it", "n_prompt_tokens": N,
  "n_ctx": M}}`;
- `GET /v1/models` listing its one model, and llama-server's `GET /props`.

async with LocalServer().push(Said(fenced("count_resources", {"kind": "servers"}))) as server:
    provider = OpenAIProvider(model=None, api_key="none", base_url=server.base_url)

A script item may also be a function of the request body, for a model that reads its tool
results (`bench/local_answers.py`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from tests.fakes.services.model_server import FakeToolCall, RecordedRequest, data_line

__all__ = ["LocalServer", "Said", "bare", "fenced", "prefixed", "tagged"]

QWEN = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def _call(name: str, arguments: dict[str, Any]) -> str:
    return json.dumps({"name": name, "arguments": arguments})


def fenced(name: str, arguments: dict[str, Any]) -> str:
    return f"```json\n{_call(name, arguments)}\n```"


def bare(name: str, arguments: dict[str, Any]) -> str:
    return _call(name, arguments)


def tagged(name: str, arguments: dict[str, Any]) -> str:
    return f"<tool_call>\n{_call(name, arguments)}\n</tool_call>"


def prefixed(name: str, arguments: dict[str, Any]) -> str:
    return f"functions.{name}:{json.dumps(arguments)}"


@dataclass(frozen=True)
class Said:
    """One streamed turn: `text` as content, in pieces of about a token."""

    text: str = ""
    tool_calls: Sequence[FakeToolCall] = ()  # in the API's field, when the model manages it
    finish: str | None = None  # default "tool_calls" with calls, else "stop"
    endless: bool = False  # the text again and again: up to max_tokens pieces, or for ever
    usage: bool = True  # False: no usage chunk, as some servers send none
    piece_chars: int = 4
    piece_delay_s: float = 0.0


Script = Said | Callable[[dict[str, Any]], Said]


@dataclass
class LocalServer:
    model: str = QWEN  # every reply names it, whatever the request asked for
    context_window: int | None = None  # prompts of this many tokens or more are refused
    ignore_tools: bool = False
    list_models: bool = True
    props: bool = True
    rejects: tuple[str, ...] = ()  # request fields refused with OpenAI's 400, e.g. "max_tokens"
    script: deque[Script] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    disconnects: int = 0  # streams the client closed before their end

    def __post_init__(self) -> None:
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def push(self, *items: Script) -> Self:
        self.script.extend(items)
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chats(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/props", self._props)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def _record(self, request: web.Request, body: dict[str, Any]) -> None:
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(RecordedRequest(request.path, headers, body))

    async def _models(self, request: web.Request) -> web.Response:
        self._record(request, {})
        if not self.list_models:
            return _error(404, "File Not Found", "not_found_error")
        model = {"id": self.model, "object": "model", "created": 1, "owned_by": "llamacpp"}
        return web.json_response({"object": "list", "data": [model]})

    async def _props(self, request: web.Request) -> web.Response:
        self._record(request, {})
        if not self.props:
            return _error(404, "File Not Found", "not_found_error")
        supported = not self.ignore_tools
        return web.json_response(
            {
                "model_path": f"/models/{self.model}",
                "default_generation_settings": {"n_ctx": self.context_window or 4096},
                "chat_template_caps": {
                    "supports_tools": supported,
                    "supports_tool_calls": supported,
                },
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self._record(request, body)
        for name in self.rejects:
            if name in body:
                other = "max_completion_tokens" if name == "max_tokens" else "max_tokens"
                message = (
                    f"Unsupported parameter: '{name}' is not supported with this model. "
                    f"Use '{other}' instead."
                )
                return _error(400, message, "invalid_request_error", param=name)
        prompt = self.prompt_tokens(body)
        if self.context_window is not None and prompt >= self.context_window:
            return _context_error(prompt, self.context_window)
        if not self.script:
            return _error(500, "the fake server has no scripted reply left", "server_error")
        item = self.script.popleft()
        said = item(body) if callable(item) else item
        try:
            return await self._stream(request, body, said, prompt)
        except ConnectionError:
            self.disconnects += 1  # the client stopped reading and closed the stream
            raise

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        """About four characters a token, as a tokenizer would count the rendered prompt;
        tools count only when the template takes them."""
        chars = sum(len(json.dumps(m.get("content") or "")) for m in body["messages"])
        chars += sum(len(json.dumps(m.get("tool_calls") or "")) for m in body["messages"])
        if body.get("tools") and not self.ignore_tools:
            chars += len(json.dumps(body["tools"]))
        return chars // 4 + 6 * len(body["messages"])

    async def _stream(
        self, request: web.Request, body: dict[str, Any], said: Said, prompt: int
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(data_line(self._chunk({"role": "assistant", "content": None})))
        cap = body.get("max_tokens") or body.get("max_completion_tokens")
        sent = 0
        for piece in self._pieces(said):
            if cap is not None and sent >= cap:
                break
            if self._closing.is_set():
                return response
            await response.write(data_line(self._chunk({"content": piece})))
            sent += 1
            await asyncio.sleep(said.piece_delay_s)
        calls = [] if self.ignore_tools else list(said.tool_calls)
        for index, call in enumerate(calls):
            fragment = {
                "index": index,
                "id": call.id or f"call_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            await response.write(data_line(self._chunk({"tool_calls": [fragment]})))
        finish = said.finish or ("tool_calls" if calls else "stop")
        if cap is not None and sent >= cap and said.endless:
            finish = "length"
        await response.write(data_line(self._chunk({}, finish)))
        wants_usage = (body.get("stream_options") or {}).get("include_usage")
        if said.usage and wants_usage:
            usage = {"prompt_tokens": prompt, "completion_tokens": sent}
            usage["total_tokens"] = prompt + sent
            await response.write(data_line({**self._chunk({}), "choices": [], "usage": usage}))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _pieces(self, said: Said) -> Iterator[str]:
        size = said.piece_chars
        pieces = [said.text[i : i + size] for i in range(0, len(said.text), size)]
        return itertools.cycle(pieces) if said.endless and pieces else iter(pieces)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-local",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": self.model,
            "system_fingerprint": "b5000-local",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }


def _error(status: int, message: str, kind: str, *, param: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": {"code": status, "message": message, "type": kind}}
    if param is not None:
        body["error"].update(param=param, code="unsupported_parameter")
    return web.json_response(body, status=status)


def _context_error(prompt: int, window: int) -> web.Response:
    """llama-server's own body for a prompt over the slot's context."""
    message = (
        f"request ({prompt} tokens) exceeds the available context size ({window} tokens), "
        "try increasing it"
    )
    error = {
        "code": 400,
        "message": message,
        "type": "exceed_context_size_error",
        "n_prompt_tokens": prompt,
        "n_ctx": window,
    }
    return web.json_response({"error": error}, status=400)
