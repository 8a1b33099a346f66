"""Fitting a conversation into a model's context window, oldest history dropped first.

Token counts are estimated (about four characters per token), never computed with a real
tokenizer: that would mean a download per model family, and the reserve left for the answer and
tool results absorbs the estimate's error.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from genai_prices.data_snapshot import get_snapshot

from core.models import ChatMessage, ToolSpec

# When genai-prices does not know a model; first matching prefix wins.
_FAMILY_WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-5", 400_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("claude", 200_000),
    ("llama3", 8_192),
    ("mistral", 32_000),
    ("qwen", 32_000),
)
# Small on purpose: an unknown model is most likely a local server with a short window, and
# overrunning a window is an error where a short history is merely less helpful.
DEFAULT_WINDOW = 8_192

_MESSAGE_OVERHEAD = 4  # role markers and separators the chat formats add per message


@functools.lru_cache(maxsize=256)
def context_window(model: str) -> int:
    """How many input tokens `model` accepts (kept per name: the bundled prices never change
    while the process runs, and a lookup costs tens of microseconds)."""
    try:
        _provider, info = get_snapshot().find_provider_model(model, None, None, None)
    except LookupError:
        info = None
    if info is not None and info.context_window:
        return info.context_window
    name = model.lower().rsplit("/", 1)[-1]
    for prefix, window in _FAMILY_WINDOWS:
        if name.startswith(prefix):
            return window
    return DEFAULT_WINDOW


def estimate_tokens(text: str) -> int:
    """A cheap over-estimate of the tokens in `text`."""
    return math.ceil(len(text) / 4)


def message_tokens(message: ChatMessage) -> int:
    """Estimated tokens of one message, tool calls included."""
    # estimate_tokens inlined (-(-n // 4) is ceil(n / 4)): every history message passes here.
    total = -(-len(message.content) // 4) + _MESSAGE_OVERHEAD
    for call in message.tool_calls:
        total += -(-len(call.name) // 4) - (-_json_chars(call.arguments) // 4)
    return total


def _json_chars(arguments: Mapping[str, Any]) -> int:
    """len(json.dumps(dict(arguments))), counted without encoding when every key is a plain
    string and every value a plain string or an int, as a tool call's arguments are."""
    chars = 2 * len(arguments) if arguments else 2  # braces, and ", " between items
    for key, value in arguments.items():
        if type(key) is not str or not _plain(key):
            return len(json.dumps(dict(arguments)))
        if type(value) is str and _plain(value):
            chars += len(key) + len(value) + 6  # two pairs of quotes and ": "
        elif type(value) is int:
            chars += len(key) + len(int.__repr__(value)) + 4
        else:
            return len(json.dumps(dict(arguments)))
    return chars


def _plain(text: str) -> bool:
    """JSON writes it as it is, in quotes: printable ASCII without a quote or a backslash."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def reserve_tokens(window_tokens: int, max_answer_tokens: int, tools: Sequence[ToolSpec]) -> int:
    """What a turn needs besides the system prompt and the conversation: the tool definitions,
    sent with every turn, and room for the answer. In a small window (a local server's 2,048,
    say) the answer's room is cut to a quarter of it, so some history still fits."""
    return _definition_tokens(tools) + min(max_answer_tokens, window_tokens // 4)


# Tool definitions by the identity of the tuple holding them (`tool_specs` hands out the same
# one every time), with the tuple itself, so an id reused after it is freed never matches.
_DEFINITIONS: dict[int, tuple[Sequence[ToolSpec], int]] = {}


def _definition_tokens(tools: Sequence[ToolSpec]) -> int:
    hit = _DEFINITIONS.get(id(tools))
    if hit is not None and hit[0] is tools:
        return hit[1]
    tokens = sum(
        estimate_tokens(spec.name + spec.description + json.dumps(dict(spec.parameters)))
        for spec in tools
    )
    if isinstance(tools, tuple):  # a list could change under the same id
        if len(_DEFINITIONS) >= 64:
            _DEFINITIONS.clear()
        _DEFINITIONS[id(tools)] = (tools, tokens)
    return tokens


def fit_history(
    system: str,
    history: Sequence[ChatMessage],
    question: ChatMessage,
    *,
    window_tokens: int,
    reserve_tokens: int,
) -> list[ChatMessage]:
    """The newest part of `history` that fits, followed by `question`.

    An assistant message that asked for tools and the tool results answering it are kept or
    dropped together, so no provider ever sees a tool result without the call it answers.
    The question is always kept, even when it alone is too long for the budget.
    """
    budget = window_tokens - reserve_tokens - estimate_tokens(system) - message_tokens(question)
    kept: list[list[ChatMessage]] = []
    for group in reversed(_groups(history)):
        cost = 0
        for message in group:
            cost += message_tokens(message)
        if cost > budget:
            break
        budget -= cost
        kept.append(group)
    kept.reverse()
    # Some providers reject a conversation that opens with the assistant.
    while kept and kept[0][0].role != "user":
        kept.pop(0)
    return [*(message for group in kept for message in group), question]


def _groups(history: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """Messages in droppable units: a tool-calling assistant message with its results."""
    groups: list[list[ChatMessage]] = []
    for message in history:
        if message.role == "tool":
            if groups and groups[-1][0].tool_calls:
                groups[-1].append(message)
            # A result whose call was already cut off (by the history limit) is dropped here.
            continue
        groups.append([message])
    return [group for group in groups if not group[0].tool_calls or _complete(group)]


def _complete(group: list[ChatMessage]) -> bool:
    """False for a tool call whose results never got stored: providers reject it."""
    asked = {call.id for call in group[0].tool_calls}
    answered = {m.tool_call_id for m in group[1:]}
    return asked <= answered
