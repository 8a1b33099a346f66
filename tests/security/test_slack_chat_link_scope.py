"""A link made in chat counts only for the org that vouched for it, over signed HTTP to Bolt.

The attack: an Acme admin links a second account of their own to a StackDock user who is also
a member of Globex, then from that account asks in a DM, naming Globex as the org of their
DMs. Before links carried their vouching org, the DM answered from Globex's data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.stackdock.demo import DEMO_ORGS, DEMO_USERS
from tests.fakes.services.slack_api import (
    TEAM,
    FakeSlackApi,
    event_envelope,
    message,
    slash_command,
)
from tests.harness.slack_harness import SLACK_USERS, Harness, slack_app

SHARED = DEMO_USERS["both_orgs"]  # a Developer in Acme and in Globex


@pytest.fixture
async def h(sqlite_url: str) -> AsyncIterator[Harness]:
    async with FakeSlackApi(dict(SLACK_USERS)) as api, slack_app(sqlite_url, api=api) as harness:
        yield harness


async def _link_alt(h: Harness) -> None:
    payload = slash_command(
        f"link <@UALT|alt> {SHARED}", user="UADMIN", response_url=h.api.response_url()
    )
    assert (await h.send(payload, form=True))[0] == 200
    await h.settle()
    assert "Linked" in h.api.responses[-1]["text"], h.api.responses[-1]


async def _dm(h: Harness, text: str, ts: str) -> None:
    event = message(text, user="UALT", channel="DALT", ts=ts, channel_type="im")
    assert (await h.send(event_envelope(event)))[0] == 200
    await h.settle()


async def _orgs_asked_as(h: Harness) -> set[str | None]:
    return {
        r.org_id
        async for r in h.rt.store.audit.iter()
        if r.identity == f"slack:{TEAM}:UALT" and r.action == "ai.chat"
    }


async def test_a_chat_link_never_opens_another_org_of_the_linked_user(h: Harness) -> None:
    await _link_alt(h)
    await _dm(h, "Globex Labs", "80.1")  # the DM org "choice" of a two-org user
    await _dm(h, "How many servers do I have?", "81.1")
    await _dm(h, "List my servers", "82.1")

    assert DEMO_ORGS["globex"] not in await _orgs_asked_as(h)
    globex_servers = [s["name"] for s in h.rt.mirror.rows(DEMO_ORGS["globex"], "servers")]
    shown = " ".join(m.text for m in h.api.bot_messages("DALT"))
    assert globex_servers and not any(name in shown for name in globex_servers), shown


async def test_the_same_link_still_answers_for_the_org_that_vouched(h: Harness) -> None:
    await _link_alt(h)
    await _dm(h, "How many servers do I have?", "90.1")
    assert await _orgs_asked_as(h) == {DEMO_ORGS["acme"]}
