"""The keyboard: lines read off the event loop, readline's editing, and what Ctrl-C means.

Reads block, so each runs in a daemon thread of its own rather than the loop's executor: the
loop stays free (the mirror keeps following its source while a person thinks), and a read
left waiting on a terminal or a pipe never holds up leaving; asyncio.run would otherwise wait
for the executor's thread until the next line came.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


def in_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """`work()` in a daemon thread, as a future of the running loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return  # nobody waits any more: the person left with Ctrl-C
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(), None
        except Exception as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="console-input", daemon=True).start()
    return future


class PipedInput:
    """Lines from a file or a pipe, as they come."""

    def __init__(self, stdin: TextIO) -> None:
        self._stdin = stdin

    def read(self) -> asyncio.Future[str | None]:
        """The next line, or None at the end of the input."""
        return in_thread(lambda: self._stdin.readline() or None)

    def close(self) -> None:
        return None


class TerminalInput:
    """Lines typed at a terminal, with readline's editing keys, and ↑/↓ through the questions
    of this session. No history file: a question may hold a pasted secret, and nothing of a
    person's words is kept outside the store's own rules."""

    def __init__(self, stdin: TextIO, prompt: str) -> None:
        import readline  # input() gains line editing and history once it is imported
        import termios

        self._prompt = prompt
        self._fd = stdin.fileno()
        # readline puts the terminal in its own mode while it reads; leaving at Ctrl-C happens
        # mid-read, so the modes are put back by hand.
        self._modes = termios.tcgetattr(self._fd)
        readline.set_completer(lambda text, state: None)  # Tab completes no file names

    def read(self) -> asyncio.Future[str | None]:
        def ask() -> str | None:
            try:
                return input(self._prompt)
            except EOFError:
                return None

        return in_thread(ask)

    def close(self) -> None:
        import termios

        with contextlib.suppress(termios.error):
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._modes)


class CtrlC:
    """Ctrl-C as the console means it, for as long as a session runs.

    What a press does depends on the moment: stop the answer under way, or leave at the
    prompt. The session says which with `doing`. Where signals can't be handled on the loop
    (not the main thread), Ctrl-C stays Python's KeyboardInterrupt.
    """

    def __init__(self) -> None:
        self._action: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> CtrlC:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self._pressed)
        except (NotImplementedError, RuntimeError, ValueError):
            return self
        self._loop = loop
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_signal_handler(signal.SIGINT)
        self._loop = None

    @contextlib.contextmanager
    def doing(self, action: Callable[[], None]) -> Iterator[None]:
        previous, self._action = self._action, action
        try:
            yield
        finally:
            self._action = previous

    def _pressed(self) -> None:
        if self._action is not None:
            self._action()
