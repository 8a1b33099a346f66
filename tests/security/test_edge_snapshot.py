"""One hostile line in a StackDock snapshot (nested a hundred thousand levels deep, or an integer
of more digits than Python converts) must not stop the bot from starting: the real process
starts, names the file and line it skipped, and answers from everything else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from adapters.stackdock.demo import DEMO_DIR

_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
ADMIN = "email:ada@acme.example"
QUESTION = "How many servers do I have?"


def ask(tmp_path: Path, snapshot: Path) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "AI_", "SLACK_", "DISCORD_", "CONVEX_"))
    }
    environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / f'{snapshot.name}.db'}"
    environ["STACKDOCK_SNAPSHOT"] = str(snapshot)
    return subprocess.run(
        [*CLI, "ask", QUESTION, "--as", ADMIN],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=60,
    )


def test_a_hostile_snapshot_line_is_skipped_with_file_and_line(tmp_path: Path) -> None:
    clean = shutil.copytree(DEMO_DIR, tmp_path / "clean")
    hostile = shutil.copytree(DEMO_DIR, tmp_path / "hostile")
    servers = hostile / "servers" / "documents.jsonl"
    lines = servers.read_text("utf-8").splitlines()
    deep = '{"_id": "srv_deep", "fullApiData": ' + "[" * 100_000 + "]" * 100_000 + "}"
    huge = '{"_id": "srv_huge", "cpu": ' + "9" * 5000 + "}"
    servers.write_text("\n".join([lines[0], deep, huge, *lines[1:]]) + "\n", "utf-8")

    expected = ask(tmp_path, clean)
    result = ask(tmp_path, hostile)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert "servers/documents.jsonl:2: nested deeper than" in result.stderr, result.stderr
    assert "servers/documents.jsonl:3: unreadable JSON" in result.stderr, result.stderr
    # Every other server still counts: the same answer as from the clean snapshot.
    assert expected.returncode == 0, expected.stderr
    assert result.stdout == expected.stdout
    assert "servers" in result.stdout
