"""The operator's endpoints, served next to any transport: health, readiness and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.metrics import REGISTRY

if TYPE_CHECKING:
    from bot.wiring import Runtime

log = logging.getLogger(__name__)

# Probes give up after about a second; /readyz must have answered by then, whatever the
# database does.
READY_TIMEOUT_S = 0.8


class DatabaseProbe:
    """Pings the database for /readyz without ever making a probe wait past the timeout.

    The ping is not awaited to its end: a ping cancelled on a black-holed connection can take
    as long again to clean up. One ping at a time, so a probe every second against a silent
    database does not pile up connections.
    """

    def __init__(self, ping: Callable[[], Awaitable[None]], timeout_s: float) -> None:
        self._ping = ping
        self._timeout_s = timeout_s
        self._pending: asyncio.Future[None] | None = None

    async def problem(self) -> str | None:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self._ping())
            self._pending.add_done_callback(_consume)
        done, _ = await asyncio.wait({self._pending}, timeout=self._timeout_s)
        if not done:
            log.warning("readiness: the database did not answer in %.1f s", self._timeout_s)
            return "database unreachable"
        exc = self._pending.exception()
        if exc is not None:
            # The error may quote the database URL, password included: name its type only.
            log.warning("readiness: database unreachable (%s)", type(exc).__name__)
            return "database unreachable"
        return None


def _consume(future: asyncio.Future[None]) -> None:
    # A ping that ended after its probe gave up: its outcome was reported as a timeout.
    if not future.cancelled():
        future.exception()


def add_health_routes(
    app: web.Application, rt: Runtime, *, ready_timeout_s: float = READY_TIMEOUT_S
) -> None:
    """`/healthz` (the process answers), `/readyz` (database, mirror, platform), `/metrics`."""
    database = DatabaseProbe(rt.store.ping, ready_timeout_s)

    async def healthz(request: web.Request) -> web.Response:
        # Liveness only; the mirror's age is shown so an operator sees a stalled sync at once.
        as_of = rt.mirror.as_of
        age = None if as_of is None else round((datetime.now(UTC) - as_of).total_seconds())
        return web.json_response(
            {
                "status": "ok",
                "mirror_as_of": None if as_of is None else as_of.isoformat(),
                "mirror_age_s": age,
            }
        )

    async def readyz(request: web.Request) -> web.Response:
        as_of = rt.mirror.as_of
        problems = [
            await database.problem(),
            "StackDock mirror not loaded" if as_of is None else None,
            *[await check() for check in rt.ready_checks],
        ]
        found = [problem for problem in problems if problem]
        if found or as_of is None:
            return web.json_response({"status": "unavailable", "problems": found}, status=503)
        return web.json_response({"status": "ready", "mirror_as_of": as_of.isoformat()})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def health_app(rt: Runtime) -> web.Application:
    """A web app with only the operator's endpoints (platforms that need no inbound HTTP)."""
    app = web.Application()
    add_health_routes(app, rt)
    return app
