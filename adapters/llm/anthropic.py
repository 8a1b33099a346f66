"""The Anthropic provider: Messages with tools, streamed, on the official `anthropic` SDK.

Retries and timeouts are the SDK's own:
- `timeout_s` (default 60 s) bounds connecting and every read, so a stream that stalls for a
  minute fails as `timeout`; a long answer that keeps streaming is never cut off.
- `max_retries` (default 2) retries 408/409/429/5xx/529 and connection failures with the SDK's
  backoff (0.5 s doubling, at most 8 s, jittered), honouring `retry-after`. This SDK would honour
  a `retry-after` of any length, so a middleware refuses to wait longer than
  `MAX_RETRY_WAIT_S` (30 s) and fails at once as `busy` with the server's hint instead: a
  person would rather hear "try again in N s" (or get the fallback provider) than watch a
  spinner for minutes.
A retry only happens before the stream starts; once text flows, a failure is final.

The system prompt is marked for prompt caching: a tool loop resends it every step, and cache
reads cost a tenth of fresh input (prompts under the model's minimum are simply not cached).
Anthropic counts `input_tokens` apart from cache reads and writes; ours count every prompt token
processed, so the three are added up. The model recorded is the one the API says answered.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from adapters.llm.defaults import DEFAULT_MODELS
from adapters.llm.failures import (
    ContextOverflow,
    report_overflow,
    report_rejected_key,
    retry_after_seconds,
)
from core.models import ChatMessage, ProviderError, TextDelta, ToolCall, ToolSpec, TurnEnd, Usage

__all__ = ["DEFAULT_MODELS", "AnthropicProvider"]

ANTHROPIC_API_URL = "https://api.anthropic.com"
MAX_RETRY_WAIT_S = 30.0
# "prompt is too long: 215000 tokens > 200000 maximum"
_TOO_LONG = re.compile(r"prompt is too long(?:: (\d+) tokens > (\d+))?")


class _WaitTooLong(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"retry-after {retry_after_s} s")
        self.retry_after_s = retry_after_s


async def _refuse_long_waits(request: Any, call_next: Any) -> Any:
    # Raising anything but an SDK error from middleware stops the SDK's retry loop.
    response = await call_next(request)
    if response.status_code in (429, 529):
        wait = retry_after_seconds(response.headers)
        if wait is not None and wait > MAX_RETRY_WAIT_S:
            await response.http_response.aclose()
            raise _WaitTooLong(wait)
    return response


class AnthropicProvider:
    """One streamed Messages turn per call to `turn`."""

    name = "anthropic"

    def __init__(
        self,
        *,
        model: str | None,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60,
        max_retries: int = 2,
        max_tokens: int = 2048,
    ) -> None:
        self.model = model or DEFAULT_MODELS["anthropic"]
        self.max_tokens = max_tokens
        # An explicit base URL keeps the SDK from reading ANTHROPIC_BASE_URL itself.
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url or ANTHROPIC_API_URL,
            timeout=timeout_s,
            max_retries=max_retries,
            middleware=[_refuse_long_waits],
        )

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            # Without tools offered, the API refuses tool blocks in the history.
            "messages": to_anthropic_messages(messages, tools_offered=bool(tools)),
            "stream": True,
        }
        if tools:
            request["tools"] = [to_anthropic_tool(spec) for spec in tools]
        turn = _Turn()
        try:
            stream = await self._client.messages.create(**request)
            async with stream:
                async for event in stream:
                    text = turn.take(event)
                    if text:
                        yield TextDelta(text)
        except _WaitTooLong as exc:
            raise ProviderError(
                "busy", "the model is busy", provider=self.name, retry_after_s=exc.retry_after_s
            ) from None
        except anthropic.APIError as exc:
            raise self._error(exc, turn) from None
        except httpx2.TimeoutException:
            # This SDK does not wrap failures that happen while reading the stream.
            raise self._failed("timeout", "the model stopped answering in time", turn) from None
        except httpx2.HTTPError:
            raise self._failed("bad_response", "the model's stream was cut off", turn) from None
        except ValueError:
            raise self._failed(
                "bad_response", "the model's stream held invalid JSON", turn
            ) from None
        if not turn.stopped:
            raise self._failed("bad_response", "the model's stream ended before it finished", turn)
        try:
            calls = turn.tool_calls()
        except ValueError as exc:
            raise self._failed("bad_response", str(exc), turn) from None
        yield TurnEnd(calls, self._usage(turn), stop_reason=turn.stop_reason or "end")

    def _usage(self, turn: _Turn) -> Usage:
        processed = None
        if turn.input_tokens is not None:
            processed = turn.input_tokens + turn.cache_read_tokens + turn.cache_write_tokens
        return Usage(
            provider=self.name,
            model=turn.model or self.model,
            input_tokens=processed,
            output_tokens=turn.output_tokens,
            cache_read_tokens=turn.cache_read_tokens,
            cache_write_tokens=turn.cache_write_tokens,
        )

    def _failed(self, kind: Any, message: str, turn: _Turn) -> ProviderError:
        # message_start already billed the input, so a broken stream still spent tokens.
        usage = self._usage(turn) if turn.input_tokens is not None else None
        return ProviderError(kind, message, provider=self.name, usage=usage)

    def _error(self, exc: anthropic.APIError, turn: _Turn) -> ProviderError:
        if isinstance(exc, anthropic.APITimeoutError):
            return self._failed("timeout", "the model did not answer in time", turn)
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            if status in (401, 403):
                report_rejected_key(self.name, status)
                return ProviderError("auth", "the model's API key was rejected", provider=self.name)
            # 529, or an overloaded_error event inside a stream that began with 200
            if status in (429, 529) or exc.type == "overloaded_error":
                return ProviderError(
                    "busy",
                    "the model is busy",
                    provider=self.name,
                    retry_after_s=retry_after_seconds(exc.response.headers),
                    usage=self._usage(turn) if turn.input_tokens is not None else None,
                )
            too_long = _TOO_LONG.search(str(exc))
            if status == 400 and too_long is not None:
                numbers = [int(n) if n else None for n in too_long.groups()]
                report_overflow(ContextOverflow(*numbers), self.name)
                return ProviderError(
                    "context_exceeded",
                    "the conversation is longer than the model's context window",
                    provider=self.name,
                )
            if status >= 500 or exc.type == "api_error":
                return self._failed("server", f"the model's server failed (HTTP {status})", turn)
            return self._failed(
                "bad_response", f"the model refused the request (HTTP {status})", turn
            )
        if isinstance(exc, anthropic.APIConnectionError):
            if turn.started:
                return self._failed("bad_response", "the model's stream was cut off", turn)
            return ProviderError("server", "the model could not be reached", provider=self.name)
        return self._failed("bad_response", "the model's answer was malformed", turn)


@dataclass
class _Block:
    id: str
    name: str
    json: str = ""


@dataclass
class _Turn:
    """What one streamed message has said so far."""

    blocks: dict[int, _Block] = field(default_factory=dict)
    model: str = ""  # as the API names it in message_start
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    stop_reason: str | None = None
    started: bool = False
    stopped: bool = False

    def take(self, event: Any) -> str:
        self.started = True
        kind = event.type
        if kind == "message_start":
            self.model = getattr(event.message, "model", None) or self.model
            self._count(event.message.usage)
        elif kind == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                self.blocks[event.index] = _Block(id=block.id, name=block.name)
            elif block.type == "text":
                return block.text or ""
        elif kind == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                return delta.text
            if delta.type == "input_json_delta" and event.index in self.blocks:
                self.blocks[event.index].json += delta.partial_json
        elif kind == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self._count(event.usage)
        elif kind == "message_stop":
            self.stopped = True
        return ""

    def _count(self, usage: Any) -> None:
        # message_delta's counts are cumulative, so each report replaces the last.
        if usage is None:
            return
        if usage.input_tokens is not None:
            self.input_tokens = usage.input_tokens
        if usage.output_tokens is not None:
            self.output_tokens = usage.output_tokens
        if usage.cache_read_input_tokens is not None:
            self.cache_read_tokens = usage.cache_read_input_tokens
        if usage.cache_creation_input_tokens is not None:
            self.cache_write_tokens = usage.cache_creation_input_tokens

    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The assembled calls; ValueError when the model's fragments do not make one."""
        calls = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            try:
                arguments = json.loads(block.json) if block.json.strip() else {}
            except ValueError:
                raise ValueError("the model sent tool arguments that are not JSON") from None
            if not isinstance(arguments, dict):
                raise ValueError("the model sent a malformed tool call")
            calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
        return tuple(calls)


def to_anthropic_tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "input_schema": dict(spec.parameters),
    }


def to_anthropic_messages(
    messages: Sequence[ChatMessage], *, tools_offered: bool = True
) -> list[dict[str, Any]]:
    """Our neutral conversation as Messages content blocks.

    Tool results travel as `tool_result` blocks in a user message; consecutive messages of one
    role are merged, which groups the results of parallel calls into one message as the API asks.
    A turn offered no tools gets the earlier calls and results as text instead.
    """
    converted: list[dict[str, Any]] = []
    for message in messages:
        role, blocks = _blocks(message) if tools_offered else _text_blocks(message)
        if not blocks:
            continue  # the API rejects empty content
        if converted and converted[-1]["role"] == role:
            converted[-1]["content"].extend(blocks)
        else:
            converted.append({"role": role, "content": blocks})
    return converted


def _text_blocks(message: ChatMessage) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        said = f"(result of {message.name or 'the lookup'}: {message.content})"
        return "user", [{"type": "text", "text": said}]
    role, blocks = _blocks(message)
    for index, block in enumerate(blocks):
        if block["type"] == "tool_use":
            said = f"(looked up {block['name']} {json.dumps(block['input'])})"
            blocks[index] = {"type": "text", "text": said}
    return role, blocks


def _blocks(message: ChatMessage) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        result = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id,
            "content": message.content,
        }
        return "user", [result]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": dict(call.arguments)}
        )
    return message.role, blocks
