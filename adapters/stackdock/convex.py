"""Live sync from StackDock's Convex deployment through Convex's streaming export API.

Only the tables the bot mirrors (core.stackdock.tables) are asked for: every request names its
`tableName`, so the audit log, billing and the rest never cross the wire, and credential fields
of the tables that do are dropped before anything is stored.

The first pass walks `GET /api/list_snapshot` page by page, table by table, all at one pinned
snapshot timestamp; then `GET /api/document_deltas` is polled per table from there. Each table
keeps its own delta cursor, and a page's changes commit in one transaction with the cursors that
follow them, so a restart resumes exactly where the last commit left off, and a crash can neither
skip a change nor replay one onto newer data.

Convex keeps deltas for a limited window; a cursor older than that is refused with a 400 whose
code is `InvalidWindowToReadDocuments`, and only that refusal starts the sync over from a fresh
snapshot. Any other failure (another 400 included) is logged and retried with backoff: a
snapshot walk of the whole deployment is no answer to, say, a proxy rejecting a request. The
deploy key travels only in the `Authorization` header: it is never part of a URL, an exception
or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from adapters.stackdock.sources import freshness_state, mark_fresh
from core.metrics import SYNC_ERRORS
from core.ports import Document, Mirror
from core.stackdock.tables import MIRRORED_TABLES, kept

log = logging.getLogger(__name__)

# JSON object: table -> the delta cursor up to which that table's changes are stored.
CURSORS_KEY = "convex:cursors"
# Convex's error code for a delta cursor older than the deployment's retention window.
EXPIRED_CURSOR_CODE = "InvalidWindowToReadDocuments"
# Fields the export adds to each document; the mirror keeps documents as `npx convex export` has them.
_EXPORT_FIELDS = ("_table", "_ts", "_deleted", "_component")


class ExportError(Exception):
    """A failed export request; `retry_after_s` is the server's own hint when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code  # Convex's own error code, when the body carried one
        self.retry_after_s = retry_after_s


class CursorExpired(ExportError):
    """The saved delta cursor is older than the deployment's retention window."""


@dataclass(frozen=True, slots=True)
class SnapshotPage:
    values: list[dict[str, Any]]
    snapshot: int
    cursor: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class DeltaPage:
    values: list[dict[str, Any]]
    cursor: int
    has_more: bool


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


class ConvexExport:
    """The two streaming-export endpoints of one deployment, over httpx."""

    def __init__(
        self,
        url: str,
        deploy_key: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._key = deploy_key
        self._client = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Convex {deploy_key}"},
            timeout=timeout_s,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def list_snapshot(
        self, table: str, snapshot: int | None, cursor: str | None
    ) -> SnapshotPage:
        params: dict[str, str] = {"tableName": table, "format": "json"}
        if snapshot is not None:
            params["snapshot"] = str(snapshot)
        if cursor:
            params["cursor"] = cursor
        body = await self._get("/api/list_snapshot", params)
        try:
            return SnapshotPage(
                values=_values(body),
                snapshot=int(body["snapshot"]),
                cursor=str(body["cursor"]) if body.get("cursor") not in (None, "") else None,
                has_more=bool(body["hasMore"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(f"list_snapshot: malformed page ({exc!r:.80})") from None

    async def document_deltas(self, table: str, cursor: int) -> DeltaPage:
        params = {"tableName": table, "cursor": str(cursor), "format": "json"}
        try:
            body = await self._get("/api/document_deltas", params)
        except ExportError as exc:
            if exc.status == 400 and exc.code == EXPIRED_CURSOR_CODE:
                raise CursorExpired(str(exc), status=400, code=exc.code) from None
            raise
        try:
            return DeltaPage(
                values=_values(body), cursor=int(body["cursor"]), has_more=bool(body["hasMore"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(f"document_deltas: malformed page ({exc!r:.80})") from None

    async def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        name = path.rsplit("/", 1)[-1]
        try:
            response = await self._client.get(path, params=params)
        except httpx.TimeoutException:
            raise ExportError(f"{name}: Convex did not answer in time") from None
        except httpx.TransportError as exc:
            raise ExportError(f"{name}: Convex unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            code, reason = self._reason(response)
            raise ExportError(
                f"{name}: HTTP {response.status_code} {reason}",
                status=response.status_code,
                code=code,
                retry_after_s=_retry_after(response),
            )
        try:
            body = response.json()
        except ValueError:
            raise ExportError(f"{name}: the response is not JSON") from None
        if not isinstance(body, dict):
            raise ExportError(f"{name}: the response is not a JSON object")
        return body

    def _reason(self, response: httpx.Response) -> tuple[str | None, str]:
        """Convex's error code, and code plus message with the key cut out should a server
        echo it."""
        try:
            body = response.json()
            code, message = body.get("code"), body.get("message", "")
        except (ValueError, AttributeError):
            return None, ""
        code = code if isinstance(code, str) else None
        text = f"{code or ''}: {message}"[:200].replace(self._key, "[redacted]")
        return code, text


def _values(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    values = body["values"]
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        raise TypeError("values is not a list of objects")
    return values


def _split(value: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool] | None:
    """(table, document as kept, deleted) of one export value, or None for what the bot skips."""
    table = value.get("_table")
    if not isinstance(table, str) or value.get("_component"):
        return None  # installed components' tables, as the snapshot loader
    if not isinstance(value.get("_id"), str):
        return None
    doc = kept(table, {k: v for k, v in value.items() if k not in _EXPORT_FIELDS})
    if doc is None:
        return None  # a table the bot does not mirror, should a server send one unasked
    return table, doc, bool(value.get("_deleted"))


Changes = dict[str, tuple[list[Document], list[str]]]


def _group(values: Sequence[Mapping[str, Any]]) -> Changes:
    """Per table, the last revision of each document in the page: an upsert or a delete."""
    latest: dict[str, dict[str, dict[str, Any] | None]] = {}
    for value in values:
        split = _split(value)
        if split is None:
            continue
        table, doc, deleted = split
        latest.setdefault(table, {})[doc["_id"]] = None if deleted else doc
    return {
        table: (
            [doc for doc in docs.values() if doc is not None],
            [doc_id for doc_id, doc in docs.items() if doc is None],
        )
        for table, docs in latest.items()
    }


class SyncRepo(Protocol):
    """What the sync needs of the store: the mirror copy and its state, written atomically."""

    async def replace(
        self, tables: Mapping[str, Sequence[Document]], state: Mapping[str, str] | None = None
    ) -> None: ...
    async def apply_changes(
        self,
        changes: Mapping[str, tuple[Sequence[Document], Sequence[str]]],
        state: Mapping[str, str] | None = None,
    ) -> None: ...
    async def get_state(self, key: str) -> str | None: ...
    async def set_state(self, key: str, value: str) -> None: ...


@dataclass(slots=True)
class PassReport:
    snapshot_documents: int = 0  # 0 when the pass resumed from a saved cursor
    changes: int = 0


@dataclass(slots=True)
class Backoff:
    """Exponential delays with jitter, never shorter than the server's Retry-After."""

    base_s: float = 1.0
    cap_s: float = 300.0
    failures: int = 0

    def next_delay(self, hint_s: float | None = None) -> float:
        delay = min(self.cap_s, self.base_s * 2**self.failures) * random.uniform(0.5, 1.0)
        self.failures += 1
        return max(delay, hint_s or 0.0)

    def reset(self) -> None:
        self.failures = 0


def _saved_cursors(saved: str | None, tables: Sequence[str]) -> dict[str, int] | None:
    """The per-table cursors saved by the last pass, or None when there are none to resume from.

    Cursors saved for another set of tables (an older bot that mirrored more, or fewer) are not
    resumed: a fresh snapshot replaces the whole stored copy, so nothing outside today's list
    lingers in the database and nothing new in it is missed.
    """
    if not saved:
        return None
    try:
        data = json.loads(saved)
        if not isinstance(data, dict) or set(data) != set(tables):
            return None
        return {table: int(data[table]) for table in tables}
    except (ValueError, TypeError):
        return None


@dataclass
class ConvexSync:
    """Keeps the store's mirror copy (and, optionally, an in-memory mirror) in step with Convex."""

    api: ConvexExport
    repo: SyncRepo
    mirror: Mirror | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    tables: Sequence[str] = MIRRORED_TABLES

    async def sync_once(self) -> PassReport:
        """A snapshot walk when there is no usable cursor, then deltas up to the present."""
        report = PassReport()
        cursors = _saved_cursors(await self.repo.get_state(CURSORS_KEY), self.tables)
        if cursors is None:
            cursors = await self._snapshot(report)
        try:
            await self._deltas(cursors, report)
        except CursorExpired:
            log.warning(
                "convex: a saved cursor is past Convex's retention; taking a fresh snapshot"
            )
            cursors = await self._snapshot(report)
            await self._deltas(cursors, report)
        return report

    async def run(self, stop: asyncio.Event, *, poll_s: float, backoff: Backoff) -> None:
        """Passes every `poll_s` until `stop` is set; failures back off instead of ending it."""
        while not stop.is_set():
            try:
                report = await self.sync_once()
            except ExportError as exc:
                SYNC_ERRORS.inc()
                delay = backoff.next_delay(exc.retry_after_s)
                log.warning("convex sync failed: %s; retrying in %.1f s", exc, delay)
            except Exception:
                # The store, most likely; the syncer must outlive it and catch up afterwards.
                SYNC_ERRORS.inc()
                delay = backoff.next_delay()
                log.exception("convex sync failed; retrying in %.1f s", delay)
            else:
                backoff.reset()
                delay = poll_s
                if report.snapshot_documents or report.changes:
                    log.info(
                        "convex sync: %d snapshot documents, %d changes",
                        report.snapshot_documents,
                        report.changes,
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _snapshot(self, report: PassReport) -> dict[str, int]:
        """Every mirrored table at one snapshot timestamp, stored in one transaction."""
        rows: dict[str, dict[str, Document]] = {}
        snapshot: int | None = None
        for table in self.tables:
            cursor: str | None = None
            while True:
                page = await self.api.list_snapshot(table, snapshot, cursor)
                snapshot, cursor = page.snapshot, page.cursor
                for got, (upserts, _) in _group(page.values).items():
                    rows.setdefault(got, {}).update((str(doc["_id"]), doc) for doc in upserts)
                if not page.has_more:
                    break
                if cursor is None:
                    raise ExportError("list_snapshot: more pages announced without a cursor")
        if snapshot is None:
            raise ExportError("list_snapshot: no table to take a snapshot of")
        as_of = self.clock()
        data = {table: list(docs.values()) for table, docs in rows.items() if docs}
        cursors = dict.fromkeys(self.tables, snapshot)
        state = {CURSORS_KEY: json.dumps(cursors), **freshness_state(as_of)}
        await self.repo.replace(data, state)
        if self.mirror is not None:
            self.mirror.replace(data, as_of)
        report.snapshot_documents = sum(len(docs) for docs in data.values())
        return cursors

    async def _deltas(self, cursors: dict[str, int], report: PassReport) -> None:
        """Each table's changes since its cursor; `cursors` is advanced in place."""
        stored = dict(cursors)
        for table in self.tables:
            while True:
                page = await self.api.document_deltas(table, cursors[table])
                changes = _group(page.values)
                cursors[table] = page.cursor
                if changes:
                    as_of = self.clock()
                    # Every cursor here is safe to store: each table's changes up to it are in.
                    state = {CURSORS_KEY: json.dumps(cursors), **freshness_state(as_of)}
                    await self.repo.apply_changes(changes, state)
                    stored = dict(cursors)
                    if self.mirror is not None:
                        for name, (upserts, deletes) in changes.items():
                            self.mirror.apply(name, upserts, deletes, as_of)
                    report.changes += sum(len(u) + len(d) for u, d in changes.values())
                if not page.has_more:
                    break
        # Caught up: the data matches StackDock as of now, even when nothing changed. Cursors
        # that moved over no change are saved once here rather than once per table.
        as_of = self.clock()
        state = freshness_state(as_of, changed=False)
        if cursors != stored:
            state[CURSORS_KEY] = json.dumps(cursors)
        await self.repo.apply_changes({}, state)
        if self.mirror is not None:
            mark_fresh(self.mirror, as_of)
