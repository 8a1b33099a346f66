"""A fake Convex streaming-export API on 127.0.0.1: `list_snapshot` and `document_deltas`.

It keeps a write log with one timestamp per write, so a snapshot at any timestamp and the deltas
after any cursor are what a real deployment would answer. Like Convex, both endpoints take an
optional `tableName` and then answer for that table alone (an absent table is simply empty).
Tests can make cursors expire (answered, as Convex does, with a 400 whose code is
`InvalidWindowToReadDocuments`), and queue failures (an HTTP status, or a body that is not JSON)
for the next requests; a queued 400 is a different bad request, with another code.

async with FakeConvex(DEPLOY_KEY, page_size=2) as convex:
    convex.put("servers", {"_id": "s1", "orgId": "o1", "name": "web-1"})
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import web

DEPLOY_KEY = "prod:fake-deployment-123|eyJ2MiI6ImZha2UtZGVwbG95LWtleS1zZWNyZXQifQ"
EXPIRED_CURSOR = "InvalidWindowToReadDocuments"
_FAILURE_CODES = {400: "BadRequest", 429: "Overloaded"}

Failure = int | Literal["garbage"]


@dataclass
class FakeConvex:
    deploy_key: str = DEPLOY_KEY
    page_size: int = 2
    log: list[tuple[int, str, str, dict[str, Any] | None]] = field(default_factory=list)
    failures: deque[Failure] = field(default_factory=deque)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    headers_seen: list[str] = field(default_factory=list)
    retained_from: int = 0  # delta cursors older than this are refused, as past retention
    retry_after: str = "0"
    _ts: int = 1_700_000_000_000_000_000
    _runner: web.AppRunner | None = None
    port: int = 0

    # ---- the deployment's data ----

    def put(self, table: str, doc: dict[str, Any]) -> None:
        self._ts += 1_000
        self.log.append((self._ts, table, doc["_id"], dict(doc)))

    def delete(self, table: str, doc_id: str) -> None:
        self._ts += 1_000
        self.log.append((self._ts, table, doc_id, None))

    def state(self, at: int | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """table -> _id -> document, as of timestamp `at` (now by default)."""
        tables: dict[str, dict[str, dict[str, Any]]] = {}
        for ts, table, doc_id, doc in self.log:
            if at is not None and ts > at:
                break
            rows = tables.setdefault(table, {})
            if doc is None:
                rows.pop(doc_id, None)
            else:
                rows[doc_id] = doc
        return {table: rows for table, rows in tables.items() if rows}

    def expire_cursors(self) -> None:
        """Every cursor before the latest write is now older than the retention window."""
        self.retained_from = self._ts

    def fail_next(self, *failures: Failure) -> None:
        self.failures.extend(failures)

    def calls(self, endpoint: str, table: str | None = None) -> int:
        return sum(
            1
            for path, query in self.requests
            if path.endswith(endpoint) and (table is None or query.get("tableName") == table)
        )

    def tables_asked(self) -> set[str | None]:
        """Every `tableName` requested (None for a request that named no table)."""
        return {query.get("tableName") for _, query in self.requests}

    # ---- the HTTP side ----

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/api/list_snapshot", self._list_snapshot)
        app.router.add_get("/api/document_deltas", self._document_deltas)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _refusal(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.path, dict(request.query)))
        self.headers_seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != f"Convex {self.deploy_key}":
            return web.json_response({"code": "Unauthenticated", "message": "bad key"}, status=401)
        if request.query.get("format") != "json":
            return web.json_response({"code": "BadFormat", "message": "format"}, status=400)
        if not self.failures:
            return None
        failure = self.failures.popleft()
        if failure == "garbage":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        headers = {"Retry-After": self.retry_after} if failure == 429 else {}
        body = {"code": _FAILURE_CODES.get(failure, "InternalError"), "message": "fake"}
        return web.json_response(body, status=failure, headers=headers)

    def _value(self, ts: int, table: str, doc_id: str, doc: dict[str, Any] | None) -> dict:
        if doc is None:
            return {"_id": doc_id, "_table": table, "_ts": ts, "_deleted": True}
        return {**doc, "_table": table, "_ts": ts}

    async def _list_snapshot(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        snapshot = int(request.query.get("snapshot") or self._ts)
        offset = int(request.query.get("cursor") or 0)
        only = request.query.get("tableName")
        rows = [
            (table, doc_id, doc)
            for table, docs in sorted(self.state(snapshot).items())
            if only is None or table == only
            for doc_id, doc in sorted(docs.items())
        ]
        page = rows[offset : offset + self.page_size]
        end = offset + len(page)
        body = {
            "values": [self._value(snapshot, t, i, d) for t, i, d in page],
            "snapshot": snapshot,
            "cursor": str(end),
            "hasMore": end < len(rows),
        }
        return web.json_response(body)

    async def _document_deltas(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        cursor = int(request.query["cursor"])
        if cursor < self.retained_from:
            message = f"Trying to synchronize from timestamp {cursor + 1}, which is too old."
            return web.json_response({"code": EXPIRED_CURSOR, "message": message}, status=400)
        only = request.query.get("tableName")
        newer = [e for e in self.log if e[0] > cursor and (only is None or e[1] == only)]
        page = newer[: self.page_size]
        body = {
            "values": [self._value(*entry) for entry in page],
            "cursor": page[-1][0] if page else max(cursor, self._ts),
            "hasMore": len(newer) > len(page),
        }
        return web.json_response(body)
