"""Live sync through the real httpx client against the fake Convex streaming export."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from adapters.stackdock.convex import (
    CURSORS_KEY,
    Backoff,
    ConvexExport,
    ConvexSync,
    CursorExpired,
    ExportError,
)
from adapters.stackdock.sources import StoreFollower
from adapters.store import open_store
from adapters.store.database import SqlStore
from core.metrics import SYNC_ERRORS
from core.stackdock.mirror import InMemoryMirror
from core.stackdock.tables import MIRRORED_TABLES
from tests.fakes.services.convex_api import DEPLOY_KEY, EXPIRED_CURSOR, FakeConvex

ROOT = Path(__file__).resolve().parents[2]


def seed(convex: FakeConvex) -> None:
    convex.put("organizations", {"_id": "org1", "name": "Acme", "ownerId": "u1"})
    convex.put("users", {"_id": "u1", "name": "Ada", "email": "ada@acme.test"})
    for n in range(5):
        convex.put(
            "servers", {"_id": f"s{n}", "orgId": "org1", "name": f"web-{n}", "status": "running"}
        )
    convex.put("_scheduled_functions", {"_id": "sys1", "name": "system table"})
    convex.put("auditLogs", {"_id": "a1", "orgId": "org1", "action": "ai.chat"})


def ids(mirror: InMemoryMirror, table: str) -> set[str]:
    return {str(doc["_id"]) for doc in mirror.rows("org1", table)}


async def stored(store: SqlStore) -> dict[str, dict[str, dict]]:
    return {t: {d["_id"]: d for d in docs} for t, docs in (await store.mirror.load()).items()}


@pytest.fixture
async def store(db_url: str):
    opened = await open_store(db_url, upgrade=True)
    yield opened
    await opened.close()


async def test_paged_snapshot_then_deltas_with_deletes(store: SqlStore) -> None:
    async with FakeConvex(page_size=2) as convex:
        seed(convex)
        mirror = InMemoryMirror()
        api = ConvexExport(convex.url, DEPLOY_KEY)
        sync = ConvexSync(api, store.mirror, mirror)
        first = await sync.sync_once()
        assert first.snapshot_documents == 7  # the system table and the audit log stay behind
        # One walk per mirrored table: 5 servers take 3 pages of 2, every other table one.
        assert convex.calls("list_snapshot", "servers") == 3
        assert convex.calls("list_snapshot") == len(MIRRORED_TABLES) - 1 + 3
        assert ids(mirror, "servers") == {f"s{n}" for n in range(5)}

        convex.put("servers", {"_id": "s1", "orgId": "org1", "name": "web-1b", "status": "stopped"})
        convex.delete("servers", "s2")
        convex.put("servers", {"_id": "s9", "orgId": "org1", "name": "web-9", "status": "running"})
        convex.put("servers", {"_id": "s9", "orgId": "org1", "name": "web-9", "status": "off"})
        convex.delete("servers", "s3")
        second = await sync.sync_once()
        await api.aclose()

    assert second.snapshot_documents == 0 and second.changes > 0
    expected = convex.state()
    assert ids(mirror, "servers") == set(expected["servers"]) == {"s0", "s1", "s4", "s9"}
    assert mirror.get("servers", "s9")["status"] == "off"
    rows = await stored(store)
    assert rows["servers"] == expected["servers"]
    assert "_table" not in rows["servers"]["s1"] and "_ts" not in rows["servers"]["s1"]
    assert "_scheduled_functions" not in rows and "auditLogs" not in rows
    cursors = json.loads(await store.mirror.get_state(CURSORS_KEY) or "{}")
    assert set(cursors) == set(MIRRORED_TABLES) and cursors["servers"] == convex.log[-1][0]
    # Every request named its table, and only tables the bot mirrors were ever asked for.
    assert convex.tables_asked() == set(MIRRORED_TABLES)


async def test_a_restart_resumes_from_the_saved_cursor(store: SqlStore) -> None:
    async with FakeConvex(page_size=3) as convex:
        seed(convex)
        api = ConvexExport(convex.url, DEPLOY_KEY)
        await ConvexSync(api, store.mirror).sync_once()
        walked = convex.calls("list_snapshot")
        convex.delete("servers", "s0")
        # A new process: a new client and sync object over the same database.
        restarted = ConvexExport(convex.url, DEPLOY_KEY)
        report = await ConvexSync(restarted, store.mirror).sync_once()
        await api.aclose()
        await restarted.aclose()
    assert convex.calls("list_snapshot") == walked  # no second walk
    assert report.snapshot_documents == 0 and report.changes == 1
    assert set((await stored(store))["servers"]) == {"s1", "s2", "s3", "s4"}


async def test_an_expired_cursor_falls_back_to_a_fresh_snapshot(store: SqlStore) -> None:
    async with FakeConvex(page_size=4) as convex:
        seed(convex)
        api = ConvexExport(convex.url, DEPLOY_KEY)
        sync = ConvexSync(api, store.mirror)
        await sync.sync_once()
        convex.delete("servers", "s4")
        convex.put("servers", {"_id": "s7", "orgId": "org1", "name": "web-7"})
        convex.expire_cursors()
        report = await sync.sync_once()
        await api.aclose()
    assert report.snapshot_documents == 7
    assert (await stored(store))["servers"] == convex.state()["servers"]


async def test_only_the_expired_cursor_code_is_a_cursor_expiry(store: SqlStore) -> None:
    async with FakeConvex() as convex:
        seed(convex)
        api = ConvexExport(convex.url, DEPLOY_KEY)
        await ConvexSync(api, store.mirror).sync_once()
        convex.expire_cursors()
        with pytest.raises(CursorExpired) as expired:
            await api.document_deltas("servers", 1)
        convex.fail_next(400)
        with pytest.raises(ExportError) as other:
            await api.document_deltas("servers", convex.log[-1][0])
        await api.aclose()
    assert expired.value.code == EXPIRED_CURSOR
    assert other.value.status == 400 and not isinstance(other.value, CursorExpired)
    assert other.value.code == "BadRequest" and "HTTP 400 BadRequest" in str(other.value)


async def test_another_400_backs_off_and_never_restarts_the_snapshot(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.stackdock.convex")
    errors_before = SYNC_ERRORS._value.get()
    async with FakeConvex() as convex:
        seed(convex)
        api = ConvexExport(convex.url, DEPLOY_KEY)
        mirror = InMemoryMirror()
        sync = ConvexSync(api, store.mirror, mirror)
        await sync.sync_once()
        walked = convex.calls("list_snapshot")

        convex.fail_next(400)
        with pytest.raises(ExportError) as once:
            await sync.sync_once()
        assert once.value.status == 400 and not isinstance(once.value, CursorExpired)

        convex.delete("servers", "s0")
        convex.fail_next(400, 400)
        backoff = RecordedBackoff()
        stop = asyncio.Event()
        task = asyncio.create_task(sync.run(stop, poll_s=0.05, backoff=backoff))
        for _ in range(100):  # at most 5 s
            if "s0" not in ids(mirror, "servers"):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)
        await api.aclose()
    assert ids(mirror, "servers") == {"s1", "s2", "s3", "s4"}  # caught up through deltas
    assert convex.calls("list_snapshot") == walked  # no snapshot walk, ever
    assert len(backoff.delays) == 2 and backoff.failures == 0
    assert SYNC_ERRORS._value.get() - errors_before == 2  # counted by the running syncer
    failures = [r.getMessage() for r in caplog.records if "convex sync failed" in r.getMessage()]
    assert len(failures) == 2 and all("HTTP 400 BadRequest" in m for m in failures)
    assert not any("fresh snapshot" in r.getMessage() for r in caplog.records)


async def test_cursors_of_an_older_table_list_start_over_and_drop_its_rows(
    store: SqlStore,
) -> None:
    # What a version that mirrored everything left behind: one cursor, and the audit log.
    await store.mirror.replace(
        {"auditLogs": [{"_id": "old1", "userAgent": "curl/8.0"}], "servers": []},
        {"convex:cursor": "1700000000000000000"},
    )
    async with FakeConvex() as convex:
        seed(convex)
        api = ConvexExport(convex.url, DEPLOY_KEY)
        report = await ConvexSync(api, store.mirror).sync_once()
        await api.aclose()
    assert report.snapshot_documents == 7
    assert set(await stored(store)) == {"organizations", "users", "servers"}


async def test_credential_fields_are_dropped_from_snapshots_and_deltas(store: SqlStore) -> None:
    dock = {"_id": "d1", "orgId": "org1", "name": "GridPane", "provider": "gridpane"}
    async with FakeConvex() as convex:
        seed(convex)
        convex.put("docks", {**dock, "encryptedApiKey": "enc_v1_snapshot_key"})
        convex.put("users", {"_id": "u2", "email": "bo@acme.test", "clerkId": "user_2bo"})
        api = ConvexExport(convex.url, DEPLOY_KEY)
        mirror = InMemoryMirror()
        sync = ConvexSync(api, store.mirror, mirror)
        await sync.sync_once()
        assert mirror.get("docks", "d1") == dock
        assert mirror.get("users", "u2") == {"_id": "u2", "email": "bo@acme.test"}
        convex.put(
            "docks",
            {
                **dock,
                "lastSyncStatus": "error",
                "encryptedApiKey": "enc_v1_delta_key",
                "provisioningCredentials": "enc_v1_delta_provisioning",
                "providerMetadata": {"encryptedToken": "enc_v1_nested", "region": "eu"},
            },
        )
        report = await sync.sync_once()
        await api.aclose()
    assert report.changes == 1
    expected = {**dock, "lastSyncStatus": "error", "providerMetadata": {"region": "eu"}}
    assert mirror.get("docks", "d1") == expected
    assert (await stored(store))["docks"]["d1"] == expected


class RecordedBackoff(Backoff):
    def __init__(self) -> None:
        super().__init__(base_s=0.02, cap_s=1.0)
        self.delays: list[float] = []

    def next_delay(self, hint_s: float | None = None) -> float:
        self.delays.append(super().next_delay(hint_s))
        return self.delays[-1]


async def test_429_500_and_garbage_back_off_then_recover(store: SqlStore) -> None:
    errors_before = SYNC_ERRORS._value.get()
    async with FakeConvex() as convex:
        seed(convex)
        convex.fail_next(429, 500, "garbage", 503)
        convex.retry_after = "0.05"
        api = ConvexExport(convex.url, DEPLOY_KEY)
        mirror = InMemoryMirror()
        sync = ConvexSync(api, store.mirror, mirror)
        backoff = RecordedBackoff()
        stop = asyncio.Event()
        task = asyncio.create_task(sync.run(stop, poll_s=0.05, backoff=backoff))
        for _ in range(100):  # at most 5 s
            if ids(mirror, "servers"):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)
        await api.aclose()
    assert ids(mirror, "servers") == {f"s{n}" for n in range(5)}
    assert len(backoff.delays) == 4
    assert backoff.delays[0] >= 0.05  # Retry-After honoured
    assert backoff.delays[3] > 0.02 * 2**3 * 0.5 - 1e-9  # and the waits grew
    assert backoff.failures == 0  # reset by the success
    assert SYNC_ERRORS._value.get() - errors_before == 4


async def test_the_deploy_key_is_sent_as_convex_auth_and_never_logged(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeConvex() as convex:
        seed(convex)
        wrong = ConvexExport(convex.url, "prod:wrong|key")
        with pytest.raises(ExportError) as refused:
            await ConvexSync(wrong, store.mirror).sync_once()
        await wrong.aclose()
        api = ConvexExport(convex.url, DEPLOY_KEY)
        await ConvexSync(api, store.mirror).sync_once()
        await api.aclose()
    assert refused.value.status == 401
    assert convex.headers_seen[-1] == f"Convex {DEPLOY_KEY}"
    assert DEPLOY_KEY not in caplog.text and "prod:wrong|key" not in caplog.text
    assert all(DEPLOY_KEY not in str(params) for _, params in convex.requests)


async def test_a_web_process_follows_the_store_that_the_syncer_writes(store: SqlStore) -> None:
    async with FakeConvex() as convex:
        seed(convex)
        api = ConvexExport(convex.url, DEPLOY_KEY)
        sync = ConvexSync(api, store.mirror)
        web_mirror = InMemoryMirror()
        follower = StoreFollower(store.mirror, web_mirror)
        assert await follower.refresh() is False  # nothing synced yet
        assert web_mirror.as_of is None

        await sync.sync_once()
        assert await follower.refresh() is True
        assert ids(web_mirror, "servers") == {f"s{n}" for n in range(5)}
        first_as_of = web_mirror.as_of

        await sync.sync_once()  # nothing changed: only the freshness moves
        assert await follower.refresh() is False
        assert web_mirror.as_of is not None and web_mirror.as_of >= first_as_of

        convex.delete("servers", "s0")
        await sync.sync_once()
        await api.aclose()
        assert await follower.refresh() is True
    assert ids(web_mirror, "servers") == {"s1", "s2", "s3", "s4"}


async def test_sync_once_command_fills_the_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sync.db'}"
    async with FakeConvex() as convex:
        seed(convex)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CONVEX", "STACKDOCK"))},
            "DATABASE_URL": url,
            "CONVEX_URL": convex.url,
            "CONVEX_DEPLOY_KEY": DEPLOY_KEY,
            "PYTHONPATH": str(ROOT),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "sync", "--once",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        convex.fail_next(500)
        failing = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "sync", "--once",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, failed_err = await asyncio.wait_for(failing.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "7 snapshot documents" in out.decode()
    assert failing.returncode == 1 and "HTTP 500" in failed_err.decode()
    assert DEPLOY_KEY not in err.decode() + failed_err.decode()
    check = await open_store(url)
    try:
        assert set((await stored(check))["servers"]) == {f"s{n}" for n in range(5)}
    finally:
        await check.close()


async def wait_until(predicate, within_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_bot_runtime_with_convex_follows_the_syncer(sqlite_url: str) -> None:
    from bot.settings import Settings
    from bot.wiring import runtime

    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=sqlite_url,
        ai_provider="offline",
        convex_url="http://127.0.0.1:9",  # never called by the bot itself
        convex_deploy_key=DEPLOY_KEY,
        mirror_refresh_s=0.05,
    )
    async with FakeConvex() as convex, runtime(config) as rt:
        seed(convex)
        assert rt.mirror.as_of is None  # nothing synced yet: /readyz says not ready
        api = ConvexExport(convex.url, DEPLOY_KEY)
        await ConvexSync(api, rt.store.mirror).sync_once()
        await wait_until(lambda: len(ids(rt.mirror, "servers")) == 5)
        convex.delete("servers", "s0")
        await ConvexSync(api, rt.store.mirror).sync_once()
        await api.aclose()
        await wait_until(lambda: "s0" not in ids(rt.mirror, "servers"))


async def test_a_snapshot_directory_reloads_when_it_changes(
    sqlite_url: str, tmp_path: Path
) -> None:
    import shutil

    from adapters.stackdock.demo import DEMO_DIR
    from bot.settings import Settings
    from bot.wiring import runtime

    snapshot = tmp_path / "export"
    shutil.copytree(DEMO_DIR, snapshot)
    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=sqlite_url,
        ai_provider="offline",
        stackdock_snapshot=snapshot,
        mirror_refresh_s=0.05,
    )
    async with runtime(config) as rt:
        org = str(rt.mirror.organizations()[0]["_id"])
        before = rt.mirror.version
        new = {"_id": "srv_new", "orgId": org, "name": "fresh-server", "status": "running"}
        with (snapshot / "servers" / "documents.jsonl").open("a") as handle:
            handle.write(json.dumps(new) + "\n")
        await wait_until(lambda: rt.mirror.get("servers", "srv_new") is not None)
    assert rt.mirror.version > before
