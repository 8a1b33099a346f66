"""Builders shared by the StackDock-side unit tests: the demo mirror and Principals from it."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.stackdock.demo import load_demo
from core.access import effective_permissions
from core.models import Principal
from core.stackdock.mirror import InMemoryMirror

NOW = datetime(2031, 3, 14, 9, 30, tzinfo=UTC)  # far from the demo's reference on purpose


def demo_mirror(now: datetime = NOW) -> InMemoryMirror:
    loaded = load_demo(now)
    return InMemoryMirror(loaded.tables, loaded.as_of)


def principal_for(
    mirror: InMemoryMirror, email: str, *, org_id: str | None = None, show_detail: bool = True
) -> Principal:
    """The Principal a user would get in `org_id` (their only or default org when None)."""
    user = mirror.user_by_email(email)
    assert user is not None, email
    memberships = {m["orgId"]: m for m in mirror.memberships(user["_id"])}
    org_id = org_id or user.get("defaultOrgId") or next(iter(memberships))
    role = mirror.role(memberships[org_id]["orgRole"])
    org = mirror.organization(org_id)
    if role is None or org is None:
        raise LookupError(f"the fixture has no role or org for {email} in {org_id}")
    return Principal(
        identity=f"email:{email}",
        user_id=user["_id"],
        user_name=user["name"],
        email=email,
        org_id=org_id,
        org_name=org["name"],
        role_name=role["name"],
        permissions=effective_permissions(role["permissions"]),
        is_dm=show_detail,
        show_detail=show_detail,
    )
