"""`usage` and `audit` as an operator runs them: the real console script on a SQLite file."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from tests.e2e.test_console_cli import run


def _ask(tmp_path: Path, n: int) -> None:
    for _ in range(n):
        assert run(["ask", "How many servers do I have?"], tmp_path).returncode == 0


def test_usage_formats_and_chart(tmp_path: Path) -> None:
    _ask(tmp_path, 2)
    table = run(["usage", "--chart", str(tmp_path / "usage.png")], tmp_path)
    assert table.returncode == 0, table.stderr
    total = next(line for line in table.stdout.splitlines() if line.startswith("total"))
    assert total.split()[1] == "2"
    assert (tmp_path / "usage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(io.StringIO(run(["usage", "--format", "csv"], tmp_path).stdout)))
    assert [(r["scope"], r["org"], r["questions"]) for r in rows if r["scope"] == "org"] == [
        ("org", "org_acme", "2")
    ]
    document = json.loads(
        run(["usage", "--format", "json", "--org", "org_globex"], tmp_path).stdout
    )
    assert document["org"] == "org_globex" and document["total"]["questions"] == 0
    bad = run(["usage", "--since", "yesterday"], tmp_path)
    assert bad.returncode == 2 and "--since must be a date" in bad.stderr


def test_audit_export_verify_and_tampering(tmp_path: Path) -> None:
    _ask(tmp_path, 3)
    exported = run(["audit", "export"], tmp_path)
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [row["id"] for row in lines] == [1, 2, 3]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    verified = run(["audit", "verify"], tmp_path)
    assert verified.returncode == 0 and "3 rows verified from genesis" in verified.stdout
    assert lines[-1]["hash"] in verified.stdout

    with sqlite3.connect(tmp_path / "e2e.db") as db:
        db.execute("UPDATE audit_events SET answer = 'nothing to see' WHERE id = 2")
    broken = run(["audit", "verify"], tmp_path)
    assert broken.returncode == 1
    assert "BROKEN at row 2" in broken.stdout and "edited" in broken.stdout
    refused = run(["audit", "prune", "--before", "2999-01-01"], tmp_path)
    assert refused.returncode == 1 and "not pruning" in refused.stderr


def test_prune_keeps_the_chain_verifiable(tmp_path: Path) -> None:
    _ask(tmp_path, 3)
    pruned = run(["audit", "prune", "--before", "2999-01-01"], tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 2 audit rows" in pruned.stdout
    verified = run(["audit", "verify"], tmp_path)
    assert verified.returncode == 0 and "1 rows verified from the prune anchor" in verified.stdout
    _ask(tmp_path, 1)
    assert "2 rows verified" in run(["audit", "verify"], tmp_path).stdout


def test_chart_problems_are_one_clear_error_before_any_table(tmp_path: Path) -> None:
    _ask(tmp_path, 1)
    missing = run(["usage", "--chart", str(tmp_path / "no-such-folder" / "usage.png")], tmp_path)
    assert missing.returncode == 2
    assert missing.stdout == ""  # not a table, then an error
    (line,) = missing.stderr.strip().splitlines()
    assert "no folder" in line and "no-such-folder" in line and "Traceback" not in line
    unknown = run(["usage", "--chart", str(tmp_path / "usage.gif")], tmp_path)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert ".png, .jpg, .jpeg, .svg, .pdf" in unknown.stderr
    folder = run(["usage", "--chart", str(tmp_path)], tmp_path)
    assert folder.returncode == 2 and "is a folder" in folder.stderr


def test_the_chart_is_written_in_the_format_its_name_says(tmp_path: Path) -> None:
    _ask(tmp_path, 1)
    for name, magic in (
        ("usage.jpg", b"\xff\xd8\xff"),
        ("usage.JPEG", b"\xff\xd8\xff"),
        ("usage.svg", b"<?xml"),
        ("usage.pdf", b"%PDF"),
    ):
        written = run(["usage", "--format", "csv", "--chart", str(tmp_path / name)], tmp_path)
        assert written.returncode == 0, written.stderr
        assert (tmp_path / name).read_bytes().startswith(magic), name
        assert f"chart written to {tmp_path / name}" in written.stderr
