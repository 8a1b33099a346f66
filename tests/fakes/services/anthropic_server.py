"""A fake Anthropic Messages server on 127.0.0.1, streaming the real SSE wire format.

async with FakeAnthropic().push(Reply(text=["Hel", "lo"])) as server:
    provider = AnthropicProvider(model="claude-sonnet-4-5", api_key="k", base_url=server.base_url)
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

__all__ = ["Fail", "FakeAnthropic", "FakeToolCall", "FakeUsage", "RecordedRequest", "Reply"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_OPENING_USAGE = FakeUsage(input_tokens=50, output_tokens=1)


@dataclass
class FakeAnthropic(ModelServer):
    path: str = "/v1/messages"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_response(self, status: int, message: str) -> web.Response:
        body = {
            "type": "error",
            "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
        }
        if status == 401 and self.requests:
            # The fake echoes the key so a test can prove it never reaches a person or a log.
            sent = self.requests[-1].headers
            key = sent.get("x-api-key") or sent.get("authorization", "").removeprefix("Bearer ")
            message = f"invalid x-api-key {key}"
            body["error"]["message"] = message
        return web.json_response(body, status=status)

    def opening_events(self, body: dict[str, Any], text: Sequence[str]) -> list[dict[str, Any]]:
        return self._opening(body, text, _OPENING_USAGE)

    def _opening(
        self, body: dict[str, Any], text: Sequence[str], usage: FakeUsage
    ) -> list[dict[str, Any]]:
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "fake"),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": usage.input_tokens,
                    "output_tokens": 1,
                    "cache_read_input_tokens": usage.cache_read_tokens,
                    "cache_creation_input_tokens": usage.cache_write_tokens,
                },
            },
        }
        events: list[dict[str, Any]] = [start, {"type": "ping"}]
        if text:
            events.append(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                }
            )
            for piece in text:
                delta = {"type": "text_delta", "text": piece}
                events.append(
                    {"type": "content_block_delta", "index": 0, "delta": delta, "__text__": True}
                )
        return events

    def reply_events(self, body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
        usage = reply.usage or _OPENING_USAGE
        events = self._opening(body, reply.text, usage)
        index = 0
        if reply.text:
            events.append({"type": "content_block_stop", "index": 0})
            index = 1
        for offset, call in enumerate(reply.tool_calls):
            block = index + offset
            events.extend(self._tool_use_events(block, call))
        stop_reason = "tool_use" if reply.tool_calls else "end_turn"
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cache_read_input_tokens": usage.cache_read_tokens,
                    "cache_creation_input_tokens": usage.cache_write_tokens,
                },
            }
        )
        events.append({"type": "message_stop"})
        return events

    def _tool_use_events(self, block: int, call: FakeToolCall) -> list[dict[str, Any]]:
        start = {
            "type": "content_block_start",
            "index": block,
            "content_block": {
                "type": "tool_use",
                "id": call.id or f"toolu_fake_{block}",
                "name": call.name,
                "input": {},
            },
        }
        deltas = [
            {
                "type": "content_block_delta",
                "index": block,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            }
            for piece in split_in_two(json.dumps(call.arguments))
        ]
        return [start, *deltas, {"type": "content_block_stop", "index": block}]

    def encode(self, event: dict[str, Any]) -> bytes:
        return data_line(event, event=event["type"])

    def finish(self) -> bytes:
        return b""

    def stream_error(self) -> bytes:
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return data_line(error, event="error")

    def invalid_json(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0\n\n'
