"""Live sync from StackDock's Convex deployment through Convex's streaming export API.

The first pass walks `GET /api/list_snapshot` page by page at one pinned snapshot timestamp,
then `GET /api/document_deltas` is polled from that timestamp on. Each page's changes and the
cursor that follows them commit in one transaction, so a restart resumes exactly where the last
commit left off, and a crash can neither skip a change nor replay one onto newer data.

Convex keeps deltas for a limited window; a cursor older than that is refused with a 400, and the
sync starts over from a fresh snapshot. The deploy key travels only in the `Authorization`
header: it is never part of a URL, an exception or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
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

log = logging.getLogger(__name__)

CURSOR_KEY = "convex:cursor"
# Fields the export adds to each document; the mirror keeps documents as `npx convex export` has them.
_EXPORT_FIELDS = ("_table", "_ts", "_deleted", "_component")


class ExportError(Exception):
    """A failed export request; `retry_after_s` is the server's own hint when it gave one."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
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

    async def list_snapshot(self, snapshot: int | None, cursor: str | None) -> SnapshotPage:
        params: dict[str, str] = {"format": "json"}
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

    async def document_deltas(self, cursor: int) -> DeltaPage:
        try:
            body = await self._get(
                "/api/document_deltas", {"cursor": str(cursor), "format": "json"}
            )
        except ExportError as exc:
            # The request carries nothing but the cursor, so a refusal of it means the cursor.
            if exc.status == 400:
                raise CursorExpired(str(exc), status=400) from None
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
            raise ExportError(
                f"{name}: HTTP {response.status_code} {self._reason(response)}",
                status=response.status_code,
                retry_after_s=_retry_after(response),
            )
        try:
            body = response.json()
        except ValueError:
            raise ExportError(f"{name}: the response is not JSON") from None
        if not isinstance(body, dict):
            raise ExportError(f"{name}: the response is not a JSON object")
        return body

    def _reason(self, response: httpx.Response) -> str:
        """Convex's error code and message, with the key cut out should a server echo it."""
        try:
            body = response.json()
            text = f"{body.get('code', '')}: {body.get('message', '')}"[:200]
        except (ValueError, AttributeError):
            text = ""
        return text.replace(self._key, "[redacted]")


def _values(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    values = body["values"]
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        raise TypeError("values is not a list of objects")
    return values


def _split(value: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool] | None:
    """(table, document, deleted) of one export value, or None for tables the bot skips."""
    table = value.get("_table")
    if not isinstance(table, str) or table.startswith("_") or value.get("_component"):
        return None  # system tables and installed components' tables, as the snapshot loader
    if not isinstance(value.get("_id"), str):
        return None
    doc = {k: v for k, v in value.items() if k not in _EXPORT_FIELDS}
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


@dataclass
class ConvexSync:
    """Keeps the store's mirror copy (and, optionally, an in-memory mirror) in step with Convex."""

    api: ConvexExport
    repo: SyncRepo
    mirror: Mirror | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def sync_once(self) -> PassReport:
        """A snapshot walk when there is no usable cursor, then deltas up to the present."""
        report = PassReport()
        saved = await self.repo.get_state(CURSOR_KEY)
        cursor = int(saved) if saved else None
        if cursor is None:
            cursor = await self._snapshot(report)
        try:
            await self._deltas(cursor, report)
        except CursorExpired:
            log.warning("convex: the saved cursor is too old; taking a fresh snapshot")
            cursor = await self._snapshot(report)
            await self._deltas(cursor, report)
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

    async def _snapshot(self, report: PassReport) -> int:
        tables: dict[str, dict[str, Document]] = {}
        snapshot: int | None = None
        cursor: str | None = None
        while True:
            page = await self.api.list_snapshot(snapshot, cursor)
            snapshot, cursor = page.snapshot, page.cursor
            for table, (upserts, _) in _group(page.values).items():
                rows = tables.setdefault(table, {})
                rows.update((str(doc["_id"]), doc) for doc in upserts)
            if not page.has_more:
                break
        as_of = self.clock()
        data = {table: list(rows.values()) for table, rows in tables.items()}
        state = {CURSOR_KEY: str(snapshot), **freshness_state(as_of)}
        await self.repo.replace(data, state)
        if self.mirror is not None:
            self.mirror.replace(data, as_of)
        report.snapshot_documents = sum(len(rows) for rows in data.values())
        return snapshot

    async def _deltas(self, cursor: int, report: PassReport) -> None:
        while True:
            page = await self.api.document_deltas(cursor)
            changes = _group(page.values)
            as_of = self.clock()
            if changes:
                state = {CURSOR_KEY: str(page.cursor), **freshness_state(as_of)}
                await self.repo.apply_changes(changes, state)
                if self.mirror is not None:
                    for table, (upserts, deletes) in changes.items():
                        self.mirror.apply(table, upserts, deletes, as_of)
                report.changes += sum(len(u) + len(d) for u, d in changes.values())
            elif page.cursor != cursor:
                await self.repo.set_state(CURSOR_KEY, str(page.cursor))
            cursor = page.cursor
            if not page.has_more:
                break
        # Caught up: the data matches StackDock as of now, even when nothing changed.
        as_of = self.clock()
        for key, value in freshness_state(as_of, changed=False).items():
            await self.repo.set_state(key, value)
        if self.mirror is not None:
            mark_fresh(self.mirror, as_of)
