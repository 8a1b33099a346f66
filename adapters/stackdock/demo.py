"""The bundled demo snapshot: two orgs, their people, roles and a realistic spread of resources.

The files under `demo/` are written by `scripts/build_demo_snapshot.py` in Convex's export
layout, with times fixed to a reference instant kept in `demo/_demo/documents.jsonl`.
`load_demo(now)` moves every time field by `now - reference`, so "expires in 12 days" stays
true whichever day the demo runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.stackdock.snapshot import SnapshotLoad, load_snapshot
from core.stackdock.fields import TIME_FIELDS

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

# Who to ask as, by what their role shows:
# admin        Acme Admin, every area full, ai full
# developer    Acme Developer (resources read, docks none), ai read
# support      Acme Support (has a `monitoring` key), ai read
# client       Acme Client: projects and resources read, docks none, ai read
# no_ai        Acme Contractor: no `ai` key; the fallback gives ai read (resources read)
# ai_none      Acme Auditor: may read resources, but `ai` is explicitly "none"
# globex_admin Globex Labs Admin
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


def shift_times(doc: dict[str, Any], delta_ms: float) -> dict[str, Any]:
    shifted = dict(doc)
    for name in TIME_FIELDS:
        value = shifted.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            moved = value + delta_ms
            shifted[name] = moved if isinstance(value, float) else round(moved)
    return shifted


def load_demo(now: datetime) -> SnapshotLoad:
    """The demo snapshot with its times moved so that `now` plays the reference instant."""
    loaded = load_snapshot(DEMO_DIR)
    delta_ms = (now - reference_time()).total_seconds() * 1000
    tables = {
        table: [shift_times(doc, delta_ms) for doc in docs] for table, docs in loaded.tables.items()
    }
    return SnapshotLoad(tables=tables, problems=loaded.problems, as_of=now)
