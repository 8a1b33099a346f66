"""Where the console's words land: plain text for a pipe, rendered Markdown for a terminal.

A terminal can't take back what it printed, so both screens only ever add below: an answer
arrives as the reply draft's whole text so far, and each screen prints what is new. Tool steps
go to `notes` (stderr), so that `ask … > answer.md` captures the answer alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TextIO

from adapters.console.controls import shown
from core.replies import open_fence_at

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.segment import Segment
    from rich.status import Status

STEP_MARK = "↳"  # not the prompt's "›": a step reads as the bot's work, never as input


class Screen(Protocol):
    def status(self, text: str) -> None:
        """The core is working on it ("Thinking…"): shown until something else is."""

    def step(self, summary: str) -> None: ...

    def answer(self, text: str, done: bool) -> None:
        """The answer's whole text so far; `done` once it will not grow any more."""

    def say(self, markdown: str) -> None:
        """The console's own words (help, prompts, usage), all at once."""

    def echo(self, question: str) -> None:
        """A question that arrived without being typed here (piped), before its answer."""

    def gap(self) -> None:
        """Space between one exchange and the next."""


class PlainScreen:
    """Text exactly as the core wrote it (Markdown is readable as it is), no colour."""

    def __init__(self, out: TextIO, notes: TextIO) -> None:
        self._out = out
        self._notes = notes
        self._shown = ""  # what of the current answer is already on `out`

    def status(self, text: str) -> None:
        return None  # a pipe is read later; "Thinking…" would only clutter it

    def step(self, summary: str) -> None:
        self._notes.write(f"  {STEP_MARK} {shown(summary)}\n")
        self._notes.flush()

    def answer(self, text: str, done: bool) -> None:
        # An error after partial text keeps the text (rstripped) and adds below it.
        kept = len(self._shown) if text.startswith(self._shown) else len(self._shown.rstrip())
        self._out.write(shown(text[kept:]) + ("\n" if done else ""))
        self._out.flush()
        self._shown = "" if done else text

    def say(self, markdown: str) -> None:
        self._out.write(shown(markdown) + "\n")
        self._out.flush()

    def echo(self, question: str) -> None:
        self._out.write(f"» {shown(question)}\n")
        self._out.flush()

    def gap(self) -> None:
        self._out.write("\n")
        self._out.flush()


class RichScreen:
    """Markdown rendered for a terminal: bold, lists, code blocks; colour unless NO_COLOR.

    An answer is printed a block at a time: a block is rendered once the paragraph break
    after it has arrived (outside a code block), the last one when the answer ends. So the
    text still appears as it streams, and nothing printed ever needs redrawing.
    """

    def __init__(self, out: TextIO, notes: TextIO) -> None:
        from rich.console import Console

        self._out: Console = Console(file=out, highlight=False, emoji=False)
        self._notes: Console = Console(file=notes, highlight=False, emoji=False)
        self._status: Status | None = None
        self._source = ""  # the current answer's Markdown, as far as it is printed
        self._blocks = 0  # blocks of the current answer printed so far

    @property
    def colour(self) -> bool:
        return self._out.color_system is not None and not self._out.no_color

    def status(self, text: str) -> None:
        if self._status is None:
            self._status = self._out.status(shown(text), spinner="dots")
            self._status.start()
        else:
            self._status.update(shown(text))

    def step(self, summary: str) -> None:
        from rich.text import Text

        self._settle()
        self._notes.print(Text(f"  {STEP_MARK} {shown(summary)}", style="dim"), soft_wrap=True)

    def answer(self, text: str, done: bool) -> None:
        self._settle()
        printed = len(self._source)
        if not text.startswith(self._source):
            # An error after partial text: the draft keeps the text rstripped, then adds.
            printed = len(self._source.rstrip())
            if not text.startswith(self._source.rstrip()):
                printed = 0
        end = len(text) if done else self._ready(text, printed)
        if text[printed:end].strip():
            self._block(text[printed:end])
        self._source = text[:end]
        if done:
            self._source, self._blocks = "", 0

    def say(self, markdown: str) -> None:
        self._settle()
        self._print_markdown(markdown)

    def echo(self, question: str) -> None:
        from rich.text import Text

        self._settle()
        self._out.print(Text(f"» {shown(question)}", style="bold"), soft_wrap=True)

    def gap(self) -> None:
        self._settle()
        self._out.print()

    # ---- inside ----

    def _settle(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    @staticmethod
    def _ready(text: str, printed: int) -> int:
        """Where the complete blocks end: the last paragraph break outside a code block."""
        cut = text.rfind("\n\n", printed)
        while cut > printed:
            if open_fence_at(text, cut) is None:
                return cut
            cut = text.rfind("\n\n", printed, cut)
        return printed

    def _block(self, markdown: str) -> None:
        if self._blocks:
            self._out.print()  # the blank line rich puts between blocks of one document
        self._blocks += 1
        self._print_markdown(markdown)

    def _print_markdown(self, markdown: str) -> None:
        from rich.markdown import Markdown

        self._print_trimmed(Markdown(shown(markdown.strip("\n")), hyperlinks=False))

    def _print_trimmed(self, renderable: RenderableType) -> None:
        """Prints without rich's padding to the full width: trailing blanks would be copied
        with the text, and wrap into empty lines when the window narrows."""
        from rich.segment import Segment
        from rich.text import Text

        for line in self._out.render_lines(renderable, pad=False):
            segments: list[Segment] = list(line)
            while segments and _blank(segments[-1]):
                segments.pop()
            if segments and not _has_background(segments[-1]):
                last = segments.pop()
                segments.append(Segment(last.text.rstrip(" "), last.style))
            text = Text()
            for segment in segments:
                if not segment.control:
                    text.append(segment.text, segment.style)
            self._out.print(text, soft_wrap=True)


def _has_background(segment: Segment) -> bool:
    return segment.style is not None and segment.style.bgcolor is not None


def _blank(segment: Segment) -> bool:
    return not segment.text.strip(" ") and not _has_background(segment)


def screen_for(out: TextIO, notes: TextIO) -> Screen:
    """Rendered Markdown on a terminal, the core's plain text anywhere else."""
    return RichScreen(out, notes) if out.isatty() else PlainScreen(out, notes)
