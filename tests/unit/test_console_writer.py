"""The console writer: the reply draft printed to a terminal, which can't take text back."""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator, Sequence

from adapters.console import answer
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


class ScriptedAnswers:
    """Just the `answer` of the driving port, replaying fixed events; records closing."""

    def __init__(self, events: Sequence[ReplyEvent]) -> None:
        self.events = events
        self.closed = False

    async def answer(self, inbound: Inbound) -> AsyncGenerator[ReplyEvent, None]:
        try:
            for event in self.events:
                yield event
        finally:
            self.closed = True


ASKED = Inbound(identity="u1", text="q", platform="console", is_dm=True)


async def _run(events: Sequence[ReplyEvent]) -> tuple[Outcome, str, str, ScriptedAnswers]:
    port = ScriptedAnswers(events)
    out, notes = io.StringIO(), io.StringIO()
    outcome = await answer(port, ASKED, out, notes)  # type: ignore[arg-type]
    return outcome, out.getvalue(), notes.getvalue(), port


async def test_streamed_text_is_printed_once_and_steps_go_to_notes():
    outcome, out, notes, port = await _run(
        [
            Status("Thinking…"),
            ToolStep("list_resources", {}, "Looked up 3 servers"),
            TextDelta("You have "),
            TextDelta("3 servers."),
            Final("You have 3 servers.", audit_id=1),
        ]
    )
    assert outcome is Outcome.ANSWERED
    assert out == "You have 3 servers.\n"
    assert notes == "  › Looked up 3 servers\n"
    assert port.closed


async def test_an_error_after_partial_text_is_said_below_it():
    outcome, out, _, _ = await _run(
        [
            TextDelta("You have 3 servers  "),
            ErrorReply("The AI provider failed to answer.", Outcome.FAILED, "provider_server"),
        ]
    )
    assert outcome is Outcome.FAILED
    assert out == "You have 3 servers  \n\nThe AI provider failed to answer.\n"


async def test_a_final_that_did_not_stream_is_printed_whole():
    outcome, out, _, _ = await _run([Final("Nothing streamed.", audit_id=None)])
    assert (outcome, out) == (Outcome.ANSWERED, "Nothing streamed.\n")
