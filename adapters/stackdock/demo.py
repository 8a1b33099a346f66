"""The bundled demo snapshot: two orgs, their people, roles and a realistic spread of resources.

The files under `demo/` are written by `scripts/build_demo_snapshot.py` in Convex's export
layout, in the shapes StackDock's adapters write, with times fixed to a reference instant kept
in `demo/_demo/documents.jsonl`. `load_demo(now)` moves every time by `now - reference`: the
top-level time fields, and the provider times inside `fullApiData` and `syncConfig` that
answers read (deploy times, GridPane's `updated_at`, Sentry's first and last seen, a dock's
next try), in the format each was written in. So "deployed 2 days ago" and "next try in 25
minutes" stay true whichever day the demo runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.stackdock.snapshot import SnapshotLoad, load_snapshot
from core.stackdock.fields import TIME_FIELDS, epoch_ms

DEMO_DIR = Path(__file__).with_name("demo")
META_FILE = DEMO_DIR / "_demo" / "documents.jsonl"


# Fake credentials planted in the demo so tests can prove they never leave the core.
DEMO_API_TOKEN = "sdk_live_FAKE_DEMO_SECRET_9f8e7d6c5b4a"
DEMO_PASSWORD = "hunter2-demo-password"
DEMO_DB_PASSWORD = "pg-demo-pass-7Hq2xK"
DEMO_ENCRYPTED_API_KEY = "enc_v1_Zk3QaR9tLm2XpW7cVb4NJ8sHd6Fy1Tq5UeG0kOi3Az"
DEMO_SECRETS: tuple[str, ...] = (
    DEMO_API_TOKEN,
    DEMO_PASSWORD,
    DEMO_DB_PASSWORD,
    DEMO_ENCRYPTED_API_KEY,
)

DEMO_ORGS = {"acme": "org_acme", "globex": "org_globex"}
DEMO_ADMIN_USER_ID = "usr_ada"

# Who to ask as, by what their role shows. No real StackDock role has an `ai` key, so every
# one but the Auditor's gets the documented fallback (core/access.py):
# admin        Acme Admin as org creation makes it: five areas full, no `monitoring` key
#              (fallback: read) -> ai full (settings full)
# developer    Acme Developer (resources read, docks none, monitoring read) -> ai read
# support      Acme Support (projects, resources and monitoring read) -> ai read
# client       Acme Client: projects and resources read, no `monitoring` key -> ai read
# no_ai        Acme Contractor: projects and resources read, no `ai` key -> ai read
# ai_none      Acme Auditor: may read resources, but `ai` is explicitly "none"
# globex_admin Globex Labs Admin, migrated (monitoring and provisioning full) -> ai full
# both_orgs    Developer in both orgs; defaultOrgId is Globex Labs
DEMO_USERS: dict[str, str] = {
    "admin": "ada@acme.example",
    "developer": "devon@acme.example",
    "support": "sam@acme.example",
    "client": "cleo@client.example",
    "no_ai": "nico@acme.example",
    "ai_none": "audrey@acme.example",
    "globex_admin": "grace@globex.example",
    "both_orgs": "max@globex.example",
}


def reference_time(meta_file: Path = META_FILE) -> datetime:
    """The instant the bundled demo's times were written against."""
    for line in meta_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            return datetime.fromtimestamp(json.loads(line)["referenceTime"] / 1000, UTC)
    raise ValueError(f"{meta_file}: no reference time")


# Times inside documents, as paths ("*" = every item of a list).
NESTED_TIME_PATHS: tuple[tuple[str, ...], ...] = (
    ("fullApiData", "targets", "production", "createdAt"),
    ("fullApiData", "latestDeployments", "*", "createdAt"),
    ("fullApiData", "published_deploy", "published_at"),
    ("fullApiData", "updated_at"),
    ("fullApiData", "issue", "firstSeen"),
    ("fullApiData", "issue", "lastSeen"),
    ("syncConfig", "lastSyncAttempt"),
    ("syncConfig", "backoffUntil"),
)
_ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
_ISO_S = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_SPACED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def _moved(value: Any, delta_ms: float) -> Any:
    """`value` (ms, or a time string in one of the providers' formats) moved by `delta_ms`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        moved = value + delta_ms
        return moved if isinstance(value, float) else round(moved)
    if not isinstance(value, str) or (ms := epoch_ms(value)) is None:
        return value
    when = datetime.fromtimestamp((ms + delta_ms) / 1000, UTC)
    if _ISO_MS.match(value):
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    if _ISO_S.match(value):
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if _SPACED.match(value):
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return value


def _shift_path(node: Any, path: Sequence[str], delta_ms: float) -> Any:
    """A copy of `node` with the time at `path` moved; the original is left as it was."""
    if not path:
        return _moved(node, delta_ms)
    head, rest = path[0], path[1:]
    if head == "*":
        return (
            [_shift_path(item, rest, delta_ms) for item in node] if isinstance(node, list) else node
        )
    if not isinstance(node, dict) or head not in node:
        return node
    return {**node, head: _shift_path(node[head], rest, delta_ms)}


def shift_times(doc: dict[str, Any], delta_ms: float) -> dict[str, Any]:
    shifted = dict(doc)
    for name in TIME_FIELDS:
        if name in shifted:
            shifted[name] = _moved(shifted[name], delta_ms)
    for path in NESTED_TIME_PATHS:
        shifted = _shift_path(shifted, path, delta_ms)
    return shifted


def load_demo(now: datetime) -> SnapshotLoad:
    """The demo snapshot with its times moved so that `now` plays the reference instant."""
    loaded = load_snapshot(DEMO_DIR)
    delta_ms = (now - reference_time()).total_seconds() * 1000
    tables = {
        table: [shift_times(doc, delta_ms) for doc in docs] for table, docs in loaded.tables.items()
    }
    return SnapshotLoad(tables=tables, problems=loaded.problems, as_of=now)
