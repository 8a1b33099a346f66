"""The console assistant as a person runs it: the real `stackdock-assistant` process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.stackdock.demo import DEMO_SECRETS, DEMO_USERS

# The installed console script, as a person runs it (falls back to the module when not installed).
_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "AI_", "SLACK_", "DISCORD_", "CONVEX_"))
    }
    environ.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}", **env)
    return subprocess.run(
        CLI + args,
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
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
