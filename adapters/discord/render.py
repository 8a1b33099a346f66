"""Answer text shaped for Discord: 2000-character messages, intact code blocks, no pings."""

from __future__ import annotations

import re

from core.models import ToolStep

MESSAGE_LIMIT = 2000
_CLOSE_FENCE = "\n```"
_FENCE = re.compile(r" {0,3}(```+|~~~+)")  # used with .match(text, pos): anchored there
# <@id>, <@!id>, <@&role> and @everyone/@here: a zero-width space keeps them from rendering as
# mentions at all, as a second guard behind allowed_mentions=none.
_MENTION = re.compile(r"@(everyone|here|[!&]?[0-9]{15,21}>)")


def neutralise_mentions(text: str) -> str:
    """Text that can't render as a ping, whatever the model or a user put in it."""
    return _MENTION.sub("@\u200b\\1", text)


def tool_line(step: ToolStep) -> str:
    """One short, quiet line for a tool the model called (Discord's `-#` subtext)."""
    mark = "⚠" if step.is_error else "›"
    return f"-# {mark} {step.summary}"


def _open_fence_at(text: str, end: int) -> str | None:
    """The fence line that is still open at `end`, or None when `end` is outside code."""
    opener: str | None = None
    pos = 0
    while pos < end:
        newline = text.find("\n", pos)
        line_end = len(text) if newline == -1 else newline
        if line_end > end:
            break  # a line cut in two does not open or close a block yet
        match = _FENCE.match(text, pos, line_end)
        if match:
            if opener is None:
                opener = text[pos:line_end].strip()
            elif match.group(1)[0] == opener[0] and not text[match.end() : line_end].strip():
                opener = None
        pos = line_end + 1
    return opener


def _cut(text: str, budget: int) -> tuple[int, str | None]:
    """Where to end the next chunk, and the fence open there (to close and reopen)."""
    window = text[: budget + 1]  # a break right after the budget still fits
    # Clean breaks only in the window's second half, so that no message is left a sliver.
    tries = (("\n\n", False, budget // 2), ("\n", False, budget // 2))
    tries += (("\n", True, budget // 4), (" ", True, budget // 4))
    for sep, in_code_ok, floor in tries:
        pos = window.rfind(sep, floor, budget + 1)
        while pos > floor:
            fence = _open_fence_at(text, pos)
            if fence is None or in_code_ok:
                return pos, fence
            pos = window.rfind(sep, floor, pos)
    return budget, _open_fence_at(text, budget)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Splits `text` into messages of at most `limit` characters.

    Cuts prefer a paragraph break, then a line break outside code, then a line break inside a
    code block (which is closed and reopened with its language), then a space; a word is cut
    only when one is longer than a whole message.
    """
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        cut, fence = _cut(text, limit - len(_CLOSE_FENCE))
        head, rest = text[:cut].rstrip(), text[cut:]
        if fence is None:
            rest = rest.lstrip()
        else:
            head += _CLOSE_FENCE
            # A freakishly long info string would eat the next message; drop it then.
            opener = fence if len(fence) <= limit // 8 else fence[:3]
            rest = opener + "\n" + rest.lstrip("\n")
        chunks.append(head)
        text = rest
    if text:
        chunks.append(text)
    return chunks
