"""An answer streamed into Discord messages by editing them, about once a second at most.

What the messages say comes from the core's `ReplyDraft`; this module only sends and edits.
Discord allows roughly five edits per five seconds per channel; editing on every token would
trip 429s. Changes are coalesced and shown by one background flusher, which waits `interval`
after each edit finishes (the final one included), so a rate-limited edit (discord.py sleeps
out `retry_after` before retrying) pushes the next one back instead of queueing more behind it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from adapters.discord.render import messages, tool_line
from core.replies import ReplyDraft

log = logging.getLogger(__name__)

RECENT_STEPS = 3  # tool steps are shown briefly: only the latest few, and not in the final text


class MessageStream:
    """The messages of one answer in one channel, thread or DM."""

    def __init__(
        self, place: discord.abc.Messageable, draft: ReplyDraft, *, interval: float = 1.0
    ) -> None:
        self._place = place
        self._draft = draft
        self._interval = interval
        self._messages: list[discord.Message] = []
        self._shown: list[str] = []
        self._changed = asyncio.Event()
        self._closing = False
        self._next_at = 0.0
        self._flusher: asyncio.Task[None] | None = None

    def changed(self) -> None:
        """The draft has new text or steps: show them when Discord's pace allows."""
        self._changed.set()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop())

    async def finish(self, view: discord.ui.View | None = None) -> None:
        """Shows the draft's whole text, without tool steps, with `view` under its last message."""
        if self._flusher is not None:
            self._closing = True
            self._changed.set()
            await self._flusher  # lets an edit under way land, so no message is orphaned
        await self._wait_turn()
        await self._show(messages(self._draft.text), view)

    async def close(self) -> None:
        """Stops the flusher without a final edit (the answer was abandoned)."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)

    def _in_progress(self) -> list[str]:
        steps = "\n".join(tool_line(step) for step in self._draft.steps[-RECENT_STEPS:])
        return messages("\n\n".join(p for p in (self._draft.text.strip(), steps) if p))

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
                await self._show(self._in_progress())
            except discord.HTTPException as exc:
                # A draft that fails to show is not worth the answer; the final edit retries.
                log.warning("could not update a streamed answer: %s", exc)

    async def _wait_turn(self) -> None:
        delay = self._next_at - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _show(self, chunks: list[str], view: discord.ui.View | None = None) -> None:
        for i, chunk in enumerate(chunks):
            extra: dict[str, Any] = {"view": view} if view and i == len(chunks) - 1 else {}
            if i >= len(self._messages):
                self._messages.append(await self._call(self._place.send, chunk, **extra))
                self._shown.append(chunk)
            elif self._shown[i] != chunk or extra:
                self._messages[i] = await self._call(self._messages[i].edit, content=chunk, **extra)
                self._shown[i] = chunk
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
