"""The terminal as a chat platform: `console` reads questions line by line, `ask` answers one."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from typing import TextIO

from core.models import Inbound, Outcome
from core.ports import AssistantPort
from core.replies import Change, ReplyDraft, fold

EXIT_CODES = {
    Outcome.ANSWERED: 0,
    Outcome.DENIED: 3,
    Outcome.RATE_LIMITED: 4,
    Outcome.OVER_BUDGET: 4,
    Outcome.FAILED: 5,
}


async def answer(
    service: AssistantPort,
    inbound: Inbound,
    out: TextIO,
    notes: TextIO,
) -> Outcome:
    """Streams one answer to `out`; tool steps go to `notes` so piped output stays the answer."""
    shown = ""  # what of the draft's text is already on `out`

    async def show(draft: ReplyDraft, change: Change) -> None:
        nonlocal shown
        if change is Change.STEP:
            notes.write(f"  › {draft.steps[-1].summary}\n")
            notes.flush()
            return
        if change not in (Change.TEXT, Change.END):
            return
        text = draft.text
        # A terminal can't take back what it printed: write only what follows the part the
        # draft kept (an error after partial text keeps the text and adds below it).
        kept = len(shown) if text.startswith(shown) else len(shown.rstrip())
        out.write(text[kept:] + ("\n" if draft.done else ""))
        out.flush()
        shown = text

    # Closed however it ends, so the core writes the question's row while the store is open.
    async with contextlib.aclosing(service.answer(inbound)) as events:
        draft = await fold(events, ReplyDraft(), show)
    return draft.outcome


async def ask(service: AssistantPort, identity: str, question: str) -> int:
    inbound = Inbound(
        identity=identity,
        text=question,
        platform="console",
        is_dm=True,  # the terminal is one person's: nothing is shown to anyone else
        conversation_key=f"ask:{uuid.uuid4()}",
    )
    return EXIT_CODES[await answer(service, inbound, sys.stdout, sys.stderr)]


async def console(
    service: AssistantPort, identity: str, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> int:
    """Chats until EOF; works the same typed or piped. Exit code of the last question."""
    interactive = stdin.isatty()
    session = f"console:{identity}:{uuid.uuid4()}"
    if interactive:
        out.write("StackDock assistant. Ask a question; Ctrl-D to leave.\n")
    last = Outcome.ANSWERED
    while True:
        if interactive:
            out.write("› ")
            out.flush()
        line = await asyncio.to_thread(stdin.readline)  # keeps the loop free while we wait
        if not line:
            break
        question = line.strip()
        if not question:
            continue
        if not interactive:
            out.write(f"» {question}\n")
        inbound = Inbound(
            identity=identity,
            text=question,
            platform="console",
            is_dm=True,
            conversation_key=session,
        )
        last = await answer(service, inbound, out, sys.stderr)
        out.write("\n")
    return EXIT_CODES[last]
