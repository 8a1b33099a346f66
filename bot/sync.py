"""`stackdock-assistant sync [--once]`: keeps the database's copy of StackDock current.

With CONVEX_URL (and CONVEX_DEPLOY_KEY) it runs the live Convex sync; otherwise it loads the
configured snapshot into the database, and without `--once` reloads it whenever the file changes.
Bot processes pick the new data up from the database by themselves. SIGTERM ends it between
passes; every pass commits atomically, so stopping at any moment loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from adapters.stackdock.convex import Backoff, ConvexExport, ConvexSync, ExportError
from adapters.stackdock.demo import load_demo
from adapters.stackdock.snapshot import SnapshotError, SnapshotLoad
from adapters.stackdock.sources import StoreFollower, freshness_state
from adapters.store.database import SqlStore, open_store
from bot.alerts import detect_forever, detector, quietly
from bot.serving import stopping_on_signals
from bot.settings import Settings, SettingsError
from bot.wiring import snapshot_source, utc_now
from core.metrics import SYNC_ERRORS
from core.stackdock.mirror import InMemoryMirror

log = logging.getLogger(__name__)

SYNC_FAILED = 1


async def run_sync(settings: Settings, *, once: bool) -> int:
    store = await open_store(
        settings.database_url, upgrade=settings.database_url.startswith("sqlite")
    )
    try:
        if settings.convex_url:
            return await _convex(settings, store, once=once)
        return await _snapshot(settings, store, once=once)
    finally:
        await store.close()


async def _convex(settings: Settings, store: SqlStore, *, once: bool) -> int:
    if settings.convex_deploy_key is None:
        raise SettingsError("CONVEX_DEPLOY_KEY: required when CONVEX_URL is set")
    assert settings.convex_url is not None
    api = ConvexExport(settings.convex_url, settings.convex_deploy_key.get_secret_value())
    # The syncer keeps an in-memory copy current too, for alert detection to read.
    mirror = InMemoryMirror()
    await quietly("loading the mirror for alerts", StoreFollower(store.mirror, mirror).refresh)
    sync = ConvexSync(api, store.mirror, mirror, clock=utc_now)
    alerts = detector(settings, store, mirror)
    try:
        if once:
            try:
                report = await sync.sync_once()
            except ExportError as exc:
                SYNC_ERRORS.inc()
                log.error("convex sync failed: %s", exc)
                return SYNC_FAILED
            print(
                f"synced from Convex: {report.snapshot_documents} snapshot documents, "
                f"{report.changes} changes"
            )
            await quietly("alert detection", alerts.detect)
            return 0
        log.info("syncing from Convex every %.0f s", settings.convex_poll_s)
        detecting = asyncio.create_task(detect_forever(alerts, settings.mirror_refresh_s))
        try:
            with stopping_on_signals(asyncio.Event()) as stop:
                await sync.run(
                    stop,
                    poll_s=settings.convex_poll_s,
                    backoff=Backoff(cap_s=settings.sync_backoff_max_s),
                )
        finally:
            detecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await detecting
        return 0
    finally:
        await api.aclose()


async def _snapshot(settings: Settings, store: SqlStore, *, once: bool) -> int:
    source = snapshot_source(settings)
    mirror = InMemoryMirror()  # what alert detection reads
    alerts = detector(settings, store, mirror)

    async def save(loaded: SnapshotLoad) -> None:
        await store.mirror.replace(loaded.tables, freshness_state(loaded.as_of))
        mirror.replace(loaded.tables, loaded.as_of)
        count = sum(len(docs) for docs in loaded.tables.values())
        left_out = f"; left out {', '.join(loaded.skipped)}" if loaded.skipped else ""
        print(f"loaded {count} documents from {len(loaded.tables)} tables{left_out}")
        await quietly("alert detection", alerts.detect)

    try:
        if source is None:
            await save(await asyncio.to_thread(load_demo, utc_now()))
        else:
            await save(await source.load())
    except SnapshotError as exc:
        log.error("snapshot: %s", exc)
        return SYNC_FAILED
    if once or source is None:
        return 0
    log.info("watching %s for changes", source.path)
    with stopping_on_signals(asyncio.Event()) as stop:
        while not stop.is_set():
            try:
                await source.reload_if_changed(save)
            except Exception:
                SYNC_ERRORS.inc()
                log.exception("snapshot reload failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.mirror_refresh_s)
    return 0
