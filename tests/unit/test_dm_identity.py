"""DMs that know you: a Discord person linked in a server is known in DMs, for the orgs bound
there; the org of a DM is remembered once chosen; the "who are you" text fits its platform."""

from __future__ import annotations

from adapters.stackdock.demo import DEMO_ORGS, DEMO_USERS
from core.identity import IdentityResolver
from core.models import Binding, ErrorReply, Final, Inbound, Outcome, Principal, Refusal
from core.prompts import link_instructions
from tests.fakes.ports.memory_store import MemoryStore
from tests.unit.conftest import NOW, Kit

ACME, GLOBEX = DEMO_ORGS["acme"], DEMO_ORGS["globex"]
PERSON = "400000000000000001"  # a Discord user id: the same person in every server and DM


def dm(text: str = "How many servers do I have?", user: str = PERSON) -> Inbound:
    return Inbound(
        identity=f"discord:@me:{user}",
        text=text,
        platform="discord",
        is_dm=True,
        channel="900000000000000009",
        conversation_key=f"discord:dm:{user}",
    )


def resolver(kit: Kit) -> IdentityResolver:
    return IdentityResolver(kit.mirror, kit.store, cache_ttl_s=0)


async def link_in_server(store: MemoryStore, guild: str, org: str | None, who: str) -> None:
    await store.links.set(f"discord:{guild}:{PERSON}", DEMO_USERS[who])
    if org is not None:
        await store.bindings.set(Binding(f"discord:{guild}", org))


def without_default_org(kit: Kit, who: str) -> None:
    user = dict(kit.mirror.user_by_email(DEMO_USERS[who]) or {})
    user.pop("defaultOrgId")
    kit.mirror.apply("users", [user], [], NOW)


async def test_a_person_linked_in_a_server_is_known_in_dms(kit: Kit) -> None:
    await link_in_server(kit.store, "G1", ACME, "developer")
    principal = await resolver(kit).resolve(dm())
    assert isinstance(principal, Principal)
    assert (principal.email, principal.org_id) == (DEMO_USERS["developer"], ACME)
    assert principal.identity == f"discord:@me:{PERSON}" and principal.show_detail
    end = [e async for e in kit.service.answer(dm())][-1]
    assert isinstance(end, Final) and "server" in end.text


async def test_a_server_link_vouches_only_for_the_orgs_bound_in_that_server(kit: Kit) -> None:
    # Max belongs to both orgs and defaults to Globex, but only an Acme server vouches for
    # this Discord account: an Acme admin's link must never open Globex's data.
    await link_in_server(kit.store, "G1", ACME, "both_orgs")
    principal = await resolver(kit).resolve(dm())
    assert isinstance(principal, Principal) and principal.org_id == ACME


async def test_servers_of_both_orgs_give_the_default_org(kit: Kit) -> None:
    await link_in_server(kit.store, "G1", ACME, "both_orgs")
    await link_in_server(kit.store, "G2", GLOBEX, "both_orgs")
    principal = await resolver(kit).resolve(dm())
    assert isinstance(principal, Principal) and principal.org_id == GLOBEX


async def test_a_channel_binding_in_the_server_vouches_too(kit: Kit) -> None:
    await link_in_server(kit.store, "G1", None, "developer")
    await kit.store.bindings.set(Binding("discord:G1:C7", ACME))
    principal = await resolver(kit).resolve(dm())
    assert isinstance(principal, Principal) and principal.org_id == ACME


async def test_a_server_bound_to_no_org_of_theirs_vouches_for_nothing(kit: Kit) -> None:
    await link_in_server(kit.store, "G1", None, "developer")
    refusal = await resolver(kit).resolve(dm())
    assert isinstance(refusal, Refusal) and refusal.reason == "not_vouched"
    await kit.store.bindings.set(Binding("discord:G1", GLOBEX))  # not Devon's org
    refusal = await resolver(kit).resolve(dm())
    assert isinstance(refusal, Refusal) and refusal.reason == "not_vouched"


async def test_server_links_to_different_people_are_not_guessed_between(kit: Kit) -> None:
    await link_in_server(kit.store, "G1", ACME, "developer")
    await link_in_server(kit.store, "G2", ACME, "support")
    refusal = await resolver(kit).resolve(dm())
    assert isinstance(refusal, Refusal) and refusal.reason == "ambiguous_link"
    assert f"discord:@me:{PERSON}" in refusal.text


async def test_a_dm_link_of_its_own_wins_and_vouches_for_every_org(kit: Kit) -> None:
    await link_in_server(kit.store, "G1", ACME, "developer")
    await kit.store.links.set(f"discord:@me:{PERSON}", DEMO_USERS["both_orgs"])
    principal = await resolver(kit).resolve(dm())
    assert isinstance(principal, Principal)
    assert (principal.email, principal.org_id) == (DEMO_USERS["both_orgs"], GLOBEX)


async def test_the_org_of_a_dm_is_asked_then_remembered_then_switched(kit: Kit) -> None:
    without_default_org(kit, "both_orgs")
    await link_in_server(kit.store, "G1", ACME, "both_orgs")
    await link_in_server(kit.store, "G2", GLOBEX, "both_orgs")
    service = kit.service

    asked = [e async for e in service.answer(dm())][-1]
    assert isinstance(asked, ErrorReply) and asked.reason == "choose_org"
    assert "Acme Cloud, Globex Labs" in asked.text and "Reply with just its name" in asked.text

    chose = [e async for e in service.answer(dm("globex labs"))][-1]
    assert isinstance(chose, ErrorReply) and chose.reason == "org_chosen"
    assert chose.outcome == Outcome.ANSWERED and "Globex Labs" in chose.text
    assert await kit.store.bindings.get(f"discord:@me:{PERSON}") == Binding(
        f"discord:@me:{PERSON}", GLOBEX
    )
    principal = await resolver(kit).resolve(dm())
    assert isinstance(principal, Principal) and principal.org_id == GLOBEX

    switched = [e async for e in service.answer(dm("Acme Cloud."))][-1]
    assert isinstance(switched, ErrorReply) and switched.reason == "org_chosen"
    principal = await resolver(kit).resolve(dm())
    assert isinstance(principal, Principal) and principal.org_id == ACME
    rows = [(r.result, r.reason) for r in await kit.audit_rows()]
    assert (Outcome.ANSWERED, "org_chosen") in rows


async def test_an_org_name_is_an_ordinary_question_for_someone_with_one_org(kit: Kit) -> None:
    await link_in_server(kit.store, "G1", ACME, "developer")
    end = [e async for e in kit.service.answer(dm("Acme Cloud"))][-1]
    assert isinstance(end, Final)
    assert await kit.store.bindings.get(f"discord:@me:{PERSON}") is None


async def test_a_remembered_choice_that_no_longer_applies_is_asked_again(kit: Kit) -> None:
    without_default_org(kit, "both_orgs")
    await link_in_server(kit.store, "G1", ACME, "both_orgs")
    await link_in_server(kit.store, "G2", GLOBEX, "both_orgs")
    # Remembered from when a third server vouched for some other org of theirs.
    await kit.store.bindings.set(Binding(f"discord:@me:{PERSON}", "org_gone"))
    refusal = await resolver(kit).resolve(dm())
    assert isinstance(refusal, Refusal) and refusal.reason == "choose_org"


async def test_a_console_person_with_several_orgs_is_told_to_set_a_default(kit: Kit) -> None:
    without_default_org(kit, "both_orgs")
    asker = Inbound(
        identity=f"email:{DEMO_USERS['both_orgs']}",
        text="Globex Labs",
        platform="console",
        is_dm=True,
    )
    refusal = await resolver(kit).resolve(asker)
    assert isinstance(refusal, Refusal) and refusal.reason == "choose_org"
    assert "Set a default organisation" in refusal.text


def test_the_link_advice_fits_the_platform_it_is_read_on() -> None:
    discord_dm = link_instructions(f"discord:@me:{PERSON}", "discord", True)
    assert "server we share" in discord_dm and "email" not in discord_dm.replace("@example", "")
    assert f"discord:@me:{PERSON}" in discord_dm
    in_server = link_instructions(f"discord:G1:{PERSON}", "discord", False)
    assert "/stackdock link` here" in in_server and "Slack" not in in_server
    assert "email matches" not in in_server
    slack_dm = link_instructions("slack:T1:U1", "slack", True)
    assert "Slack email matches" in slack_dm and "in a channel of this workspace" in slack_dm
    assert "Discord" not in slack_dm and "server" not in slack_dm
    console = link_instructions("usr_nobody", "console", True)
    assert "/stackdock" not in console and "usr_nobody" in console


async def test_an_unknown_discord_dm_gets_the_discord_dm_advice(kit: Kit) -> None:
    refusal = await resolver(kit).resolve(dm())
    assert isinstance(refusal, Refusal) and refusal.reason == "unknown_user"
    assert refusal.text == link_instructions(f"discord:@me:{PERSON}", "discord", True)
