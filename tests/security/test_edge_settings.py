"""A bad setting stops the real `stackdock-assistant` with one line naming it and exit code 2:
no traceback, and never the value itself (a DATABASE_URL holds a password)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
SETTINGS_PREFIXES = ("OPENAI_", "ANTHROPIC_", "AI_", "SLACK_", "DISCORD_", "CONVEX_", "LOG_")


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'edge.db'}"
    environ.update(env)
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


def test_a_damaged_snapshot_zip_is_named_when_it_is_read(tmp_path: Path) -> None:
    """A ZIP whose directory is intact but whose data is not passes the start-up check; the
    load itself must end the same way, not with a traceback or half a table."""
    path = tmp_path / "damaged.zip"
    rows = "".join(json.dumps({"_id": f"s{n}", "name": "web" * 20}) + "\n" for n in range(200))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("servers/documents.jsonl", rows)
    data = bytearray(path.read_bytes())
    data[100:104] = bytes(b ^ 0xFF for b in data[100:104])  # inside the compressed rows
    path.write_bytes(bytes(data))

    result = run(["ask", "How many servers do I have?"], tmp_path, STACKDOCK_SNAPSHOT=str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "STACKDOCK_SNAPSHOT" in line and "servers/documents.jsonl" in line, line


@pytest.mark.parametrize("wrong", ["username", "database"])
@pytest.mark.parametrize("command", [["ask", "How many servers do I have?"], ["audit", "verify"]])
def test_a_database_url_the_server_refuses_is_a_bad_setting(
    pg_url: str, tmp_path: Path, wrong: str, command: list[str]
) -> None:
    """A server that answers but refuses the URL's user or database: no outage to wait out
    (spooling questions forever), but a setting to fix, said once at start."""
    url = sa.make_url(pg_url)
    if wrong == "username":
        url = url.set(username="no_such_role", password="s3cr3t-pw")
    else:
        url = url.set(database="no_such_database")
    result = run(command, tmp_path, DATABASE_URL=url.render_as_string(hide_password=False))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "DATABASE_URL" in line and "no_such_" in line, line
    assert "s3cr3t-pw" not in result.stderr
