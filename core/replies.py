"""One reply model for every platform: the core's reply events folded into what a person sees.

A chat writer (Slack, Discord, the console) feeds each `ReplyEvent` to a `ReplyDraft` and then
only sends or edits messages to match it. The draft owns the decisions that must not differ
between platforms:

- whether the core has decided yet (statuses are only progress), and whether the outcome is a
  refusal, which opens no thread and can be shown privately;
- what the answer's text is: the streamed text, or the final text when nothing streamed;
- the "error after partial text" policy: what was already shown stays (the person has read it,
  and it was scrubbed like any answer), and the failure is said below it, so an answer cut
  short never passes for a whole one;
- when a refresh of a streamed message is due, so that edits respect each platform's limits.

`split_text` is the one splitter for every platform's length limit: it never breaks a code
fence (a block cut in two is closed and reopened with its language).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

from core.models import ErrorReply, Final, Outcome, ReplyEvent, Status, TextDelta, ToolStep

CUT_SHORT_JOIN = "\n\n"


class Change(Enum):
    """What an event changed in the draft, so a writer knows what to redraw."""

    STATUS = "status"
    STEP = "step"
    TEXT = "text"
    END = "end"


@dataclass(slots=True)
class ReplyDraft:
    """The reply as it stands: status, tool steps, text so far, and how it ended."""

    refresh_every_s: float = 1.0
    status: str = "Thinking…"
    steps: list[ToolStep] = field(default_factory=list)
    streamed: str = ""
    end: Final | ErrorReply | None = None
    _last_refresh: float = float("-inf")

    def add(self, event: ReplyEvent) -> Change:
        if isinstance(event, Status):
            self.status = event.text
            return Change.STATUS
        if isinstance(event, ToolStep):
            self.steps.append(event)
            return Change.STEP
        if isinstance(event, TextDelta):
            self.streamed += event.text
            return Change.TEXT
        self.end = event
        return Change.END

    # ---- what the core decided ----

    @property
    def decided(self) -> bool:
        """The core is answering or has refused: anything but a status has arrived."""
        return bool(self.end or self.steps or self.streamed)

    @property
    def refused(self) -> bool:
        """Ended before any of the answer was shown: no thread needs opening for it."""
        return isinstance(self.end, ErrorReply) and not self.steps and not self.streamed

    @property
    def done(self) -> bool:
        return self.end is not None

    @property
    def outcome(self) -> Outcome:
        return self.end.outcome if self.end is not None else Outcome.FAILED

    @property
    def audit_id(self) -> int | None:
        return self.end.audit_id if self.end is not None else None

    @property
    def rateable(self) -> bool:
        """A finished answer with an audit row can carry feedback buttons."""
        return isinstance(self.end, Final) and self.end.audit_id is not None

    # ---- what to show ----

    @property
    def text(self) -> str:
        """The answer's text as it should read now (Markdown, as the core wrote it)."""
        if isinstance(self.end, Final):
            return self.streamed or self.end.text
        if isinstance(self.end, ErrorReply):
            shown = self.streamed.rstrip()
            return shown + CUT_SHORT_JOIN + self.end.text if shown else self.end.text
        return self.streamed

    def refresh_due(self, now: float) -> bool:
        """Whether a streamed message should be redrawn now (the end always is)."""
        return self.done or now - self._last_refresh >= self.refresh_every_s

    def refreshed(self, now: float) -> None:
        self._last_refresh = now


async def fold(
    events: AsyncIterator[ReplyEvent],
    draft: ReplyDraft,
    on_change: Callable[[ReplyDraft, Change], Awaitable[None]],
) -> ReplyDraft:
    """Feeds every event to `draft`, calling `on_change` after each; returns the draft."""
    async for event in events:
        await on_change(draft, draft.add(event))
    return draft


# ---- splitting long text ----

_CLOSE_FENCE = "\n```"
_FENCE = re.compile(r" {0,3}(```+|~~~+)")  # used with .match(text, pos): anchored there


def open_fence_at(text: str, end: int | None = None) -> str | None:
    """The fence line still open at `end` (default: the end of `text`), or None outside code.

    Only a fence at the start of a line opens or closes a block, as in CommonMark; a "```"
    in the middle of a sentence is text.
    """
    end = len(text) if end is None else end
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
    tries: tuple[tuple[str, bool, int], ...] = (
        ("\n\n", False, budget // 2),
        ("\n", False, budget // 2),
        ("\n", True, budget // 4),
        (" ", True, budget // 4),
    )
    for sep, in_code_ok, floor in tries:
        pos = window.rfind(sep, floor, budget + 1)
        while pos > floor:
            fence = open_fence_at(text, pos)
            if fence is None or in_code_ok:
                return pos, fence
            pos = window.rfind(sep, floor, pos)
    return budget, open_fence_at(text, budget)


def split_text(text: str, limit: int) -> list[str]:
    """Splits `text` into pieces of at most `limit` characters, each valid Markdown alone.

    Cuts prefer a paragraph break, then a line break outside code, then a line break inside a
    code block (which is closed and reopened with its language), then a space; a word is cut
    only when one is longer than a whole piece.
    """
    if limit <= len(_CLOSE_FENCE) + 8:
        raise ValueError(f"a limit of {limit} characters leaves no room for text")
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        cut, fence = _cut(text, limit - len(_CLOSE_FENCE))
        head, rest = text[:cut].rstrip(), text[cut:]
        if fence is None:
            rest = rest.lstrip()
        else:
            head += _CLOSE_FENCE
            # A freakishly long info string would eat the next piece; drop it then.
            opener = fence if len(fence) <= limit // 8 else fence[:3]
            rest = opener + "\n" + rest.lstrip("\n")
        chunks.append(head)
        text = rest
    if text:
        chunks.append(text)
    return chunks
