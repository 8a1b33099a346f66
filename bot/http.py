"""The operator's endpoints, served next to any transport: health, readiness and metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.wiring import Runtime
from core.metrics import REGISTRY

log = logging.getLogger(__name__)


def add_health_routes(app: web.Application, rt: Runtime) -> None:
    """`/healthz` (the process answers), `/readyz` (database and mirror), `/metrics`."""

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
        problems = []
        try:
            await rt.store.ping()
        except Exception as exc:
            # The error may quote the database URL, password included: name its type only.
            log.warning("readiness: database unreachable (%s)", type(exc).__name__)
            problems.append("database unreachable")
        if rt.mirror.as_of is None:
            problems.append("StackDock mirror not loaded")
        if problems:
            return web.json_response({"status": "unavailable", "problems": problems}, status=503)
        return web.json_response({"status": "ready", "mirror_as_of": rt.mirror.as_of.isoformat()})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
