"""The OpenAI provider: Chat Completions with tools, streamed, on the official `openai` SDK.

Works with any OpenAI-compatible server (llama.cpp's llama-server, llama-cpp-python, Ollama,
vLLM, LiteLLM proxy) through `base_url`; what such servers do differently, and how it is met,
is in `adapters.llm.compat`. They may not report usage; tokens are then recorded as unknown,
never guessed. The model recorded is the one the server says answered.

Every turn is capped at `max_tokens` output tokens: without a cap a small local model can run
for many minutes. Tools are always offered with `tool_choice: "auto"` (llama-cpp-python's
server ignores tools without it).

Retries and timeouts are the SDK's own:
- `timeout_s` (default 60 s) bounds connecting and every read, so a stream that stalls for a
  minute fails as `timeout`; a long answer that keeps streaming is bounded by the output cap
  and by the answer's own time budget in the tool loop, not here.
- `max_retries` (default 2) retries 408/409/429/5xx and connection failures with the SDK's
  backoff (0.5 s doubling, at most 8 s, jittered), honouring `retry-after` up to 120 s; a longer
  `retry-after` is not waited for and fails at once as `busy`. Two retries keep a person's worst
  wait near 20 s on a flaky network without hammering a provider that is shedding load.
A retry only happens before the stream starts; once text flows, a failure is final.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from adapters.llm import compat
from adapters.llm.defaults import DEFAULT_MODELS
from adapters.llm.failures import report_overflow, report_rejected_key, retry_after_seconds
from core.models import ChatMessage, ProviderError, TextDelta, ToolCall, ToolSpec, TurnEnd, Usage

__all__ = ["DEFAULT_MODELS", "OpenAIProvider"]

log = logging.getLogger(__name__)

OPENAI_API_URL = "https://api.openai.com/v1"


class OpenAIProvider:
    """One streamed Chat Completions turn per call to `turn`.

    `model=None` means: OpenAI's default model for OpenAI itself, and for any other server the
    one its `GET /models` lists first, asked before the first turn.
    """

    name = "openai"

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
        official = compat.is_openai(base_url)
        self.model = model or (DEFAULT_MODELS["openai"] if official else compat.LOCAL_MODEL)
        self.max_tokens = max_tokens
        self._cap_parameter = "max_completion_tokens" if official else "max_tokens"
        self._base_url = base_url or OPENAI_API_URL
        self._ask_model = model is None and not official
        self._prepared = official  # a compatible server is asked about itself once
        self._preparing = asyncio.Lock()
        self._tool_loss = compat.ToolLossWatch(self.name)
        # An explicit base URL keeps the SDK from reading OPENAI_BASE_URL itself: settings
        # are read in one place only.
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=self._base_url,
            timeout=timeout_s,
            max_retries=max_retries,
        )

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        await self._prepare()
        request: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(system, messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            self._cap_parameter: self.max_tokens,
        }
        if tools:
            request["tools"] = [to_openai_tool(spec) for spec in tools]
            request["tool_choice"] = "auto"
        turn = _Turn()
        try:
            stream = await self._open(request)
            async with stream:
                async for chunk in stream:
                    text = turn.take(chunk)
                    if text:
                        yield TextDelta(text)
        except openai.APIError as exc:
            raise self._error(exc, turn) from None
        except ValueError:
            # json.JSONDecodeError from a data line the SDK could not parse
            raise self._bad("the model's stream held invalid JSON", turn) from None
        if turn.finish_reason is None:
            raise self._bad("the model's stream ended before it finished", turn)
        try:
            calls = turn.tool_calls()
        except ValueError as exc:
            if turn.finish_reason != "length":
                raise self._bad(str(exc), turn) from None
            calls = ()  # a call cut off by the output cap is no call; the loop sees the cut
        prompt = getattr(turn.usage, "prompt_tokens", None)
        self._tool_loss.after_turn(request, prompt, called=bool(calls))
        yield TurnEnd(calls, self._usage(turn), stop_reason=turn.finish_reason)

    async def _open(self, request: dict[str, Any]) -> Any:
        """Starts the stream; a server that refuses the output cap's parameter is asked again
        with the other one, which is then kept."""
        try:
            return await self._client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            if compat.rejected_parameter(exc) != self._cap_parameter:
                raise
        rejected = self._cap_parameter
        self._cap_parameter = compat.other_parameter(rejected)
        request[self._cap_parameter] = request.pop(rejected)
        log.info("the %s server takes %s, not %s", self.name, self._cap_parameter, rejected)
        return await self._client.chat.completions.create(**request)

    async def _prepare(self) -> None:
        if self._prepared:
            return
        async with self._preparing:
            if self._prepared:
                return
            if self._ask_model:
                listed = await compat.first_model(self._client)
                if listed is None:
                    return  # the server is not up yet: ask again next turn
                self.model = listed
                log.info(
                    "AI_MODEL is not set: using %r, the first model the server at "
                    "OPENAI_BASE_URL lists",
                    listed,
                )
            props = await compat.server_properties(self._client, self._base_url)
            self._tool_loss.from_properties(props, self.model)
            window = compat.served_window(props)
            if window is not None:
                log.info(
                    "the %s server's context window is %d tokens (AI_CONTEXT_WINDOW fits "
                    "history to it)",
                    self.name,
                    window,
                )
            self._prepared = True

    def _usage(self, turn: _Turn) -> Usage:
        model = turn.model or self.model  # the server's word for what answered
        raw = turn.usage
        if raw is None:
            return Usage(provider=self.name, model=model)
        # prompt_tokens counts every prompt token processed, cached ones included.
        details = getattr(raw, "prompt_tokens_details", None)
        cached = (getattr(details, "cached_tokens", None) or 0) if details else 0
        return Usage(
            provider=self.name,
            model=model,
            input_tokens=getattr(raw, "prompt_tokens", None),
            output_tokens=getattr(raw, "completion_tokens", None),
            cache_read_tokens=cached,
        )

    def _bad(self, message: str, turn: _Turn) -> ProviderError:
        usage = self._usage(turn) if turn.usage is not None else None
        return ProviderError("bad_response", message, provider=self.name, usage=usage)

    def _error(self, exc: openai.APIError, turn: _Turn) -> ProviderError:
        usage = self._usage(turn) if turn.usage is not None else None
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(
                "timeout", "the model did not answer in time", provider=self.name, usage=usage
            )
        overflow = compat.context_overflow(exc)
        if overflow is not None:
            report_overflow(overflow, self.name)
            return ProviderError(
                "context_exceeded",
                "the conversation is longer than the model's context window",
                provider=self.name,
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in (401, 403):
                report_rejected_key(self.name, status)
                return ProviderError("auth", "the model's API key was rejected", provider=self.name)
            if status in (429, 529):  # 529: an OpenAI-compatible proxy passing on an overload
                return ProviderError(
                    "busy",
                    "the model is busy",
                    provider=self.name,
                    retry_after_s=retry_after_seconds(exc.response.headers),
                )
            if status >= 500:
                return ProviderError(
                    "server", f"the model's server failed (HTTP {status})", provider=self.name
                )
            return ProviderError(
                "bad_response", f"the model refused the request (HTTP {status})", provider=self.name
            )
        if isinstance(exc, openai.APIConnectionError):
            if turn.started:
                return self._bad("the model's stream was cut off", turn)
            return ProviderError("server", "the model could not be reached", provider=self.name)
        # An error object inside the stream, or a response that failed validation.
        return ProviderError(
            "bad_response",
            "the model returned an error mid-answer",
            provider=self.name,
            usage=usage,
        )


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class _Turn:
    """What one streamed completion has said so far."""

    calls: dict[int, _PartialCall] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Any = None
    model: str = ""  # as the server names it in its chunks
    started: bool = False

    def take(self, chunk: Any) -> str:
        self.started = True
        self.model = self.model or getattr(chunk, "model", None) or ""
        if chunk.usage is not None:
            self.usage = chunk.usage
        text = ""
        for choice in chunk.choices:
            delta = choice.delta
            if delta is not None:
                text += delta.content or ""
                # Parallel calls arrive interleaved, keyed by index; later fragments carry
                # only more argument text.
                for fragment in delta.tool_calls or ():
                    call = self.calls.setdefault(fragment.index, _PartialCall())
                    call.id = fragment.id or call.id
                    if fragment.function is not None:
                        call.name = fragment.function.name or call.name
                        call.arguments += fragment.function.arguments or ""
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return text

    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The assembled calls; ValueError when the model's fragments do not make one."""
        calls = []
        for index in sorted(self.calls):
            partial = self.calls[index]
            try:
                arguments = json.loads(partial.arguments) if partial.arguments.strip() else {}
            except ValueError:
                raise ValueError("the model sent tool arguments that are not JSON") from None
            if not isinstance(arguments, dict) or not partial.name:
                raise ValueError("the model sent a malformed tool call")
            call_id = partial.id or f"call_{index}"
            calls.append(ToolCall(id=call_id, name=partial.name, arguments=arguments))
        return tuple(calls)


def to_openai_tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": dict(spec.parameters),
        },
    }


def to_openai_messages(system: str, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Our neutral conversation in Chat Completions' shape, system prompt first."""
    converted: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for message in messages:
        if message.role == "tool":
            converted.append(
                {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
            )
        elif message.role == "assistant" and message.tool_calls:
            converted.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.name,
                                "arguments": json.dumps(dict(call.arguments)),
                            },
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            converted.append({"role": message.role, "content": message.content})
    return converted
