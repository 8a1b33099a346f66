from __future__ import annotations

import importlib.util
import json
import os
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.stackdock.demo import (
    DEMO_ADMIN_USER_ID,
    DEMO_DIR,
    DEMO_ENCRYPTED_API_KEY,
    DEMO_SECRETS,
    DEMO_USERS,
    load_demo,
    reference_time,
)
from adapters.stackdock.snapshot import SnapshotError, load_snapshot
from core.access import MONITORING_KINDS, RESOURCE_KINDS, effective_permissions
from tests.unit.stackdock_fixtures import NOW

SERVERS = [
    {"_id": "s1", "orgId": "o1", "name": "web-1", "status": "running", "brandNewField": 7},
    {"_id": "s2", "orgId": "o1", "name": "web-2", "status": "off"},
]


def export_files() -> dict[str, str]:
    """The entries `npx convex export` writes, with StackDock-like tables."""
    lines = "".join(json.dumps(d) + "\n" for d in SERVERS)
    return {
        "README.md": "# Snapshot\n",
        "_tables/documents.jsonl": '{"name":"servers","id":10001}\n{"name":"widgets","id":10002}\n',
        "_storage/documents.jsonl": "",
        "servers/documents.jsonl": lines,
        "servers/generated_schema.jsonl": '"schema"\n',
        "widgets/documents.jsonl": '{"_id":"w1","orgId":"o1","colour":"teal"}\n',
        "_components/ratelimiter/limits/documents.jsonl": '{"_id":"l1"}\n',
    }


def write_dir(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def write_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.fixture(params=["zip", "dir"])
def snapshot_path(request, tmp_path: Path):
    def make(files: dict[str, str]) -> Path:
        if request.param == "zip":
            return write_zip(tmp_path / "snapshot.zip", files)
        return write_dir(tmp_path / "snapshot", files)

    return make


def test_loads_tables_and_skips_system_folders(snapshot_path) -> None:
    loaded = load_snapshot(snapshot_path(export_files()))
    assert set(loaded.tables) == {"servers"}
    assert loaded.tables["servers"] == SERVERS
    assert loaded.problems == []


def test_unknown_fields_are_kept_and_unmirrored_tables_left_out(snapshot_path) -> None:
    loaded = load_snapshot(snapshot_path(export_files()))
    assert "widgets" not in loaded.tables and loaded.skipped == ["widgets"]
    assert loaded.tables["servers"][0]["brandNewField"] == 7


def test_malformed_lines_are_reported_and_the_rest_kept(snapshot_path) -> None:
    files = export_files()
    files["servers/documents.jsonl"] = (
        json.dumps(SERVERS[0])
        + "\n{not json\n"
        + "[1, 2]\n"
        + "\n"
        + '{"orgId": "o1"}\n'
        + json.dumps(SERVERS[1])
        + "\n"
    )
    loaded = load_snapshot(snapshot_path(files))
    assert loaded.tables["servers"] == SERVERS
    assert len(loaded.problems) == 3
    assert loaded.problems[0].startswith("servers/documents.jsonl:2: invalid JSON")
    assert loaded.problems[1] == "servers/documents.jsonl:3: not a JSON object"
    assert loaded.problems[2] == "servers/documents.jsonl:5: document has no _id"


def test_invalid_utf8_line_is_reported(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "snap", {"servers/documents.jsonl": ""})
    good = json.dumps(SERVERS[0]).encode()
    (root / "servers" / "documents.jsonl").write_bytes(good + b"\n\xff\xfe{}\n")
    loaded = load_snapshot(root)
    assert loaded.tables["servers"] == [SERVERS[0]]
    assert loaded.problems == ["servers/documents.jsonl:2: not UTF-8"]


def test_too_deep_or_unreadable_lines_are_reported_and_the_rest_kept(snapshot_path) -> None:
    deep = '{"_id": "s9", "fullApiData": ' + "[" * 100_000 + "]" * 100_000 + "}"
    at_the_limit = {"_id": "s8", "orgId": "o1", "x": json.loads("[" * 63 + "]" * 63)}
    files = export_files()
    files["servers/documents.jsonl"] = "\n".join(
        [
            json.dumps(SERVERS[0]),
            deep,
            '{"_id": "s7", "n": ' + "9" * 5000 + "}",  # more digits than Python converts
            '{"_id": "s6", "note": "' + "[" * 500 + '"}',  # brackets in a string do not nest
            json.dumps(at_the_limit),
            json.dumps(SERVERS[1]),
        ]
    )
    loaded = load_snapshot(snapshot_path(files))
    assert [d["_id"] for d in loaded.tables["servers"]] == ["s1", "s6", "s8", "s2"]
    assert loaded.problems == [
        "servers/documents.jsonl:2: nested deeper than 64 levels",
        "servers/documents.jsonl:3: unreadable JSON (ValueError)",
    ]


def test_as_of_is_the_file_time(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "s.zip", export_files())
    stamp = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    assert load_snapshot(path).as_of == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_missing_or_non_zip_path_raises(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError):
        load_snapshot(tmp_path / "absent.zip")
    not_zip = tmp_path / "notes.txt"
    not_zip.write_text("hello")
    with pytest.raises(SnapshotError):
        load_snapshot(not_zip)


# ---- the bundled demo snapshot ----

RESOURCE_TABLES = RESOURCE_KINDS + MONITORING_KINDS
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def demo() -> dict[str, list[dict]]:
    loaded = load_demo(NOW)
    assert loaded.problems == []
    assert loaded.as_of == NOW
    return loaded.tables


def role_of(demo: dict, email: str, org: str | None = None) -> dict:
    user = next(u for u in demo["users"] if u["email"] == email)
    memberships = [m for m in demo["memberships"] if m["userId"] == user["_id"]]
    membership = next(m for m in memberships if org is None or m["orgId"] == org)
    return next(r for r in demo["roles"] if r["_id"] == membership["orgRole"])


def test_demo_is_in_convex_export_layout() -> None:
    assert (DEMO_DIR / "_tables" / "documents.jsonl").is_file()
    listed = {json.loads(line)["name"] for line in (DEMO_DIR / "_tables/documents.jsonl").open()}
    on_disk = {p.parent.name for p in DEMO_DIR.glob("*/documents.jsonl")} - {"_tables", "_demo"}
    assert listed == on_disk


def test_demo_orgs_people_and_roles(demo: dict) -> None:
    assert {o["name"] for o in demo["organizations"]} == {"Acme Cloud", "Globex Labs"}
    assert len(demo["users"]) >= 6
    emails = {u["email"] for u in demo["users"]}
    assert set(DEMO_USERS.values()) <= emails
    assert any(u["_id"] == DEMO_ADMIN_USER_ID for u in demo["users"])

    acme_names = {r["name"] for r in demo["roles"] if r["orgId"] == "org_acme"}
    assert {"Admin", "Developer", "Support", "Client"} <= acme_names
    # Real roles: no `ai` key (but the Auditor's, set by hand); org creation's Admin has the
    # five areas and no `monitoring`.
    for key in ("admin", "developer", "support", "client", "no_ai", "globex_admin"):
        assert "ai" not in role_of(demo, DEMO_USERS[key])["permissions"], key
    admin = role_of(demo, DEMO_USERS["admin"])["permissions"]
    assert admin == dict.fromkeys(
        ("projects", "resources", "docks", "operations", "settings"), "full"
    )
    assert effective_permissions(admin)["ai"] == "full"
    assert effective_permissions(admin)["monitoring"] == "read"
    client = effective_permissions(role_of(demo, DEMO_USERS["client"])["permissions"])
    assert (client["projects"], client["resources"], client["ai"]) == ("read", "read", "read")
    assert role_of(demo, DEMO_USERS["ai_none"])["permissions"]["ai"] == "none"
    no_ai = effective_permissions(role_of(demo, DEMO_USERS["no_ai"])["permissions"])
    assert no_ai["ai"] == "read"

    both = next(u for u in demo["users"] if u["email"] == DEMO_USERS["both_orgs"])
    orgs = {m["orgId"] for m in demo["memberships"] if m["userId"] == both["_id"]}
    assert orgs == {"org_acme", "org_globex"}
    assert both["defaultOrgId"] in orgs


def test_demo_resources_are_plenty_and_differ_per_org(demo: dict) -> None:
    rows = [d for t in RESOURCE_TABLES for d in demo.get(t, [])]
    assert len(rows) >= 60
    assert sum(1 for t in RESOURCE_TABLES if demo.get(t)) >= 10
    for table in ("docks", "projects", "projectResources"):
        assert demo[table]
    providers = {d["provider"] for d in rows}
    assert len(providers) >= 12
    per_org = Counter(d["orgId"] for d in rows)
    assert per_org["org_acme"] >= per_org["org_globex"] + 15
    acme = Counter(d["provider"] for d in rows if d["orgId"] == "org_acme")
    globex = Counter(d["provider"] for d in rows if d["orgId"] == "org_globex")
    assert acme != globex


def test_demo_has_real_problems_in_real_shapes(demo: dict) -> None:
    now_ms = NOW.timestamp() * 1000
    failing = [d for d in demo["docks"] if d["lastSyncStatus"] == "error"]
    assert failing and all(d.get("lastSyncError") for d in failing)
    assert failing[0]["syncConfig"]["consecutiveFailures"] == 4
    assert failing[0]["syncConfig"]["backoffUntil"] > now_ms  # the next try is ahead
    assert any(m["status"] == "down" for m in demo["monitors"])
    assert {m["provider"] for m in demo["monitors"]} == {"better-stack"}
    open_levels = {
        i["fullApiData"]["issue"]["level"]: i["severity"]
        for i in demo["issues"]
        if i["status"] == "open"
    }
    assert (open_levels["fatal"], open_levels["error"]) == ("critical", "high")
    assert {i["status"] for i in demo["issues"]} == {"open", "resolved", "ignored"}
    assert {s["status"] for s in demo["servers"]} == {"running", "stopped"}
    assert {w["status"] for w in demo["webServices"]} == {"running", "error"}
    assert all("status" not in r for r in demo["repositories"])
    assert any(not s["enabled"] for s in demo["backupSchedules"])
    # Cloudflare zones have no expiry; GridPane's is a guess, one of them within 30 days.
    assert all("expiresAt" not in d for d in demo["domains"] if d["provider"] == "cloudflare")
    guesses = [d["expiresAt"] - now_ms for d in demo["domains"] if d["provider"] == "gridpane"]
    assert any(0 < days <= 30 * DAY_MS for days in guesses)
    deployed = [w for w in demo["webServices"] if w["provider"] in ("vercel", "netlify")]
    assert all(
        "targets" in w["fullApiData"] or "published_deploy" in w["fullApiData"] for w in deployed
    )


def test_demo_times_follow_the_day_it_runs() -> None:
    shifted = load_demo(NOW).tables
    original = load_snapshot(DEMO_DIR).tables
    delta = (NOW - reference_time()).total_seconds() * 1000
    for before, after in zip(original["domains"], shifted["domains"], strict=True):
        if "expiresAt" in before:
            assert after["expiresAt"] == round(before["expiresAt"] + delta)
        assert after["_creationTime"] == pytest.approx(before["_creationTime"] + delta)
        assert after["domainName"] == before["domainName"]
    # Provider times inside payloads move too, each in its own format.
    pairs = zip(original["webServices"], shifted["webServices"], strict=True)
    for before, after in pairs:
        api, moved = before["fullApiData"], after["fullApiData"]
        if "targets" in api:
            created = api["targets"]["production"]["createdAt"]
            assert moved["targets"]["production"]["createdAt"] == round(created + delta)
            assert api["targets"]["production"]["createdAt"] == created  # the file is untouched
        if "published_deploy" in api:
            published = datetime.fromisoformat(api["published_deploy"]["published_at"])
            now_published = moved["published_deploy"]["published_at"]
            assert now_published.endswith(".000Z")
            assert datetime.fromisoformat(now_published) - published == NOW - reference_time()
        if "updated_at" in api:  # GridPane's own "YYYY-MM-DD HH:MM:SS"
            updated = datetime.fromisoformat(api["updated_at"])
            assert datetime.fromisoformat(moved["updated_at"]) - updated == NOW - reference_time()
    (dock,) = [d for d in shifted["docks"] if d["lastSyncStatus"] == "error"]
    (raw,) = [d for d in original["docks"] if d["lastSyncStatus"] == "error"]
    assert dock["syncConfig"]["backoffUntil"] == round(raw["syncConfig"]["backoffUntil"] + delta)


def test_demo_plants_every_secret_and_some_harmless_detail(demo: dict) -> None:
    text = json.dumps(demo)
    raw = "".join(p.read_text("utf-8") for p in DEMO_DIR.glob("*/documents.jsonl"))
    for secret in DEMO_SECRETS:
        assert secret in raw
        # Encrypted dock keys are dropped as the snapshot loads; the rest is for redaction.
        assert (secret in text) == (secret != DEMO_ENCRYPTED_API_KEY)
    servers = [s["fullApiData"] for s in demo["servers"]]
    assert any("memory" in api for api in servers)


def test_demo_files_are_what_the_build_script_writes(tmp_path: Path) -> None:
    """The bundled demo is regenerated, never hand-edited: the script's output is the tree."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_demo_snapshot.py"
    spec = importlib.util.spec_from_file_location("build_demo_snapshot", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(tmp_path / "demo")
    written = {p.relative_to(tmp_path / "demo"): p.read_bytes() for p in tmp_path.rglob("*.jsonl")}
    bundled = {p.relative_to(DEMO_DIR): p.read_bytes() for p in DEMO_DIR.rglob("*.jsonl")}
    assert written.keys() == bundled.keys()
    assert [name for name in written if written[name] != bundled[name]] == []
