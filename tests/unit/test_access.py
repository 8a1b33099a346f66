from __future__ import annotations

import pytest

from core.access import (
    KINDS,
    allows,
    area_for_kind,
    effective_permissions,
    kind_denial,
    readable_kinds,
)

CLIENT = {
    "projects": "read",
    "resources": "read",
    "docks": "none",
    "operations": "none",
    "settings": "none",
}


@pytest.mark.parametrize(
    ("have", "wanted", "expected"),
    [
        ("full", "read", True),
        ("full", "write", True),
        ("full", "full", True),
        ("read", "read", True),
        ("read", "write", False),
        ("read", "full", False),
        ("none", "read", False),
        ("bogus", "read", False),
    ],
)
def test_levels(have: str, wanted: str, expected: bool) -> None:
    assert allows({"resources": have}, f"resources:{wanted}") is expected


def test_missing_area_and_unknown_request_level_deny() -> None:
    assert not allows({}, "docks:read")
    assert not allows({"docks": "full"}, "docks:admin")
    assert not allows({"docks": "full"}, "docks")


def test_ai_fallback_settings_full_gives_full() -> None:
    assert effective_permissions({"settings": "full"})["ai"] == "full"


@pytest.mark.parametrize("area", ["projects", "resources", "monitoring"])
def test_ai_fallback_read_of_data_gives_read(area: str) -> None:
    perms = {"settings": "read", area: "read"}
    assert effective_permissions(perms)["ai"] == "read"


def test_ai_fallback_nothing_readable_gives_none() -> None:
    perms = {"projects": "none", "resources": "none", "settings": "read", "docks": "full"}
    assert effective_permissions(perms)["ai"] == "none"


def test_explicit_ai_wins_over_fallback() -> None:
    assert effective_permissions({"settings": "full", "ai": "none"})["ai"] == "none"
    assert effective_permissions({"resources": "read", "ai": "weird"})["ai"] == "none"


def test_effective_permissions_keeps_areas_and_normalises_levels() -> None:
    perms = effective_permissions({"resources": "READ", "docks": "sometimes"})
    assert perms["resources"] == "read"
    assert perms["docks"] == "none"


def test_area_for_kind() -> None:
    assert area_for_kind("servers") == "resources"
    assert area_for_kind("backupSchedules") == "resources"
    assert area_for_kind("docks") == "docks"
    assert area_for_kind("projects") == "projects"
    assert area_for_kind("projectResources") == "projects"
    assert area_for_kind("monitors") == "monitoring"
    assert area_for_kind("issues") == "monitoring"


def test_monitoring_key_overrides_resources() -> None:
    perms = {**CLIENT, "monitoring": "none"}
    assert "monitors" not in readable_kinds(perms)
    assert "issues" not in readable_kinds(effective_permissions(perms))
    assert "servers" in readable_kinds(perms)


@pytest.mark.parametrize(
    ("readable", "expected"),
    [
        ({"resources": "read"}, "read"),
        ({"resources": "full"}, "read"),
        ({"projects": "read"}, "read"),  # StackDock's migration counts projects too
        ({"settings": "full", "docks": "full"}, "none"),
    ],
)
def test_missing_monitoring_gets_the_migrations_level(readable: dict, expected: str) -> None:
    perms = {**dict.fromkeys(CLIENT, "none"), **readable}
    assert effective_permissions(perms)["monitoring"] == expected
    assert ("monitors" in readable_kinds(perms)) is (expected == "read")


def test_client_reads_everything_but_docks() -> None:
    assert set(readable_kinds(CLIENT)) == set(KINDS) - {"docks"}
    assert kind_denial("monitors", {**CLIENT, "monitoring": "none"}, "Client") == (
        "Your role (Client) can't read monitors: it needs monitoring:read."
    )


def test_kind_denial_names_role_and_permission() -> None:
    reason = kind_denial("docks", CLIENT, "Client")
    assert reason == "Your role (Client) can't read docks: it needs docks:read."
    assert kind_denial("servers", CLIENT, "Client") is None


def test_kinds_are_the_thirteen_of_the_contract() -> None:
    assert len(KINDS) == 13
    assert KINDS[-1] == "backupSchedules"
    assert "projectResources" not in KINDS and "backupIntegrations" not in KINDS


# The roles StackDock really has: none carries `ai`; org creation's Admin lacks `monitoring`.
AREAS = ("projects", "resources", "docks", "operations", "settings")
REAL_ROLES = {
    "Admin": dict.fromkeys(AREAS, "full"),
    "Developer": {**dict.fromkeys(AREAS, "none"), "projects": "full", "resources": "read",
                  "operations": "read", "monitoring": "read"},
    "Support": {**dict.fromkeys(AREAS, "none"), "projects": "read", "resources": "read"},
    "Client": {**dict.fromkeys(AREAS, "none"), "projects": "read", "resources": "read"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("role", "ai", "readable"),
    [
        ("Admin", "full", set(KINDS)),
        ("Developer", "read", set(KINDS) - {"docks"}),
        ("Support", "read", set(KINDS) - {"docks"}),
        ("Client", "read", set(KINDS) - {"docks"}),
    ],
)
def test_what_each_real_role_may_ask(role: str, ai: str, readable: set[str]) -> None:
    """The README's "Who may ask what" table, checked against StackDock's own role shapes."""
    perms = effective_permissions(REAL_ROLES[role])
    assert "ai" not in REAL_ROLES[role]
    assert perms["ai"] == ai
    assert set(readable_kinds(perms)) == readable
    assert perms["monitoring"] == "read"  # alerts and monitors, with or without the key
