"""Reading a `npx convex export` snapshot, as a ZIP or as the directory it unpacks to.

Convex writes one folder per table at the top level, each holding `documents.jsonl` (one JSON
document per line) and `generated_schema.jsonl`, next to a `README.md` and system folders whose
names start with an underscore: `_tables/` (the table catalogue), `_storage/` (file storage),
`_components/` (tables of installed components). StackDock's own tables are the top-level ones,
so underscore folders and nested components are skipped. Of those, only the tables the bot
mirrors (core.stackdock.tables) are read at all, and credential fields are dropped from every
document as it is parsed: an export of the whole deployment, audit log and billing included,
leaves nothing else behind in the bot.

A malformed line is reported as "file:line: reason" and skipped; the rest of the file still loads.
That includes a line nested deeper than any real document (MAX_DEPTH): parsing one would exhaust
Python's recursion limit here, or in whatever walks the document later.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.stackdock.tables import is_mirrored, kept

DOCUMENTS = "documents.jsonl"
# Provider payloads (`fullApiData`) nest a few levels; 64 leaves room and keeps every later
# recursive walk of a document far from Python's recursion limit.
MAX_DEPTH = 64
# What nesting depends on: brackets, and strings (whose brackets do not count).
_NESTING = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class SnapshotError(Exception):
    """The path is neither a snapshot directory nor a readable ZIP."""


@dataclass(slots=True)
class SnapshotLoad:
    tables: dict[str, list[dict[str, Any]]]
    problems: list[str] = field(default_factory=list)
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))
    skipped: list[str] = field(default_factory=list)  # tables in the export the bot leaves out


def _table_of(relative: str) -> str | None:
    """The table a `<table>/documents.jsonl` entry holds, or None for anything else."""
    parts = relative.strip("/").split("/")
    if len(parts) != 2 or parts[1] != DOCUMENTS or parts[0].startswith("_"):
        return None
    return parts[0]


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text nests objects and arrays more than `limit` levels deep."""
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return False  # the common case, decided without a scan
    depth = 0
    for match in _NESTING.finditer(raw):
        token = match.group()
        if token in (b"{", b"["):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"}", b"]"):
            depth -= 1
    return False


def parse_documents(
    name: str, lines: Iterable[bytes], problems: list[str]
) -> Iterator[dict[str, Any]]:
    """The JSON objects of a documents.jsonl file; bad lines go to `problems` and are skipped."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if too_deep(raw):
            problems.append(f"{name}:{number}: nested deeper than {MAX_DEPTH} levels")
            continue
        try:
            doc = json.loads(raw)
        except UnicodeDecodeError:
            problems.append(f"{name}:{number}: not UTF-8")
            continue
        except json.JSONDecodeError as exc:
            problems.append(f"{name}:{number}: invalid JSON ({exc.msg})")
            continue
        except (ValueError, RecursionError) as exc:
            # Valid JSON Python will not take: an integer of more than 4,300 digits, say.
            problems.append(f"{name}:{number}: unreadable JSON ({type(exc).__name__})")
            continue
        if not isinstance(doc, dict):
            problems.append(f"{name}:{number}: not a JSON object")
        elif "_id" not in doc:
            problems.append(f"{name}:{number}: document has no _id")
        else:
            yield doc


def _kept_documents(
    table: str, name: str, lines: Iterable[bytes], problems: list[str]
) -> list[dict[str, Any]]:
    """A mirrored table's documents as the bot keeps them (credential fields dropped)."""
    documents = (kept(table, doc) for doc in parse_documents(name, lines, problems))
    return [doc for doc in documents if doc is not None]


def _load_directory(root: Path) -> SnapshotLoad:
    tables: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []
    skipped: list[str] = []
    newest = root.stat().st_mtime
    for path in sorted(root.glob(f"*/{DOCUMENTS}")):
        relative = path.relative_to(root).as_posix()
        table = _table_of(relative)
        if table is None:
            continue
        if not is_mirrored(table):
            skipped.append(table)
            continue
        newest = max(newest, path.stat().st_mtime)
        with path.open("rb") as handle:
            tables[table] = _kept_documents(table, relative, handle, problems)
    return SnapshotLoad(tables, problems, datetime.fromtimestamp(newest, UTC), skipped)


def _load_zip(path: Path) -> SnapshotLoad:
    tables: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []
    skipped: list[str] = []
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SnapshotError(f"{path}: not a readable ZIP file ({exc})") from exc
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            table = _table_of(info.filename)
            if table is None or info.is_dir():
                continue
            if not is_mirrored(table):
                skipped.append(table)  # never decompressed, so never in memory
                continue
            try:
                with archive.open(info) as handle:
                    tables[table] = _kept_documents(table, info.filename, handle, problems)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                # Half a table would answer "no such server" with confidence: refuse it all.
                raise SnapshotError(f"{path}: {info.filename} is damaged ({exc})") from exc
    as_of = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return SnapshotLoad(tables, problems, as_of, skipped)


def load_snapshot(path: Path) -> SnapshotLoad:
    """The mirrored tables of the snapshot at `path`, without credential fields; `as_of` is the
    snapshot's file time."""
    path = Path(path)
    if path.is_dir():
        return _load_directory(path)
    if path.is_file():
        return _load_zip(path)
    raise SnapshotError(f"{path}: no such file or directory")
