"""`/stackdock link` against a hostile `ai:full` member, over signed HTTP to the real Bolt app.

A link only joins a member of the workspace the command came from to a StackDock user of the
org bound to where it was typed; nobody links or re-links themselves, nor anyone already
linked outside that org; every attempt is audited (action ai.link). The rules are the core's
(AssistantService.link); this proves the Slack path reaches them with what was typed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.stackdock.demo import DEMO_USERS
from tests.fakes.services.slack_api import TEAM, FakeSlackApi, slash_command
from tests.harness.slack_harness import SLACK_USERS, Harness, slack_app

GLOBEX_ADMIN = DEMO_USERS["globex_admin"]


@pytest.fixture
async def h(sqlite_url: str) -> AsyncIterator[Harness]:
    # UGRACE administers Globex; the channel C1 is bound to Acme.
    api = FakeSlackApi({**SLACK_USERS, "UGRACE": GLOBEX_ADMIN})
    async with api, slack_app(sqlite_url, api=api) as harness:
        yield harness


def identity(user: str) -> str:
    return f"slack:{TEAM}:{user}"


async def link(h: Harness, who: str, args: str, channel: str = "C1") -> str:
    """`who` types `/stackdock link ARGS`; returns the private reply."""
    before = len(h.api.responses)
    payload = slash_command(
        f"link {args}", user=who, channel=channel, response_url=h.api.response_url()
    )
    assert (await h.send(payload, form=True))[0] == 200
    await h.settle()
    [reply] = h.api.responses[before:]
    assert reply["response_type"] == "ephemeral", "link replies are private"
    return str(reply["text"])


async def link_audit(h: Harness) -> list[tuple[str, str | None, str | None]]:
    return [
        (r.result.value, r.reason, r.metadata.get("target"))
        async for r in h.rt.store.audit.iter()
        if r.action == "ai.link"
    ]


async def test_nobody_is_linked_to_a_user_of_another_org(h: Harness) -> None:
    grace = h.rt.mirror.user_by_email(GLOBEX_ADMIN)
    assert "No member of" in await link(h, "UADMIN", f"<@UNEW|newbie> {GLOBEX_ADMIN}")
    assert "No member of" in await link(h, "UADMIN", f"<@UNEW> {grace['_id']}")  # by id
    assert await h.rt.store.links.get(identity("UNEW")) is None
    assert await link_audit(h) == [("denied", "no_such_member", identity("UNEW"))] * 2


async def test_an_admin_cannot_link_themselves_anywhere(h: Harness) -> None:
    # Naming nobody once linked the asker; naming themselves is refused the same.
    said = await link(h, "UADMIN", GLOBEX_ADMIN)
    assert "Say who to link" in said
    said = await link(h, "UADMIN", f"<@UADMIN|ada> {GLOBEX_ADMIN}")
    assert "re-link yourself" in said
    said = await link(h, "UADMIN", f"<@UADMIN> {DEMO_USERS['developer']}")
    assert "re-link yourself" in said
    assert await h.rt.store.links.get(identity("UADMIN")) is None
    assert [reason for _, reason, _ in await link_audit(h)] == [
        "bad_link",
        "link_self",
        "link_self",
    ]


async def test_someone_linked_to_another_orgs_user_stays_linked(h: Harness) -> None:
    await h.rt.store.links.set(identity("UOTHER"), GLOBEX_ADMIN)  # an operator's link
    said = await link(h, "UADMIN", f"<@UOTHER> {DEMO_USERS['developer']}")
    assert "outside" in said and "operator" in said
    assert await h.rt.store.links.get(identity("UOTHER")) == GLOBEX_ADMIN
    assert await link_audit(h) == [("denied", "linked_elsewhere", identity("UOTHER"))]


async def test_an_admin_of_another_org_cannot_link_in_this_orgs_channel(h: Harness) -> None:
    said = await link(h, "UGRACE", f"<@UNEW> {GLOBEX_ADMIN}")
    assert "Linked" not in said
    assert await h.rt.store.links.get(identity("UNEW")) is None
    [(result, reason, _)] = await link_audit(h)
    assert result == "denied" and reason == "wrong_org"


async def test_no_linking_from_a_dm(h: Harness) -> None:
    said = await link(h, "UADMIN", f"<@UNEW> {DEMO_USERS['developer']}", channel="DADMIN")
    assert "Linked" not in said
    assert await h.rt.store.links.get(identity("UNEW")) is None
    assert [reason for _, reason, _ in await link_audit(h)] == ["link_in_dm"]


async def test_a_member_without_ai_full_cannot_link(h: Harness) -> None:
    said = await link(h, "UDEV", f"<@UNEW> {DEMO_USERS['developer']}")
    assert "ai:full" in said
    assert await h.rt.store.links.get(identity("UNEW")) is None
    assert [reason for _, reason, _ in await link_audit(h)] == ["denied"]


async def test_a_good_link_is_made_and_audited(h: Harness) -> None:
    said = await link(h, "UADMIN", f"<@UNEW|newbie> <mailto:{DEMO_USERS['developer']}|x>")
    assert said.startswith(f"Linked {identity('UNEW')}")
    devon = h.rt.mirror.user_by_email(DEMO_USERS["developer"])
    assert await h.rt.store.links.get(identity("UNEW")) == str(devon["_id"])
    [row] = [r async for r in h.rt.store.audit.iter() if r.action == "ai.link"]
    assert (row.result.value, row.identity, row.metadata["target"]) == (
        "answered",
        identity("UADMIN"),
        identity("UNEW"),
    )
