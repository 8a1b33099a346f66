"""The console: the reply draft on a terminal that can't take text back, rendered Markdown on
a TTY and plain text in a pipe, its own words (help, exit), exit codes, and Ctrl-C."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncGenerator, Sequence

import pytest

from adapters.console import answer, console, exit_code
from adapters.console.answers import answer_stoppably
from adapters.console.commands import parse_command
from adapters.console.controls import shown
from adapters.console.screen import PlainScreen, RichScreen
from adapters.console.terminal import CtrlC
from adapters.stackdock.demo import DEMO_USERS
from core.limits import LimitPolicy
from core.models import (
    ErrorReply,
    Final,
    Inbound,
    Outcome,
    ReplyEvent,
    Status,
    TextDelta,
    ToolStep,
)
from core.replies import ReplyDraft

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class ScriptedAnswers:
    """The driving port's `answer` and `stop`, replaying fixed events; records closing."""

    def __init__(self, events: Sequence[ReplyEvent], pause_after: int | None = None) -> None:
        self.events = events
        self.pause_after = pause_after  # wait for a Stop after this many events
        self.closed = False
        self.asked: list[str] = []
        self.stops: list[tuple[str, str]] = []
        self.stop_works = True
        self._stopped = asyncio.Event()
        self.paused = asyncio.Event()  # set once it waits for a Stop, mid-answer

    async def answer(self, inbound: Inbound) -> AsyncGenerator[ReplyEvent, None]:
        self.asked.append(inbound.text)
        try:
            for n, event in enumerate(self.events):
                if n == self.pause_after:
                    self.paused.set()
                    await self._stopped.wait()
                    yield ErrorReply("Stopped.", Outcome.CANCELLED, "stopped", audit_id=7)
                    return
                yield event
        finally:
            self.closed = True

    async def stop(self, conversation_key: str, identity: str) -> bool:
        self.stops.append((conversation_key, identity))
        if self.stop_works:
            self._stopped.set()
        return self.stop_works

    def suggested_prompts(self, topic: str | None = None) -> list[str]:
        return ["How many servers do I have?"]

    def topics(self) -> tuple[str, ...]:
        return ("servers", "domains")


class Terminal(io.StringIO):
    """A StringIO that says it is a terminal, as a TTY's stdout would."""

    def isatty(self) -> bool:
        return True


ASKED = Inbound(identity="u1", text="q", platform="console", is_dm=True, conversation_key="k1")


async def _run(events: Sequence[ReplyEvent]) -> tuple[ReplyDraft, str, str, ScriptedAnswers]:
    port = ScriptedAnswers(events)
    out, notes = io.StringIO(), io.StringIO()
    draft = await answer(port, ASKED, out, notes)  # type: ignore[arg-type]
    return draft, out.getvalue(), notes.getvalue(), port


async def test_streamed_text_is_printed_once_and_steps_go_to_notes():
    draft, out, notes, port = await _run(
        [
            Status("Thinking…"),
            ToolStep("list_resources", {}, "Looked up 3 servers"),
            TextDelta("You have "),
            TextDelta("3 servers."),
            Final("You have 3 servers.", audit_id=1),
        ]
    )
    assert draft.outcome is Outcome.ANSWERED and exit_code(draft) == 0
    assert out == "You have 3 servers.\n"
    # A step is marked apart from the prompt's "›": it reads as the bot's work, not input.
    assert notes == "  ↳ Looked up 3 servers\n"
    assert port.closed


async def test_an_error_after_partial_text_is_said_below_it():
    draft, out, _, _ = await _run(
        [
            TextDelta("You have 3 servers  "),
            ErrorReply("The AI provider failed to answer.", Outcome.FAILED, "provider_server"),
        ]
    )
    assert exit_code(draft) == 5
    assert out == "You have 3 servers  \n\nThe AI provider failed to answer.\n"


async def test_a_final_that_did_not_stream_is_printed_whole():
    draft, out, _, _ = await _run([Final("Nothing streamed.", audit_id=None)])
    assert (draft.outcome, out) == (Outcome.ANSWERED, "Nothing streamed.\n")


@pytest.mark.parametrize(
    ("end", "code"),
    [
        (ErrorReply("Ask me a question", Outcome.DENIED, "empty"), 2),
        (ErrorReply("too long", Outcome.DENIED, "too_long"), 2),
        (ErrorReply("not linked", Outcome.DENIED, "unknown_user"), 3),
        (ErrorReply("wait", Outcome.RATE_LIMITED, "rate_limited", 60.0), 4),
        (ErrorReply("budget", Outcome.OVER_BUDGET, "over_budget"), 4),
        (ErrorReply("provider", Outcome.FAILED, "provider_server"), 5),
        # The bot itself failed (its database is down): not the provider's code.
        (ErrorReply("unavailable", Outcome.FAILED, "internal_error"), 6),
        (ErrorReply("Stopped.", Outcome.CANCELLED, "stopped"), 130),
    ],
)
async def test_exit_codes_tell_the_outcomes_apart(end: ErrorReply, code: int):
    draft, _, _, _ = await _run([end])
    assert exit_code(draft) == code


def test_control_characters_are_never_printed_raw():
    typed = "list \x1b[2J\x1b]0;owned\x07servers\rX\u202egnp.exe\x9b\x7f\ttab\nline"
    safe = shown(typed)
    assert safe == "list ^[[2J^[]0;owned^Gservers^MX<U+202E>gnp.exe<U+009B>^?\ttab\nline"
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", safe)


async def test_the_plain_screen_shows_escapes_from_answers_and_steps_as_text():
    out, notes = io.StringIO(), io.StringIO()
    screen = PlainScreen(out, notes)
    screen.step("Looked up \x1b[31mred\x1b[0m")
    screen.echo("why \x1b[2J")
    screen.answer("Name: \x1b[8mhidden", True)
    assert "\x1b" not in out.getvalue() + notes.getvalue()
    assert out.getvalue() == "» why ^[[2J\nName: ^[[8mhidden\n"


async def test_a_terminal_gets_markdown_rendered_a_block_at_a_time(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    out, notes = Terminal(), Terminal()
    screen = RichScreen(out, notes)
    assert screen.colour
    screen.answer("You have **3** servers:\n\n- `web-1`", False)
    first = out.getvalue()
    # The paragraph is complete (a blank line followed it), the list may still grow.
    assert "servers:" in ANSI.sub("", first) and "web-1" not in first
    screen.answer("You have **3** servers:\n\n- `web-1`\n- web-2 *off*\n\n```\nx = 1\n", False)
    assert "web-1" in out.getvalue() and "x = 1" not in out.getvalue()  # code still open
    screen.answer("You have **3** servers:\n\n- `web-1`\n- web-2 *off*\n\n```\nx = 1\n```", True)
    plain = ANSI.sub("", out.getvalue())
    assert "**" not in plain and "`" not in plain  # Markdown rendered, not shown raw
    assert plain.count("You have 3 servers:") == 1 and plain.count("web-1") == 1
    assert "• web-1" in plain and "x = 1" in plain
    assert "\x1b[1m3\x1b[0m" in out.getvalue()  # bold, in colour on a TTY
    # No padding to the window's width, but for the code block's background.
    text_lines = [ANSI.sub("", line) for line in out.getvalue().splitlines() if "48;" not in line]
    assert all(line == line.rstrip(" ") for line in text_lines)


async def test_no_color_keeps_the_rendering_and_drops_the_colour(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    screen = RichScreen(out, Terminal())
    screen.answer("**Bold** and a list:\n\n- one", True)
    assert not screen.colour
    assert "\x1b[3" not in out.getvalue()  # no colour escapes
    assert "**" not in ANSI.sub("", out.getvalue())


async def test_piped_console_answers_help_and_exit_itself_and_echoes_safely():
    port = ScriptedAnswers([Final("You have 3 servers.", audit_id=1)])
    stdin = io.StringIO("help\nprompts servers\nHow many \x1b[31mservers\n\nexit\nnever asked\n")
    out, notes = io.StringIO(), io.StringIO()
    code = await console(port, "u1", stdin, out, notes)  # type: ignore[arg-type]
    assert code == 0
    assert port.asked == ["How many \x1b[31mservers"]  # help, prompts and exit stay here
    text = out.getvalue()
    assert "» How many ^[[31mservers\nYou have 3 servers.\n" in text
    assert "\x1b" not in text
    assert "`exit` or `quit`" in text and "`prompts [topic]`" in text  # help names them
    assert "- How many servers do I have?" in text  # the prompts
    assert "never asked" not in text


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("exit", "exit"),
        ("QUIT", "exit"),
        ("/help", "help"),
        ("help", "help"),
        ("prompts domains", "prompts"),
        ("usage", "usage"),
        ("help me find failing docks", None),
        ("exit strategy for servers?", None),
        ("How many servers?", None),
    ],
)
def test_only_whole_command_words_are_commands(line: str, command: str | None):
    parsed = parse_command(line)
    assert (parsed.name if parsed else None) == command


async def test_ctrl_c_asks_the_core_to_stop_and_shows_what_it_said():
    port = ScriptedAnswers(
        [TextDelta("You have "), TextDelta("3 servers."), Final("x", audit_id=1)], pause_after=1
    )
    out, notes = io.StringIO(), io.StringIO()
    with CtrlC() as ctrl_c:
        task = asyncio.create_task(
            answer_stoppably(port, ASKED, PlainScreen(out, notes), ctrl_c)  # type: ignore[arg-type]
        )
        await asyncio.wait_for(port.paused.wait(), 5)
        assert out.getvalue() == "You have "
        ctrl_c._pressed()  # what SIGINT does on the loop
        draft = await asyncio.wait_for(task, 5)
    assert port.stops == [("k1", "u1")]  # the asker's own answer, in its conversation
    assert draft.outcome is Outcome.CANCELLED and exit_code(draft) == 130
    assert out.getvalue() == "You have \n\nStopped.\n"
    assert port.closed


async def test_ctrl_c_cuts_the_answer_off_when_the_core_cannot_stop_it():
    port = ScriptedAnswers([TextDelta("Partial"), Final("x", audit_id=1)], pause_after=1)
    port.stop_works = False
    out = io.StringIO()
    with CtrlC() as ctrl_c:
        task = asyncio.create_task(
            answer_stoppably(port, ASKED, PlainScreen(out, io.StringIO()), ctrl_c)  # type: ignore[arg-type]
        )
        await asyncio.wait_for(port.paused.wait(), 5)
        ctrl_c._pressed()
        draft = await asyncio.wait_for(task, 5)
    # The stream was closed (the core then records the question as interrupted).
    assert port.closed and draft.outcome is Outcome.CANCELLED
    assert out.getvalue() == "Partial\n\nStopped.\n"


async def test_console_commands_use_no_slot_and_write_no_question_row(kit):
    kit.policy = LimitPolicy(per_user_per_hour=1)
    admin = f"email:{DEMO_USERS['admin']}"
    stdin = io.StringIO("help\nprompts\nusage\nquit\n")
    assert await console(kit.service, admin, stdin, io.StringIO(), io.StringIO()) == 0
    assert await kit.audit_rows() == []
    # The one question of the hour is still there to ask.
    stdin = io.StringIO("How many servers do I have?\nexit\n")
    out = io.StringIO()
    assert await console(kit.service, admin, stdin, out, io.StringIO()) == 0
    assert "servers" in out.getvalue()
    assert [r.result for r in await kit.audit_rows()] == [Outcome.ANSWERED]
