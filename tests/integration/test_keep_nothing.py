"""A whole StackDock deployment (audit log, billing, rate-limit logs, encrypted operation config,
docks' encrypted keys) goes in through the real `sync --once` process, from the fake Convex
streaming export and from a snapshot ZIP; a byte search of the bot's database file afterwards
finds none of what the bot does not need, and the real `ask` process still answers from it."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import zipfile
from pathlib import Path

from core.stackdock.tables import MIRRORED_TABLES, kept
from tests.fakes.services.convex_api import DEPLOY_KEY, FakeConvex
from tests.fixtures.stackdock_real import (
    NEVER_STORED,
    REAL_SHAPED_DIR,
    UNMIRRORED_TABLES,
    USERS,
    tables,
)

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
ADMIN = f"email:{USERS['admin']}"
# Values the bot does keep: proof that the byte search sees the stored data at all.
KEPT = ("northwind-storefront", USERS["developer"], "OOMKilled", "legacy.northwind.example")
# Written after the first pass, so the delta path is searched too.
LATE_AGENT = "curl/8.7.1 (REALSHAPED-late-audit-agent)"
LATE_DOCK_KEY = "UkVBTFNIQVBFRCBsYXRlIGRvY2sga2V5IGNpcGhlcnRleHQ="


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("OPENAI_", "ANTHROPIC_", "AI_", "SLACK_", "DISCORD_", "CONVEX_", "STACKDOCK_")
        )
        and key != "DATABASE_URL"
    }
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    return {
        **inherited,
        "DATABASE_URL": database,
        "AI_PROVIDER": "offline",
        "PYTHONPATH": str(ROOT),
        **settings,
    }


async def cli(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    # A subprocess the event loop waits on, so the in-process fake Convex keeps serving.
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def database_bytes(tmp_path: Path) -> bytes:
    """The database file and any journal or WAL beside it, as they lie on disk."""
    files = sorted(tmp_path.glob("bot.db*"))
    assert files, "no database file was written"
    return b"".join(path.read_bytes() for path in files)


def assert_nothing_kept(data: bytes, also: tuple[str, ...] = ()) -> None:
    for value in KEPT:
        assert value.encode() in data, f"the search cannot see stored data ({value!r})"
    kept = [value for value in (*NEVER_STORED, *also) if value.encode() in data]
    assert kept == [], f"found in the database file: {kept}"


def test_every_never_stored_value_is_really_in_the_export() -> None:
    raw = "".join(p.read_text("utf-8") for p in REAL_SHAPED_DIR.glob("*/documents.jsonl"))
    assert [value for value in NEVER_STORED if value not in raw] == []
    assert {p.parent.name for p in REAL_SHAPED_DIR.glob("*/documents.jsonl")} >= {
        *UNMIRRORED_TABLES,
        *MIRRORED_TABLES,
    }


async def test_live_sync_of_a_whole_deployment_keeps_nothing_it_does_not_need(
    tmp_path: Path,
) -> None:
    everything = tables()
    async with FakeConvex(page_size=25) as convex:
        for table, docs in everything.items():
            for doc in docs:
                convex.put(table, doc)
        env = environment(tmp_path, CONVEX_URL=convex.url, CONVEX_DEPLOY_KEY=DEPLOY_KEY)
        first = await cli(tmp_path, env, "sync", "--once")

        audit = everything["auditLogs"][0]
        convex.put("auditLogs", {**audit, "_id": "aud_late", "userAgent": LATE_AGENT})
        dock = next(d for d in everything["docks"] if d["provider"] == "gridpane")
        convex.put("docks", {**dock, "lastSyncStatus": "success", "encryptedApiKey": LATE_DOCK_KEY})
        second = await cli(tmp_path, env, "sync", "--once")

    assert first[0] == 0, first[2]
    assert second[0] == 0 and "0 snapshot documents, 1 changes" in second[1], second
    # Convex was asked for each mirrored table by name, and for nothing else.
    assert convex.tables_asked() == set(MIRRORED_TABLES)
    assert_nothing_kept(database_bytes(tmp_path), also=(LATE_AGENT, LATE_DOCK_KEY))

    code, answer, err = await cli(
        tmp_path, env, "ask", "How many servers do I have?", "--as", ADMIN
    )
    assert code == 0, err
    assert re.search(r"\b4\b", answer) and "server" in answer, answer
    assert_nothing_kept(database_bytes(tmp_path), also=(LATE_AGENT, LATE_DOCK_KEY))


async def test_snapshot_zip_of_a_whole_deployment_keeps_nothing_it_does_not_need(
    tmp_path: Path,
) -> None:
    export = tmp_path / "snapshot.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(REAL_SHAPED_DIR.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(REAL_SHAPED_DIR).as_posix())
    env = environment(tmp_path, STACKDOCK_SNAPSHOT=str(export))

    code, out, err = await cli(tmp_path, env, "sync", "--once")
    assert code == 0, err
    assert "left out auditLogs" in out and "operationServices" in out, out
    assert_nothing_kept(database_bytes(tmp_path))

    code, answer, err = await cli(
        tmp_path, env, "ask", "How many servers do I have?", "--as", ADMIN
    )
    assert code == 0, err
    assert re.search(r"\b4\b", answer) and "server" in answer, answer
    assert_nothing_kept(database_bytes(tmp_path))


def test_the_ingest_filter_walks_any_depth_and_leaves_unmirrored_tables_out() -> None:
    deep: dict = {"encryptedSecret": "x", "region": "eu"}
    for _ in range(5_000):  # far past Python's recursion limit
        deep = {"next": [deep], "accessCredentials": {"key": "y"}}
    doc = kept("servers", {"_id": "s1", "fullApiData": deep, "provisioningCredentials": "z"})
    assert doc is not None and set(doc) == {"_id", "fullApiData"}
    level = doc["fullApiData"]
    for _ in range(5_000):
        assert set(level) == {"next"}
        level = level["next"][0]
    assert level == {"region": "eu"}
    assert deep["accessCredentials"] == {"key": "y"}  # the input is left as it was
    assert kept("auditLogs", {"_id": "a1"}) is None
