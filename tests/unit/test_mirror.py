from __future__ import annotations

import threading
from datetime import UTC, datetime

from core.stackdock.mirror import InMemoryMirror

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 1, 2, tzinfo=UTC)


def tables() -> dict[str, list[dict]]:
    return {
        "organizations": [{"_id": "o1", "name": "One"}, {"_id": "o2", "name": "Two"}],
        "users": [{"_id": "u1", "name": "Ann", "email": "Ann@Example.COM"}],
        "memberships": [
            {"_id": "m1", "orgId": "o1", "userId": "u1", "orgRole": "r1"},
            {"_id": "m2", "orgId": "o2", "userId": "u1", "orgRole": "r2"},
        ],
        "roles": [{"_id": "r1", "orgId": "o1", "name": "Admin", "permissions": {}}],
        "servers": [
            {"_id": "s1", "orgId": "o1", "name": "a"},
            {"_id": "s2", "orgId": "o2", "name": "b"},
            {"_id": "s3", "orgId": "o1", "name": "c", "futureField": True},
        ],
        "projects": [{"_id": "p1", "orgId": "o2", "name": "P"}],
        "projectResources": [{"_id": "pr1", "projectId": "p1", "resourceId": "s2"}],
        "gadgets": [{"_id": "g1", "orgId": "o1"}],
    }


def test_lookups() -> None:
    mirror = InMemoryMirror(tables(), T0)
    assert mirror.as_of == T0
    assert mirror.organization("o2")["name"] == "Two"
    assert [o["_id"] for o in mirror.organizations()] == ["o1", "o2"]
    assert mirror.user("u1")["name"] == "Ann"
    assert mirror.user_by_email(" ann@example.com ")["_id"] == "u1"
    assert {m["orgId"] for m in mirror.memberships("u1")} == {"o1", "o2"}
    assert mirror.role("r1")["name"] == "Admin"
    assert [d["_id"] for d in mirror.rows("o1", "servers")] == ["s1", "s3"]
    assert mirror.rows("o1", "servers")[1]["futureField"] is True
    assert [d["_id"] for d in mirror.rows("o1", "gadgets")] == ["g1"]
    assert mirror.rows("o3", "servers") == ()
    assert mirror.rows("o1", "nothing") == ()
    assert mirror.user("nobody") is None


def test_rows_without_org_id_take_their_projects_org() -> None:
    mirror = InMemoryMirror(tables(), T0)
    assert [d["_id"] for d in mirror.rows("o2", "projectResources")] == ["pr1"]
    assert mirror.rows("o1", "projectResources") == ()


def test_rows_are_not_copied_per_call() -> None:
    mirror = InMemoryMirror(tables(), T0)
    assert mirror.rows("o1", "servers") is mirror.rows("o1", "servers")


def test_replace_swaps_everything() -> None:
    mirror = InMemoryMirror(tables(), T0)
    before = mirror.rows("o1", "servers")
    mirror.replace({"servers": [{"_id": "s9", "orgId": "o1"}]}, T1)
    assert [d["_id"] for d in mirror.rows("o1", "servers")] == ["s9"]
    assert mirror.user("u1") is None
    assert mirror.as_of == T1
    assert [d["_id"] for d in before] == ["s1", "s3"]  # a reader's earlier view is untouched


def test_apply_upserts_deletes_and_moves_between_orgs() -> None:
    mirror = InMemoryMirror(tables(), T0)
    mirror.apply(
        "servers",
        upserts=[
            {"_id": "s1", "orgId": "o1", "name": "a2"},
            {"_id": "s3", "orgId": "o2", "name": "c"},
            {"_id": "s4", "orgId": "o1", "name": "d"},
        ],
        deletes=["s2"],
        as_of=T1,
    )
    assert [(d["_id"], d["name"]) for d in mirror.rows("o1", "servers")] == [
        ("s1", "a2"),
        ("s4", "d"),
    ]
    assert [d["_id"] for d in mirror.rows("o2", "servers")] == ["s3"]
    assert mirror.as_of == T1


def test_apply_to_people_tables_reindexes_them() -> None:
    mirror = InMemoryMirror(tables(), T0)
    mirror.apply("users", [{"_id": "u2", "name": "Bo", "email": "bo@x.io"}], ["u1"], T1)
    assert mirror.user_by_email("ann@example.com") is None
    assert mirror.user_by_email("BO@x.io")["_id"] == "u2"
    mirror.apply("memberships", [], ["m1"], T1)
    assert [m["_id"] for m in mirror.memberships("u1")] == ["m2"]


def test_apply_leaves_other_tables_shared() -> None:
    mirror = InMemoryMirror(tables(), T0)
    gadgets = mirror.rows("o1", "gadgets")
    mirror.apply("servers", [{"_id": "s5", "orgId": "o1"}], [], T1)
    assert mirror.rows("o1", "gadgets") is gadgets


def test_readers_never_see_a_half_replaced_index() -> None:
    """While one thread keeps replacing two consistent data sets, every reader sees one or
    the other whole: the servers of o1 always number 2 or 3, never anything in between."""
    small = {"servers": [{"_id": f"a{i}", "orgId": "o1"} for i in range(2)]}
    large = {"servers": [{"_id": f"b{i}", "orgId": "o1"} for i in range(3)]}
    mirror = InMemoryMirror(small, T0)
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            mirror.replace(large, T1)
            mirror.replace(small, T0)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = set()
    try:
        for _ in range(20_000):
            rows = mirror.rows("o1", "servers")
            seen.add((len(rows), rows[0]["_id"][0]))
    finally:
        stop.set()
        thread.join()
    assert seen <= {(2, "a"), (3, "b")}
