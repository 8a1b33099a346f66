"""`console` and `ask`: the terminal as one person's chat with the assistant.

Typed at a terminal, the console prompts, edits lines with readline and renders Markdown;
piped, it reads line by line and prints the core's plain text after each question, echoed.
The same words work either way: questions go to the core; `help`, `prompts`, `usage`, `exit`
and `quit` are answered here (commands.py).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import TextIO

from adapters.console.answers import answer_stoppably
from adapters.console.commands import Command, parse_command, run_command
from adapters.console.exits import ANSWERED, INTERRUPTED, exit_code
from adapters.console.screen import RichScreen, Screen, screen_for
from adapters.console.terminal import CtrlC, PipedInput, TerminalInput
from core.models import Inbound, Outcome
from core.ports import AssistantPort

PROMPT = "› "
# readline counts the prompt's width to redraw the line; \001 and \002 hide escapes from it.
COLOUR_PROMPT = "\001\x1b[1;36m\002›\001\x1b[0m\002 "
GREETING = (
    "StackDock assistant, asking as `{identity}`. Ask a question in plain words; "
    "`help` lists what works here, `exit` or Ctrl-D leaves."
)


class _Left:
    """Ctrl-C at the prompt."""


LEFT = _Left()


def _inbound(identity: str, text: str, conversation_key: str) -> Inbound:
    return Inbound(
        identity=identity,
        text=text,
        platform="console",
        is_dm=True,  # the terminal is one person's: nothing is shown to anyone else
        conversation_key=conversation_key,
    )


async def ask(
    service: AssistantPort,
    identity: str,
    question: str,
    out: TextIO | None = None,
    notes: TextIO | None = None,
) -> int:
    """One answer to stdout; the exit code says how it ended (exits.py)."""
    screen = screen_for(out or sys.stdout, notes or sys.stderr)
    inbound = _inbound(identity, question, f"ask:{uuid.uuid4()}")
    with CtrlC() as ctrl_c:
        draft = await answer_stoppably(service, inbound, screen, ctrl_c)
    return exit_code(draft)


async def console(
    service: AssistantPort,
    identity: str,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    notes: TextIO | None = None,
) -> int:
    """Chats until EOF, `exit` or Ctrl-C at the prompt; the exit code of the last question."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    screen = screen_for(out, notes or sys.stderr)
    # input() reads sys.stdin and draws on sys.stdout: only they get the terminal treatment.
    typed = stdin is sys.stdin and out is sys.stdout and stdin.isatty() and out.isatty()
    session = Session(service, identity, screen, typed)
    if typed:
        colour = isinstance(screen, RichScreen) and screen.colour
        source: TerminalInput | PipedInput = TerminalInput(
            stdin, COLOUR_PROMPT if colour else PROMPT
        )
    else:
        source = PipedInput(stdin)
    try:
        with CtrlC() as ctrl_c:
            return await session.run(source, ctrl_c)
    finally:
        source.close()


class Session:
    def __init__(self, service: AssistantPort, identity: str, screen: Screen, typed: bool):
        self.service = service
        self.identity = identity
        self.screen = screen
        self.typed = typed
        self.key = f"console:{identity}:{uuid.uuid4()}"  # one conversation: follow-ups carry

    async def run(self, source: TerminalInput | PipedInput, ctrl_c: CtrlC) -> int:
        if self.typed:
            self.screen.say(GREETING.format(identity=self.identity))
        code = ANSWERED
        while True:
            line = await self._next_line(source, ctrl_c)
            if line is None or isinstance(line, _Left):
                if self.typed:
                    self.screen.gap()  # the shell's prompt starts on a line of its own
                return INTERRUPTED if isinstance(line, _Left) else code
            question = line.strip()
            if not question:
                continue
            if not self.typed:
                self.screen.echo(question)
            command = parse_command(question)
            if command is not None and command.name == "exit":
                return code
            inbound = _inbound(self.identity, question, self.key)
            if command is not None:
                stopped = not await self._command(command, inbound, ctrl_c)
            else:
                draft = await answer_stoppably(self.service, inbound, self.screen, ctrl_c)
                code = exit_code(draft)
                stopped = draft.outcome is Outcome.CANCELLED
            if stopped and not self.typed:
                return INTERRUPTED  # Ctrl-C on a script's run stops the run
            self.screen.gap()

    async def _next_line(
        self, source: TerminalInput | PipedInput, ctrl_c: CtrlC
    ) -> str | _Left | None:
        reading = source.read()
        left: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        def leave() -> None:
            if not left.done():
                left.set_result(None)

        with ctrl_c.doing(leave):
            await asyncio.wait([reading, left], return_when=asyncio.FIRST_COMPLETED)
        if left.done():
            reading.cancel()  # the thread's line, if one still comes, is dropped
            return LEFT
        return reading.result()

    async def _command(self, command: Command, inbound: Inbound, ctrl_c: CtrlC) -> bool:
        """Runs one of the console's own commands; False when Ctrl-C cut it short."""
        task = asyncio.create_task(run_command(command, self.service, inbound))

        def cancel() -> None:
            task.cancel()

        with ctrl_c.doing(cancel):
            try:
                text = await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                return False
        self.screen.say(text)
        return True
