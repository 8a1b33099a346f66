"""One question answered in Discord: typing while the core works, then a streamed answer.

The core's events are folded into a `ReplyDraft`, which says when the core has decided and
whether it refused. Where the answer goes is chosen only then: a refusal never opens a thread,
and a caller can show it somewhere private (an ephemeral reply).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import discord

from adapters.discord.cards import Layout
from adapters.discord.stream import MessageStream
from adapters.discord.views import feedback_buttons, stoppable
from core.metrics import ACK_SECONDS
from core.models import Inbound, Outcome, ReplyEvent
from core.ports import AssistantPort
from core.replies import ReplyDraft

log = logging.getLogger(__name__)

TYPING_EVERY_S = 8.0  # Discord shows "typing…" for ten seconds per request

# Where an answer is written: a channel, thread or DM, or a person's private replies (anything
# with a Messageable's `send` and `typing`).
OpenPlace = Callable[[], Awaitable[Any]]
Refuse = Callable[[str], Awaitable[None]]


class Unfinished(RuntimeError):
    """The core's stream ended without a Final or an ErrorReply (a bug, not an outcome)."""


@contextlib.asynccontextmanager
async def keep_typing(channel: Any) -> AsyncIterator[None]:
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


async def _until_decided(events: AsyncIterator[ReplyEvent], draft: ReplyDraft) -> None:
    while not draft.decided:
        event = await anext(events, None)
        if event is None:
            raise Unfinished("the core ended its answer before deciding")
        draft.add(event)


async def answer(
    service: AssistantPort,
    inbound: Inbound,
    *,
    typing_in: Any,
    open_place: OpenPlace,
    refuse: Refuse,
    interval: float = 1.0,
    layout: Layout | None = None,
) -> Outcome:
    """Runs one question through the core and shows the outcome; returns how it ended.

    While it is written the answer offers Stop, for the conversation the question names."""
    events = service.answer(inbound)
    draft = ReplyDraft()
    try:
        async with keep_typing(typing_in):
            await _until_decided(events, draft)
        if draft.refused:
            await refuse(draft.text)
            return draft.outcome
        place = await open_place()
        stream = MessageStream(
            place,
            draft,
            interval=interval,
            layout=layout,
            stop_key=inbound.conversation_key if stoppable(inbound.conversation_key) else None,
        )
        async with keep_typing(place):
            await _stream(stream, draft, events)
        return draft.outcome
    finally:
        if isinstance(events, AsyncGenerator):
            await events.aclose()  # the core owes an audit row even if we stop early


async def _stream(
    stream: MessageStream, draft: ReplyDraft, events: AsyncIterator[ReplyEvent]
) -> None:
    try:
        while not draft.done:
            stream.changed()
            event = await anext(events, None)
            if event is None:
                raise Unfinished("the core ended its answer without a final event")
            draft.add(event)
        audit_id = draft.audit_id if draft.rateable else None
        if audit_id is not None:
            await stream.finish(feedback_buttons(audit_id), f"feedback:{audit_id}")
        else:
            await stream.finish(at_once=draft.outcome == Outcome.CANCELLED)
    finally:
        await stream.close()
