"""An answer streamed into Discord messages by editing them, about once a second at most.

What the messages say comes from the core's `ReplyDraft`; this module only sends and edits.
Discord allows roughly five edits per five seconds per channel; editing on every token would
trip 429s. Changes are coalesced and shown by one background flusher, which waits `interval`
after each edit finishes (the final one included), so a rate-limited edit (discord.py sleeps
out `retry_after` before retrying) pushes the next one back instead of queueing more behind it.

While the answer is written its last message carries a Stop button; the finished answer carries
its feedback buttons instead. Messages are cards (see cards.py) unless Discord refused one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from adapters.discord.cards import Buttons, Layout, edited_message, new_message, text_limit
from adapters.discord.render import messages, tool_line
from adapters.discord.views import StopButton
from core.replies import ReplyDraft

log = logging.getLogger(__name__)

RECENT_STEPS = 3  # tool steps are shown briefly: only the latest few, and not in the final text


class MessageStream:
    """The messages of one answer in one channel, thread or DM."""

    def __init__(
        self,
        place: Any,
        draft: ReplyDraft,
        *,
        interval: float = 1.0,
        layout: Layout | None = None,
        stop_key: str | None = None,
    ) -> None:
        self._place = place  # a Messageable, or anything with its `send` (private replies)
        self._draft = draft
        self._interval = interval
        self._layout = layout or Layout(cards=False)
        self._cards = self._layout.cards  # one answer's messages all look alike
        self._stop_key = stop_key
        self._messages: list[Any] = []
        self._shown: list[tuple[str, str]] = []  # per message: its text, and its buttons' tag
        self._changed = asyncio.Event()
        self._closing = False
        self._next_at = 0.0
        self._flusher: asyncio.Task[None] | None = None

    def changed(self) -> None:
        """The draft has new text or steps: show them when Discord's pace allows."""
        self._changed.set()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop())

    async def finish(
        self, buttons: Buttons | None = None, tag: str = "", *, at_once: bool = False
    ) -> None:
        """Shows the draft's whole text, without tool steps, with `buttons` (told apart from
        others by `tag`) under it. `at_once` skips the pacing wait: a person pressed Stop and
        is watching for it, and one early edit is within Discord's burst allowance."""
        if self._flusher is not None:
            self._closing = True
            self._changed.set()
            await self._flusher  # lets an edit under way land, so no message is orphaned
        if not at_once:
            await self._wait_turn()
        await self._show(self._draft.text, buttons or [], tag)

    async def close(self) -> None:
        """Stops the flusher without a final edit (the answer was abandoned)."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)

    def _in_progress(self) -> str:
        steps = "\n".join(tool_line(step) for step in self._draft.steps[-RECENT_STEPS:])
        return "\n\n".join(p for p in (self._draft.text.strip(), steps) if p)

    def _stop_buttons(self) -> tuple[Buttons, str]:
        if self._stop_key is None:
            return [], ""
        return [StopButton(self._stop_key)], "stop"

    async def _flush_loop(self) -> None:
        while True:
            await self._changed.wait()
            if self._closing:
                return
            await self._wait_turn()
            if self._closing:
                return
            self._changed.clear()
            try:
                await self._show(self._in_progress(), *self._stop_buttons())
            except discord.HTTPException as exc:
                # A draft that fails to show is not worth the answer; the final edit retries.
                log.warning("could not update a streamed answer: %s", exc)

    async def _wait_turn(self) -> None:
        delay = self._next_at - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _show(self, text: str, buttons: Buttons, tag: str) -> None:
        try:
            await self._draw(text, buttons, tag)
        except discord.HTTPException as exc:
            # Only the first message can fall back: a card already shown stays a card.
            if not self._cards or self._messages or not self._layout.refused(exc):
                raise
            self._cards = False
            await self._draw(text, buttons, tag)

    async def _draw(self, text: str, buttons: Buttons, tag: str) -> None:
        chunks = messages(text, text_limit(self._cards))
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            mine, wanted = (buttons, (chunk, tag)) if last else ([], (chunk, ""))
            if i >= len(self._messages):
                sent = await self._call(self._place.send, **new_message(self._cards, chunk, mine))
                self._messages.append(sent)
                self._shown.append(wanted)
            elif self._shown[i] != wanted:
                edit = self._messages[i].edit
                self._messages[i] = await self._call(
                    edit, **edited_message(self._cards, chunk, mine)
                )
                self._shown[i] = wanted
        while len(self._messages) > len(chunks):  # the tool steps made one message more
            await self._call(self._messages.pop().delete)
            self._shown.pop()
        self._next_at = asyncio.get_running_loop().time() + self._interval

    @staticmethod
    async def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
        # discord.py sleeps out short 429s itself; past max_ratelimit_timeout it raises
        # RateLimited instead, and the wait it names is honoured here.
        while True:
            try:
                return await method(*args, **kwargs)
            except discord.RateLimited as exc:
                log.info("rate limited by Discord; retrying in %.1f s", exc.retry_after)
                await asyncio.sleep(exc.retry_after)
