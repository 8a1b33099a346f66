"""The console assistant as a person runs it: the real `stackdock-assistant` process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from adapters.stackdock.demo import DEMO_SECRETS, DEMO_USERS
from tests.fakes.services.model_server import Fail
from tests.fakes.services.openai_server import FakeOpenAI

# The installed console script, as a person runs it (falls back to the module when not installed).
_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """This machine's environment less any key or service setting, on a SQLite file."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "AI_", "SLACK_", "DISCORD_", "CONVEX_"))
    }
    environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    environ.update(env)
    return environ


def run(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        CLI + args,
        input=stdin,
        capture_output=True,
        text=True,
        env=environment(tmp_path, **env),
        cwd=tmp_path,  # no stray .env from the checkout
        timeout=60,
    )


def test_piped_console_names_the_demos_real_problems(tmp_path):
    stdin = "What is the status of my infrastructure?\nAny critical issues I should know about?\n"
    result = run(["console"], tmp_path, stdin)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "resources" in out
    # The demo's problems: a dock failing for four syncs, a monitor down, a fatal and an
    # error-level alert, a site with backups off. Each must be named in the answers; GridPane's
    # guessed domain expiry must not be.
    for needle in ("failing for 4 syncs", "down", "sentry level fatal", "backups off"):
        assert needle in out.lower(), needle
    assert out.lower().count("critical") + out.lower().count("high") >= 1
    assert "expire" not in out.lower()
    for secret in DEMO_SECRETS:
        assert secret not in out and secret not in result.stderr


def test_ask_exit_codes_and_per_org_answers(tmp_path):
    answered = run(
        ["ask", "How many servers do I have?", "--as", f"email:{DEMO_USERS['admin']}"], tmp_path
    )
    assert answered.returncode == 0, answered.stderr
    other = run(
        ["ask", "How many servers do I have?", "--as", f"email:{DEMO_USERS['globex_admin']}"],
        tmp_path,
    )
    assert other.returncode == 0, other.stderr
    assert answered.stdout != other.stdout

    denied = run(["ask", "How many servers?", "--as", f"email:{DEMO_USERS['ai_none']}"], tmp_path)
    assert denied.returncode == 3, denied.stdout + denied.stderr
    assert "ai:read" in denied.stdout

    unknown = run(["ask", "How many servers?", "--as", "email:nobody@nowhere.example"], tmp_path)
    assert unknown.returncode == 3
    assert "link" in unknown.stdout

    usage = run(["ask"], tmp_path)
    assert usage.returncode == 2


def test_rate_limit_fourth_ask_exits_4_with_retry_time(tmp_path):
    who = ["--as", f"email:{DEMO_USERS['admin']}"]
    codes = [
        run(["ask", "How many domains do I have?", *who], tmp_path, RATE_LIMIT_PER_HOUR="3")
        for _ in range(4)
    ]
    assert [c.returncode for c in codes] == [0, 0, 0, 4], [c.stdout for c in codes]
    assert "try again in" in codes[3].stdout.lower()


def test_client_asking_about_docks_is_refused_inside_the_tool(tmp_path):
    result = run(["ask", "List my docks", "--as", f"email:{DEMO_USERS['client']}"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "docks:read" in result.stdout


def test_bad_setting_stops_with_one_line_naming_it(tmp_path):
    result = run(["ask", "hi"], tmp_path, RATE_LIMIT_PER_HOUR="lots")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "RATE_LIMIT_PER_HOUR" in lines[0]
    assert "Traceback" not in result.stderr


def test_link_bind_and_audit_verify_commands(tmp_path):
    assert run(["link", "slack:T1:U1", DEMO_USERS["client"]], tmp_path).returncode == 0
    links = run(["links"], tmp_path)
    assert "slack:T1:U1" in links.stdout
    assert run(["link", "slack:T1:U2", "ghost@nowhere.example"], tmp_path).returncode == 2
    assert run(["bind", "slack:T1", "no-such-org"], tmp_path).returncode == 2


@pytest.mark.parametrize("flag", ["--help"])
def test_help_lists_the_contract_commands(tmp_path, flag):
    result = run([flag], tmp_path)
    for command in (
        "console",
        "ask",
        "slack",
        "discord",
        "sync",
        "db",
        "link",
        "bind",
        "usage",
        "audit",
    ):
        assert command in result.stdout


def test_piped_console_answers_its_own_words_without_a_row_and_echoes_safely(tmp_path):
    stdin = "help\nprompts domains\nHow many servers do I have? \x1b[2J\x1b]0;x\x07\nquit\nStill there?\n"
    result = run(["console"], tmp_path, stdin, RATE_LIMIT_PER_HOUR="1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "`exit` or `quit`" in out and "Ctrl-C" in out  # help says what works here
    assert "- List my domains" in out
    assert "» How many servers do I have? ^[[2J^[]0;x^G\n" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "Still there?" not in out
    exported = run(["audit", "export"], tmp_path).stdout.splitlines()
    assert len(exported) == 1  # the one question; help, prompts and quit wrote nothing


class Terminal:
    """The console in a pseudo-terminal, as a person at a keyboard runs it."""

    def __init__(self, args: list[str], tmp_path: Path, **env: str) -> None:
        environ = environment(tmp_path, TERM="xterm-256color", COLUMNS="100", **env)
        environ.pop("NO_COLOR", None)
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the console, the pty its controlling terminal
            try:
                os.chdir(tmp_path)
                os.execve(CLI[0], [*CLI, *args], environ)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.seen = b""
        self.code: int | None = None

    def read_until(self, needle: bytes, timeout: float = 30) -> bytes:
        """Everything shown from now until `needle` has appeared."""
        start, deadline = len(self.seen), time.monotonic() + timeout
        while needle not in self.seen[start:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never shown; got {self.seen[start:]!r}")
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.fd, 65536)
                except OSError:  # the console has gone
                    raise AssertionError(
                        f"ended before {needle!r}: {self.seen[start:]!r}"
                    ) from None
        return self.seen[start:]

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                ready, _, _ = select.select([self.fd], [], [], 0.05)
                if ready:
                    self.seen += os.read(self.fd, 65536)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
                return self.code
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"the console did not leave: {self.seen[-400:]!r}")

    def echo_and_lines_on(self) -> bool:
        """Whether the terminal is back in the mode a shell expects (readline changes it)."""
        lflag = termios.tcgetattr(self.fd)[3]
        return bool(lflag & termios.ECHO and lflag & termios.ICANON)

    def close(self) -> None:
        if self.code is None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        os.close(self.fd)


PROMPT = "›".encode()


@pytest.fixture
def terminal(tmp_path):
    opened: list[Terminal] = []

    def start(*args: str, **env: str) -> Terminal:
        opened.append(Terminal(list(args), tmp_path, **env))
        return opened[-1]

    yield start
    for term in opened:
        term.close()


def test_a_terminal_gets_rendered_markdown_in_colour_and_ctrl_d_leaves(terminal):
    term = terminal("console")
    greeting = term.read_until(PROMPT)
    assert b"help" in greeting and b"Ctrl-D" in greeting
    term.type(b"List my servers\r")
    shown = term.read_until(PROMPT)
    assert b"\x1b[" in shown  # colour on a terminal
    assert b"**" not in shown and b"`" not in shown  # Markdown rendered, not shown raw
    assert "• ".encode() in shown  # a list, as a list
    assert "↳ Looked up".encode() in shown  # the tool step, marked apart from the prompt
    term.type(b"\x04")  # Ctrl-D
    assert term.wait() == 0
    assert term.seen.endswith(b"\r\n")  # the shell's prompt starts on a fresh line
    assert term.echo_and_lines_on()


def test_ctrl_c_at_the_prompt_leaves_at_once(terminal):
    term = terminal("console")
    term.read_until(PROMPT)
    term.type(b"half a quest")
    term.read_until(b"half a quest")
    term.type(b"\x03")
    assert term.wait(timeout=5) == 130
    assert term.echo_and_lines_on()  # readline's mode undone though it was mid-line


def test_exit_and_quit_leave_and_the_typed_line_is_edited(terminal):
    term = terminal("console")
    term.read_until(PROMPT)
    # Line editing: type "quix", rub out the x, finish the word.
    term.type(b"quix\x7ft\r")
    assert term.wait() == 0
    assert b"I only read data" not in term.seen  # left, nothing asked or answered


async def test_ctrl_c_stops_the_answer_and_the_prompt_comes_back(terminal, tmp_path):
    async with FakeOpenAI() as model:
        model.push(Fail("stall"))
        term = terminal(
            "console",
            AI_PROVIDER="openai",
            OPENAI_BASE_URL=model.base_url,
            OPENAI_API_KEY="sk-test-0123456789abcdefghijklmnop",
        )
        await asyncio.to_thread(term.read_until, PROMPT)
        term.type(b"How many servers do I have?\r")
        for _ in range(600):
            if model.requests:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        term.type(b"\x03")
        stopped = await asyncio.to_thread(term.read_until, PROMPT, 10)
        assert b"Stopped." in stopped
        term.type(b"exit\r")
        assert await asyncio.to_thread(term.wait) == 130  # the last question was interrupted
    exported = run(["audit", "export"], tmp_path).stdout.splitlines()
    assert [json.loads(line)["result"] for line in exported] == ["cancelled"]
