"""One answer, from the core's stream to the screen, and Ctrl-C stopping it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import TextIO

from adapters.console.screen import Screen, screen_for
from adapters.console.terminal import CtrlC
from core.models import ErrorReply, Inbound, Outcome, ReplyEvent
from core.ports import AssistantPort
from core.replies import Change, ReplyDraft, fold

# How long a stopped answer may take to end by itself (the core stops the model call at once;
# a step still waiting on the database ends when it returns) before it is cut off here.
STOP_GRACE_S = 3.0
STOPPED = "Stopped."


class AnswerWriter:
    """Feeds the core's events to a reply draft and shows each change on a screen."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.draft = ReplyDraft()

    async def write(self, events: AsyncGenerator[ReplyEvent, None]) -> ReplyDraft:
        # Closed however it ends (a cancel included), so the core writes the question's row
        # while the store is open.
        async with contextlib.aclosing(events) as stream:
            await fold(stream, self.draft, self._show)
        return self.draft

    def cut_short(self) -> None:
        """Ends an answer the core did not end itself: what was shown stays, "Stopped." below."""
        if not self.draft.done:
            self.draft.add(ErrorReply(STOPPED, Outcome.CANCELLED, "stopped"))
            self.screen.answer(self.draft.text, True)

    async def _show(self, draft: ReplyDraft, change: Change) -> None:
        if change is Change.STATUS:
            self.screen.status(draft.status)
        elif change is Change.STEP:
            self.screen.step(draft.steps[-1].summary)
        else:
            self.screen.answer(draft.text, draft.done)


async def answer(
    service: AssistantPort, inbound: Inbound, out: TextIO, notes: TextIO
) -> ReplyDraft:
    """Streams one answer to `out` (tool steps to `notes`); the draft as it ended."""
    return await AnswerWriter(screen_for(out, notes)).write(service.answer(inbound))


async def answer_stoppably(
    service: AssistantPort, inbound: Inbound, screen: Screen, ctrl_c: CtrlC
) -> ReplyDraft:
    """One answer that Ctrl-C stops: the first press asks the core to stop it (its row says
    `cancelled`, and what it spent); if it has not ended within STOP_GRACE_S, or at a second
    press, it is cut off here, and closing its stream records it as interrupted."""
    writer = AnswerWriter(screen)
    task = asyncio.create_task(writer.write(service.answer(inbound)))
    stopping: list[asyncio.Task[None]] = []

    async def stop() -> None:
        with contextlib.suppress(Exception):
            if await service.stop(inbound.conversation_key, inbound.identity):
                await asyncio.wait({task}, timeout=STOP_GRACE_S)
        task.cancel()  # a no-op once the core has ended the answer

    def pressed() -> None:
        if stopping:
            task.cancel()
        else:
            stopping.append(asyncio.create_task(stop()))

    try:
        with ctrl_c.doing(pressed):
            await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # the console itself is being cancelled, not just this answer
        writer.cut_short()
    finally:
        for helper in stopping:
            helper.cancel()
    return writer.draft
