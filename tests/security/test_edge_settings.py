"""A bad setting stops the real `stackdock-assistant` with one line naming it and exit code 2:
no traceback, and never the value itself (a DATABASE_URL holds a password)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
SETTINGS_PREFIXES = ("OPENAI_", "ANTHROPIC_", "AI_", "SLACK_", "DISCORD_", "CONVEX_", "LOG_")


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    environ.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'edge.db'}", **env)
    return subprocess.run(
        CLI + args, capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=60
    )


def not_a_zip(tmp_path: Path) -> str:
    path = tmp_path / "export.zip"
    path.write_text("this is a CSV export, not a Convex snapshot\n")
    return str(path)


def truncated_zip(tmp_path: Path) -> str:
    path = tmp_path / "half.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)  # the start of a ZIP, cut off
    return str(path)


BAD = [
    ("LOG_LEVEL", lambda _: "VERBOSE"),
    ("LOG_FORMAT", lambda _: "xml"),
    ("DATABASE_URL", lambda _: "notaurl"),
    ("DATABASE_URL", lambda _: "postgres://admin:s3cr3t-pw@db.internal/bot"),
    ("DATABASE_URL", lambda _: "mysql+aiomysql://admin:s3cr3t-pw@db.internal/bot"),
    ("DATABASE_URL", lambda _: "sqlite+aiosqlite:////no/such/directory/bot.db"),
    ("STACKDOCK_SNAPSHOT", not_a_zip),
    ("STACKDOCK_SNAPSHOT", truncated_zip),
    ("STACKDOCK_SNAPSHOT", lambda tmp: str(tmp / "missing.zip")),
    ("PORT", lambda _: "eighty"),
    ("RATE_LIMIT_PER_HOUR", lambda _: "-3"),
]


@pytest.mark.parametrize("command", [["ask", "How many servers do I have?"], ["audit", "verify"]])
@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_a_bad_setting_is_one_line_naming_it_and_exit_2(
    tmp_path: Path, command: list[str], name: str, value
) -> None:
    given = value(tmp_path)
    result = run(command, tmp_path, **{name: given})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0], lines[0]
    assert "s3cr3t-pw" not in result.stderr


def test_a_bad_setting_among_good_ones_leaves_them_out_of_the_line(tmp_path: Path) -> None:
    result = run(["ask", "hi"], tmp_path, LOG_LEVEL="debug", LOG_FORMAT="json", PORT="0")
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "PORT" in line and "LOG_" not in line


def test_the_good_settings_still_start(tmp_path: Path) -> None:
    result = run(["ask", "How many servers do I have?"], tmp_path, LOG_LEVEL="warning")
    assert result.returncode == 0, result.stderr
    assert "servers" in result.stdout
