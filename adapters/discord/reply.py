"""One question answered in Discord: typing while the core works, then a streamed answer.

Where the answer goes is decided only once the core has either refused or started answering:
a refusal never opens a thread, and a caller can show it somewhere private (an ephemeral reply).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import discord

from adapters.discord.stream import MessageStream
from adapters.discord.views import feedback_view
from core.assistant import Assistant
from core.metrics import ACK_SECONDS
from core.models import ErrorReply, Final, Inbound, Outcome, ReplyEvent, Status, TextDelta, ToolStep

log = logging.getLogger(__name__)

TYPING_EVERY_S = 8.0  # Discord shows "typing…" for ten seconds per request

OpenPlace = Callable[[], Awaitable[discord.abc.Messageable]]
Refuse = Callable[[ErrorReply], Awaitable[None]]


@contextlib.asynccontextmanager
async def keep_typing(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """Keeps the typing indicator on; a failed typing call never costs the answer."""

    async def every_few_seconds() -> None:
        while True:
            try:
                await channel.typing()  # awaited, not entered: one indicator, no task of its own
            except discord.HTTPException as exc:
                log.debug("typing indicator failed: %s", exc)
            await asyncio.sleep(TYPING_EVERY_S)

    task = asyncio.create_task(every_few_seconds())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def acknowledge(interaction: discord.Interaction, *, private: bool) -> None:
    """Defers at once ("thinking…"), inside Discord's three seconds, and times it."""
    started = time.perf_counter()
    await interaction.response.defer(ephemeral=private, thinking=True)
    ACK_SECONDS.labels(platform="discord").observe(time.perf_counter() - started)


async def _first_decisive(events: AsyncIterator[ReplyEvent]) -> ReplyEvent | None:
    """The first event that says whether the core is answering (statuses are only progress)."""
    async for event in events:
        if not isinstance(event, Status):
            return event
    return None


async def answer(
    assistant: Assistant,
    inbound: Inbound,
    *,
    typing_in: discord.abc.Messageable,
    open_place: OpenPlace,
    refuse: Refuse,
    interval: float = 1.0,
) -> Outcome:
    """Runs one question through the core and shows the outcome; returns how it ended."""
    events = assistant.handle(inbound)
    try:
        async with keep_typing(typing_in):
            first = await _first_decisive(events)
        if isinstance(first, ErrorReply):
            await refuse(first)
            outcome = first.outcome
        elif first is None:
            raise RuntimeError("the assistant ended without a final event")
        else:
            place = await open_place()
            async with keep_typing(place):
                outcome = await _stream(place, first, events, interval)
    finally:
        await events.aclose()  # the core owes an audit row even if we stop early
    return outcome


async def _stream(
    place: discord.abc.Messageable,
    first: ReplyEvent,
    events: AsyncIterator[ReplyEvent],
    interval: float,
) -> Outcome:
    stream = MessageStream(place, interval=interval)
    pending: ReplyEvent | None = first
    try:
        while pending is not None:
            event, pending = pending, None
            if isinstance(event, TextDelta | ToolStep):
                stream.add(event)
            elif isinstance(event, Final):
                view = feedback_view(event.audit_id) if event.audit_id is not None else None
                await stream.finish(event.text, view)
                return event.outcome
            elif isinstance(event, ErrorReply):
                # A failure after the answer began: the partial text is replaced, not trusted.
                await stream.finish(event.text)
                return event.outcome
            pending = await anext(events, None)
    finally:
        await stream.close()
    raise RuntimeError("the assistant ended without a final event")
