"""A fake OpenAI Chat Completions server on 127.0.0.1, streaming the real SSE wire format.

async with FakeOpenAI().push(Reply(text=["Hel", "lo"])) as server:
    provider = OpenAIProvider(model="gpt-4o-mini", api_key="k", base_url=server.base_url)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.services.model_server import (
    Fail,
    FakeToolCall,
    FakeUsage,
    ModelServer,
    RecordedRequest,
    Reply,
    data_line,
    split_in_two,
)

__all__ = ["Fail", "FakeOpenAI", "FakeToolCall", "FakeUsage", "RecordedRequest", "Reply"]

_ERROR_TYPES = {
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass
class FakeOpenAI(ModelServer):
    path: str = "/v1/chat/completions"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def error_response(self, status: int, message: str) -> web.Response:
        kind, code = _ERROR_TYPES.get(status, ("server_error", None))
        if status == 401 and self.requests:
            # The real API echoes part of the key; the fake echoes all of it, so a test can
            # prove that nothing the server says about the key reaches a person or a log.
            sent = self.requests[-1].headers.get("authorization", "")
            message = f"Incorrect API key provided: {sent.removeprefix('Bearer ')}"
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return web.json_response(body, status=status)

    def _chunk(
        self, body: dict[str, Any], delta: dict[str, Any], finish: str | None = None
    ) -> dict:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def opening_events(self, body: dict[str, Any], text: Sequence[str]) -> list[dict[str, Any]]:
        events = [self._chunk(body, {"role": "assistant", "content": ""})]
        for piece in text:
            events.append({**self._chunk(body, {"content": piece}), "__text__": True})
        return events

    def reply_events(self, body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
        events = self.opening_events(body, reply.text)
        events.extend(self._tool_call_events(body, reply.tool_calls))
        finish = "tool_calls" if reply.tool_calls else "stop"
        events.append(self._chunk(body, {}, finish))
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        if include_usage and reply.usage is not None:
            events.append(self._usage_chunk(body, reply.usage))
        return events

    def _tool_call_events(
        self, body: dict[str, Any], calls: Sequence[FakeToolCall]
    ) -> list[dict[str, Any]]:
        # Each call opens with its id and name; argument text then arrives in fragments,
        # interleaved across parallel calls, keyed only by index.
        events = []
        pieces = []
        for index, call in enumerate(calls):
            opening = {
                "index": index,
                "id": call.id or f"call_fake_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(self._chunk(body, {"tool_calls": [opening]}))
            pieces.append(split_in_two(json.dumps(call.arguments)))
        for part in range(2):
            for index, halves in enumerate(pieces):
                fragment = {"index": index, "function": {"arguments": halves[part]}}
                events.append(self._chunk(body, {"tool_calls": [fragment]}))
        return events

    def _usage_chunk(self, body: dict[str, Any], usage: FakeUsage) -> dict[str, Any]:
        # OpenAI counts cached tokens inside prompt_tokens.
        prompt = usage.input_tokens + usage.cache_read_tokens
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": body.get("model", "fake"),
            "choices": [],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": usage.output_tokens,
                "total_tokens": prompt + usage.output_tokens,
                "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
            },
        }

    def encode(self, event: dict[str, Any]) -> bytes:
        return data_line(event)

    def finish(self) -> bytes:
        return b"data: [DONE]\n\n"

    def stream_error(self) -> bytes:
        return data_line({"error": {"message": "The server had an error", "type": "server_error"}})
