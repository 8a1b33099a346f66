"""Answer text shaped for Discord: messages within a limit, intact code blocks, no pings."""

from __future__ import annotations

import re

from core.models import ToolStep
from core.replies import split_text

MESSAGE_LIMIT = 2000
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


def messages(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` as the Discord messages that show it: no pings, each within `limit` (plain
    content's 2,000, or a card's 4,000), never none.

    Mentions are neutralised before splitting, so the characters that adds are counted.
    """
    return split_text(neutralise_mentions(text), limit) or ["…"]
