"""What OpenAI-compatible servers (llama.cpp's llama-server, llama-cpp-python, Ollama, vLLM) do
differently from OpenAI, and what the OpenAI provider does about it.

- Model name: llama-server and llama-cpp-python accept any name and answer with their own;
  Ollama and vLLM need one they serve. With a base URL and no AI_MODEL, the server's
  `GET /v1/models` is asked once and its first model used; a server that lists none is sent
  "default". A paid OpenAI model's name is never assumed for someone else's server.
- Output cap: OpenAI's newer models take only `max_completion_tokens`, llama-cpp-python and
  older servers only `max_tokens`. The provider starts with the one its server most likely
  takes and switches, for good, when a 400 says that one is unsupported.
- Context window: llama-server refuses an over-long prompt with a 400 of type
  `exceed_context_size_error` ("request (N tokens) exceeds the available context size (M
  tokens)", with `n_prompt_tokens` and `n_ctx`); llama-cpp-python and vLLM with OpenAI's code
  `context_length_exceeded`. Retrying cannot help, so it is told apart from other failures.
- Tools: a model whose chat template cannot take tools has them dropped without a word; the
  answer then comes from the prompt's summary alone. llama-server says so in `GET /props`
  (`chat_template_caps.supports_tools`); any server gives it away by counting far fewer prompt
  tokens than a request with tools holds. Either is logged once, for the operator.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import openai

from adapters.llm.failures import ContextOverflow

log = logging.getLogger(__name__)

LOCAL_MODEL = "default"  # what a server with no model list is sent; llama.cpp ignores it
CAP_PARAMETERS = ("max_completion_tokens", "max_tokens")
PROBE_TIMEOUT_S = 5.0

_CONTEXT_WORDS = (
    "exceeds the available context size",
    "maximum context length",
    "context length exceeded",
    "context window",
    "prompt is too long",
)
_REQUESTED = re.compile(r"request \((\d+) tokens\)|requested (\d+) tokens")
_WINDOW = re.compile(r"context size \((\d+) tokens\)|maximum context length is (\d+)")


def is_openai(base_url: str | None) -> bool:
    return base_url is None or "api.openai.com" in base_url


def other_parameter(name: str) -> str:
    return CAP_PARAMETERS[1] if name == CAP_PARAMETERS[0] else CAP_PARAMETERS[0]


def _error_body(exc: openai.APIError) -> dict[str, Any]:
    return exc.body if isinstance(exc.body, dict) else {}


def rejected_parameter(exc: openai.APIError) -> str | None:
    """The output-cap parameter a 400 says the server does not take, if that is what it says."""
    if not isinstance(exc, openai.APIStatusError) or exc.status_code != 400:
        return None
    body = _error_body(exc)
    message = str(body.get("message") or exc.message).lower()
    if not any(word in message for word in ("support", "unrecognized", "extra", "not allowed")):
        return None
    if body.get("param") in CAP_PARAMETERS:
        return str(body["param"])
    # OpenAI's message names the one it refuses first, then the one to use instead.
    found = [(message.find(name), name) for name in CAP_PARAMETERS if name in message]
    return min(found)[1] if found else None


def context_overflow(exc: openai.APIError) -> ContextOverflow | None:
    body = _error_body(exc)
    message = str(body.get("message") or exc.message)
    kind, code = body.get("type"), body.get("code")
    said = kind == "exceed_context_size_error" or code == "context_length_exceeded"
    if not said and not any(word in message.lower() for word in _CONTEXT_WORDS):
        return None
    return ContextOverflow(
        _number(body.get("n_prompt_tokens")) or _first_number(_REQUESTED, message),
        _number(body.get("n_ctx")) or _first_number(_WINDOW, message),
    )


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _first_number(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    if match is None:
        return None
    return int(next(group for group in match.groups() if group))


async def first_model(client: openai.AsyncOpenAI) -> str | None:
    """The first model `GET /models` lists; LOCAL_MODEL when it lists none or has no such
    endpoint, None when the server could not be asked (ask again next time)."""
    try:
        page = await client.with_options(timeout=PROBE_TIMEOUT_S, max_retries=0).models.list()
    except openai.APIStatusError:
        return LOCAL_MODEL
    except openai.APIError:
        return None
    ids = [model.id for model in page.data if getattr(model, "id", None)]
    return ids[0] if ids else LOCAL_MODEL


def served_window(props: dict[str, Any]) -> int | None:
    """The context window llama-server runs with, from its `/props`."""
    settings = props.get("default_generation_settings")
    return _number(settings.get("n_ctx")) if isinstance(settings, dict) else None


async def server_properties(client: openai.AsyncOpenAI, base_url: str) -> dict[str, Any]:
    """llama-server's `GET /props` (beside `/v1`, not under it); empty from other servers."""
    root = re.sub(r"/v1/?$", "", base_url.rstrip("/"))
    try:
        props = await client.with_options(timeout=PROBE_TIMEOUT_S, max_retries=0).get(
            f"{root}/props", cast_to=object
        )
    except (openai.APIError, ValueError):
        return {}
    return props if isinstance(props, dict) else {}


class ToolLossWatch:
    """Says once, in the log, that a server does not give the model our tools."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.warned = False

    def from_properties(self, props: dict[str, Any], model: str) -> None:
        caps = props.get("chat_template_caps")
        if isinstance(caps, dict) and caps.get("supports_tools") is False:
            self._warn(f"its chat template for {model!r} cannot take tools (GET /props)")

    def after_turn(self, request: dict[str, Any], prompt_tokens: int | None, called: bool) -> None:
        """Compares the prompt the server counted with what was sent: dropped tools show as a
        prompt about as long as the messages alone."""
        tools = request.get("tools")
        if self.warned or called or prompt_tokens is None or not tools:
            return
        # About four characters a token; the estimates only need to be roughly right, since
        # the tools are most of the request whenever this check runs.
        sent = sum(len(str(m.get("content") or "")) for m in request["messages"]) / 4
        offered = len(json.dumps(tools)) / 4
        if offered < 200 or sent > 4 * offered:
            return  # tools too small a share of the prompt to tell
        if prompt_tokens < sent + 0.3 * offered:
            self._warn(
                f"it counted {prompt_tokens} prompt tokens for a request of about "
                f"{round(sent + offered)} with tools"
            )

    def _warn(self, why: str) -> None:
        self.warned = True
        log.warning(
            "the %s model's server seems to drop the tools it is sent (%s): answers come from "
            "the prompt's summary alone. Serve a model and chat template with tool support "
            "(llama-server --jinja, an Ollama model tagged 'tools')",
            self.provider,
            why,
        )
