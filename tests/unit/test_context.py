from __future__ import annotations

from datetime import timedelta

from adapters.stackdock.demo import DEMO_SECRETS, DEMO_USERS
from core.access import effective_permissions
from core.models import Principal
from core.org_summary import org_summary
from core.stackdock.mirror import InMemoryMirror
from core.stackdock.synthetic import synthetic_org
from tests.unit.stackdock_fixtures import NOW, demo_mirror, principal_for


def bench_summary(n: int) -> str:
    tables = synthetic_org(n, now=NOW)
    mirror = InMemoryMirror(tables, NOW)
    admin = tables["users"][0]
    principal = Principal(
        identity="email:" + admin["email"],
        user_id=admin["_id"],
        user_name=admin["name"],
        email=admin["email"],
        org_id="org_bench",
        org_name=tables["organizations"][0]["name"],
        role_name="Admin",
        permissions=effective_permissions(tables["roles"][0]["permissions"]),
    )
    return org_summary(mirror, principal, NOW)


def test_size_does_not_grow_with_the_org() -> None:
    small, large = bench_summary(50), bench_summary(10_000)
    assert "Resources (50)" in small and "Resources (10000)" in large
    assert "call find_problems" in large
    assert len(large) / 4 <= 1.3 * (len(small) / 4)


def test_names_org_asker_and_the_demo_problems() -> None:
    mirror = demo_mirror()
    summary = org_summary(mirror, principal_for(mirror, DEMO_USERS["admin"]), NOW)
    assert "Acme Cloud" in summary and "Ada Lovelace" in summary and "Admin" in summary
    for problem in ("Checkout", "GridPane WordPress", "acme.dev", "Database connection pool"):
        assert problem in summary
    assert "servers 8" in summary
    assert "Globex" not in summary and "globex" not in summary
    for secret in DEMO_SECRETS:
        assert secret not in summary


def test_only_readable_kinds_are_counted() -> None:
    mirror = demo_mirror()
    summary = org_summary(mirror, principal_for(mirror, DEMO_USERS["client"]), NOW)
    assert "docks 10" not in summary
    assert "GridPane WordPress" not in summary
    assert "Not readable with this role, so not counted: docks" in summary


def test_mentions_stale_mirror_only_when_old() -> None:
    mirror = demo_mirror()
    principal = principal_for(mirror, DEMO_USERS["admin"])
    assert "last synced" not in org_summary(mirror, principal, NOW + timedelta(minutes=30))
    assert "3 hours" in org_summary(mirror, principal, NOW + timedelta(hours=3))


def test_shared_channel_summary_masks_urls() -> None:
    mirror = demo_mirror()
    principal = principal_for(mirror, DEMO_USERS["admin"], show_detail=False)
    summary = org_summary(mirror, principal, NOW)
    assert "https://" not in summary
