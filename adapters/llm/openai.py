"""The OpenAI provider: Chat Completions with tools, streamed, on the official `openai` SDK.

Works with any OpenAI-compatible server (Ollama, vLLM, LiteLLM proxy) through `base_url`. Such
servers may not report usage; tokens are then recorded as unknown, never guessed.

Retries and timeouts are the SDK's own:
- `timeout_s` (default 60 s) bounds connecting and every read, so a stream that stalls for a
  minute fails as `timeout`; a long answer that keeps streaming is never cut off.
- `max_retries` (default 2) retries 408/409/429/5xx and connection failures with the SDK's
  backoff (0.5 s doubling, at most 8 s, jittered), honouring `retry-after` up to 120 s; a longer
  `retry-after` is not waited for and fails at once as `busy`. Two retries keep a person's worst
  wait near 20 s on a flaky network without hammering a provider that is shedding load.
A retry only happens before the stream starts; once text flows, a failure is final.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from adapters.llm.defaults import DEFAULT_MODELS
from adapters.llm.failures import report_rejected_key, retry_after_seconds
from core.models import ChatMessage, ProviderError, TextDelta, ToolCall, ToolSpec, TurnEnd, Usage

__all__ = ["DEFAULT_MODELS", "OpenAIProvider"]

OPENAI_API_URL = "https://api.openai.com/v1"


class OpenAIProvider:
    """One streamed Chat Completions turn per call to `turn`."""

    name = "openai"

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        # An explicit base URL keeps the SDK from reading OPENAI_BASE_URL itself: settings
        # are read in one place only.
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url or OPENAI_API_URL,
            timeout=timeout_s,
            max_retries=max_retries,
        )

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(system, messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            request["tools"] = [to_openai_tool(spec) for spec in tools]
        turn = _Turn()
        try:
            stream = await self._client.chat.completions.create(**request)
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
            raise self._bad(str(exc), turn) from None
        yield TurnEnd(calls, self._usage(turn), stop_reason=turn.finish_reason)

    def _usage(self, turn: _Turn) -> Usage:
        raw = turn.usage
        if raw is None:
            return Usage(provider=self.name, model=self.model)
        # prompt_tokens includes cached tokens; ours exclude them so each is priced once.
        details = getattr(raw, "prompt_tokens_details", None)
        cached = (getattr(details, "cached_tokens", None) or 0) if details else 0
        prompt = getattr(raw, "prompt_tokens", None)
        return Usage(
            provider=self.name,
            model=self.model,
            input_tokens=None if prompt is None else prompt - cached,
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
    started: bool = False

    def take(self, chunk: Any) -> str:
        self.started = True
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
