"""Keeping a process's in-memory mirror fresh: from a snapshot file, or from the store's copy.

A snapshot source reloads when the file (or, for a directory, any table file) changes. With live
sync the `sync` process writes the store's copy and bumps a version key; every bot process polls
that key and reloads when it moved. Either way the bot answers from memory and never asks
StackDock per question.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from adapters.stackdock.snapshot import DOCUMENTS, SnapshotError, SnapshotLoad, load_snapshot
from core.ports import Mirror
from core.stackdock.tables import is_mirrored

log = logging.getLogger(__name__)

VERSION_KEY = "mirror:version"  # changes whenever the store's copy of the data changes
AS_OF_KEY = "mirror:as_of"  # when the copy was last known to match StackDock (ISO 8601)
# Marking freshness goes through Mirror.apply with no changes; any table name would do.
_FRESHNESS_TABLE = "docks"


def freshness_state(as_of: datetime, *, changed: bool = True) -> dict[str, str]:
    """State keys to commit with the data: its time, and a new version when the data changed."""
    state = {AS_OF_KEY: as_of.isoformat()}
    if changed:
        state[VERSION_KEY] = str(time.time_ns())
    return state


def mark_fresh(mirror: Mirror, as_of: datetime) -> None:
    """Records that the data is unchanged but confirmed current as of `as_of`."""
    if mirror.as_of != as_of:
        mirror.apply(_FRESHNESS_TABLE, (), (), as_of)


class MirrorCopy(Protocol):
    async def load(self) -> dict[str, list[dict[str, Any]]]: ...
    async def get_states(self, *keys: str) -> dict[str, str]: ...


@dataclass
class StoreFollower:
    """Refreshes an in-memory mirror from the store's copy when the syncer has advanced it."""

    copy: MirrorCopy
    mirror: Mirror
    _version: str | None = None

    async def refresh(self) -> bool:
        """True when the data was reloaded; a mere freshness update returns False."""
        states = await self.copy.get_states(VERSION_KEY, AS_OF_KEY)
        version = states.get(VERSION_KEY)
        as_of = datetime.fromisoformat(states[AS_OF_KEY]) if AS_OF_KEY in states else None
        if version is not None and version != self._version and as_of is not None:
            tables = await self.copy.load()
            self.mirror.replace(tables, as_of)
            self._version = version
            log.info("mirror reloaded from the store (%d tables)", len(tables))
            return True
        if as_of is not None and self._version is not None:
            mark_fresh(self.mirror, as_of)
        return False


def _stamp(path: Path) -> tuple[Any, ...] | None:
    """What changes when the snapshot does: size and time of the file, or of each table file
    the bot reads (an export's busy audit log changing alone is no reason to reload)."""
    try:
        if path.is_dir():
            files = sorted(f for f in path.glob(f"*/{DOCUMENTS}") if is_mirrored(f.parent.name))
            return tuple(
                (f.name, f.parent.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files
            )
        stat = path.stat()
        return (stat.st_mtime_ns, stat.st_size)
    except OSError:
        return None  # mid-replacement: try again on the next tick


@dataclass
class SnapshotSource:
    """A `npx convex export` ZIP or directory, reloaded when it changes on disk."""

    path: Path
    loader: Callable[[Path], SnapshotLoad] = load_snapshot
    _loaded: tuple[Any, ...] | None = field(default=None, repr=False)

    def changed(self) -> bool:
        stamp = _stamp(self.path)
        return stamp is not None and stamp != self._loaded

    async def load(self) -> SnapshotLoad:
        """Reads the snapshot (off the event loop); raises SnapshotError when it is unreadable."""
        stamp = _stamp(self.path)
        loaded = await asyncio.to_thread(self.loader, self.path)
        self._loaded = stamp
        for problem in loaded.problems:
            log.warning("snapshot %s: %s (line skipped)", self.path, problem)
        if loaded.skipped:
            log.info(
                "snapshot %s: left out tables the bot does not use: %s",
                self.path,
                ", ".join(loaded.skipped),
            )
        return loaded

    async def reload_if_changed(self, apply: Callable[[SnapshotLoad], Awaitable[None]]) -> bool:
        if not self.changed():
            return False
        try:
            loaded = await self.load()
        except SnapshotError as exc:
            # A ZIP still being copied in is unreadable for a moment; keep the data we have.
            log.warning("snapshot changed but could not be read yet: %s", exc)
            return False
        await apply(loaded)
        log.info("snapshot reloaded from %s", self.path)
        return True


async def every(interval_s: float, tick: Callable[[], Awaitable[object]], what: str) -> None:
    """Runs `tick` every `interval_s` until cancelled; a failing tick is logged, not fatal."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The database being down is expected here; the next tick will catch up.
            log.warning("%s failed (%s); retrying in %.0f s", what, type(exc).__name__, interval_s)
