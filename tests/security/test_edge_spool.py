"""A torn line in the audit spool (a crash mid-write, a full disk) must not block replay: the
real `stackdock-assistant` still starts and answers, the rows behind the torn line land in the
chain, and the torn line is kept aside and named (file and line) in the log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from adapters.spool.audit_spool import encode
from core.models import AuditRecord, Outcome

_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
ADMIN = "email:ada@acme.example"


def run(args: list[str], tmp_path: Path, spool: Path) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "AI_", "SLACK_", "DISCORD_", "CONVEX_"))
    }
    environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'edge.db'}"
    environ["AUDIT_SPOOL_PATH"] = str(spool)
    return subprocess.run(
        CLI + args, capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=60
    )


def kept_row(question: str) -> str:
    """A row as the bot spools it while the database is down."""
    record = AuditRecord(
        datetime(2026, 11, 28, 9, tzinfo=UTC),
        ADMIN,
        "slack",
        Outcome.ANSWERED,
        org_id="org_acme",
        question=question,
        metadata={"spooled": True},
    )
    return encode(record, None)


def test_a_torn_spool_line_is_set_aside_and_the_rows_behind_it_land(tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    torn = kept_row("kept while down 2")[:57]
    spool.write_text(
        kept_row("kept while down 1")
        + "\n"
        + torn
        + "\n"
        + kept_row("kept while down 3")
        + "\n"
        + kept_row("kept while down 4")
        + "\n",
        "utf-8",
    )

    asked = run(["ask", "How many servers do I have?", "--as", ADMIN], tmp_path, spool)
    assert asked.returncode == 0, asked.stderr
    assert "Traceback" not in asked.stderr, asked.stderr
    assert "servers" in asked.stdout
    assert f"{spool} line 2" in asked.stderr, asked.stderr  # named for the operator

    exported = run(["audit", "export"], tmp_path, spool)
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    # Kept rows first, oldest first, then the question just asked.
    assert [r["question"] for r in rows] == [
        "kept while down 1",
        "kept while down 3",
        "kept while down 4",
        "How many servers do I have?",
    ]
    verified = run(["audit", "verify"], tmp_path, spool)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert spool.read_text("utf-8").strip() == ""
    set_aside = spool.with_name(spool.name + ".bad")
    assert set_aside.read_text("utf-8") == torn + "\n"  # kept, for an operator to read


def test_the_next_command_after_a_torn_tail_is_not_blocked_either(tmp_path: Path) -> None:
    """The last line torn, as a crash mid-write leaves it: nothing behind it, no newline."""
    spool = tmp_path / "spool.jsonl"
    spool.write_text(kept_row("kept while down 1") + "\n" + kept_row("lost")[:40], "utf-8")
    for _ in range(2):
        asked = run(["ask", "How many servers do I have?", "--as", ADMIN], tmp_path, spool)
        assert asked.returncode == 0, asked.stderr
        assert "Traceback" not in asked.stderr, asked.stderr
    exported = run(["audit", "export"], tmp_path, spool)
    questions = [json.loads(line)["question"] for line in exported.stdout.splitlines()]
    assert questions == ["kept while down 1", *["How many servers do I have?"] * 2]
