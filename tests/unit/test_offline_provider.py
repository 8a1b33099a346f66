"""The offline provider as a Provider: it asks for tools like a model, reads their results,
and answers honestly through the same pipeline (wiring's builders, the real tools)."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from datetime import timedelta

from adapters.stackdock.demo import DEMO_ORGS, DEMO_USERS
from adapters.stackdock.snapshot import load_snapshot
from core.models import Binding, ChatMessage, TextDelta, ToolCall, TurnEnd
from core.prompts import all_prompts
from core.providers.loop import LAST_TURN_PROMPT
from core.providers.offline import OfflineProvider
from core.stackdock.mirror import InMemoryMirror
from core.tools import tool_specs
from tests.fakes.ports.memory_store import MemoryStore
from tests.fixtures.stackdock_real import REAL_SHAPED_DIR, REFERENCE, USERS
from tests.unit.conftest import NOW, Clock, Kit, final_text

ADMIN = f"email:{DEMO_USERS['admin']}"
SYSTEM = 'Asking: "Ada Lovelace", role "Admin".\nOrganisation: "Acme Cloud" (id "org_acme").'
SPECS = tool_specs(50)


async def turn(messages: Sequence[ChatMessage], tools: Sequence = SPECS) -> tuple[str, TurnEnd]:
    text, end = "", None
    async for event in OfflineProvider().turn(SYSTEM, messages, tools):
        if isinstance(event, TextDelta):
            text += event.text
        else:
            end = event
    assert isinstance(end, TurnEnd), "a turn ends with exactly one TurnEnd"
    return text, end


def answered(question: str, call: ToolCall, result: dict) -> list[ChatMessage]:
    return [
        ChatMessage(role="user", content=question),
        ChatMessage(role="assistant", content="", tool_calls=(call,)),
        ChatMessage(role="tool", content=json.dumps(result), tool_call_id=call.id, name=call.name),
    ]


STOPPED = {
    "kind": "servers",
    "total": 1,
    "returned": 1,
    "items": [{"id": "s1", "provider": "digitalocean", "status": "stopped", "name": "web-9"}],
}


async def test_the_first_turn_asks_for_tools_and_says_nothing() -> None:
    text, end = await turn([ChatMessage(role="user", content="any servers stopped?")])
    assert text == "" and end.stop_reason == "tool_use"
    assert [(c.name, dict(c.arguments)) for c in end.tool_calls] == [
        ("list_resources", {"kind": "servers", "limit": 50, "status": "stopped"})
    ]
    assert end.usage.cost_usd == 0


async def test_the_next_turn_words_the_tools_results() -> None:
    call = ToolCall("offline-0-0", "list_resources", {"kind": "servers", "status": "stopped"})
    text, end = await turn(answered("any servers stopped?", call, STOPPED))
    assert end.tool_calls == ()
    assert text == "**1 server is stopped:**\n- `web-9` (digitalocean, stopped)"


async def test_a_repeated_call_reads_the_earlier_result_the_loop_hands_back() -> None:
    call = ToolCall("offline-0-0", "list_resources", {"kind": "servers", "status": "stopped"})
    wrapped = {"note": "You already called this.", "earlier_result": STOPPED}
    text, _ = await turn(answered("any servers stopped?", call, wrapped))
    assert "`web-9`" in text


async def test_with_no_tools_left_it_answers_the_question_not_the_loops_prompt() -> None:
    call = ToolCall("offline-0-0", "list_resources", {"kind": "servers", "status": "stopped"})
    messages = [
        *answered("any servers stopped?", call, STOPPED),
        ChatMessage(role="user", content=LAST_TURN_PROMPT),
    ]
    text, end = await turn(messages, tools=())
    assert end.tool_calls == () and "`web-9`" in text


async def test_a_tools_refusal_is_relayed_as_it_is() -> None:
    call = ToolCall("offline-0-0", "list_resources", {"kind": "docks"})
    refusal = {"error": "Your role (Client) can't read docks: it needs docks:read."}
    text, _ = await turn(answered("list my docks", call, refusal))
    assert text == refusal["error"]


async def test_a_decline_calls_no_tool() -> None:
    text, end = await turn([ChatMessage(role="user", content="restart acme-web-1")])
    assert end.tool_calls == () and text.startswith("I'm read-only")


# ---- through the whole pipeline ----


async def test_offline_answers_every_catalogue_prompt(kit: Kit) -> None:
    for prompt in all_prompts():
        text = final_text(await kit.ask(prompt, ADMIN))
        assert "offline mode" not in text, prompt
        assert "not sure" not in text, prompt
        assert len(text) > 20, prompt


async def test_a_follow_up_reads_the_threads_history(kit: Kit) -> None:
    thread = {"conversation_key": "thread-1"}
    await kit.ask("list my web services", ADMIN, **thread)
    text = final_text(await kit.ask("which of those are in error", ADMIN, **thread))
    assert "`acme-api-gateway`" in text and "acme-docs" not in text


async def test_without_stored_history_a_follow_up_is_asked_about(kit: Kit) -> None:
    kit.config = type(kit.config)(store_content=False)
    await kit.ask("list my web services", ADMIN, conversation_key="thread-2")
    text = final_text(
        await kit.ask("which of those are in error", ADMIN, conversation_key="thread-2")
    )
    assert text.startswith("I'm not sure what that refers to")


async def test_a_shared_channel_gets_no_addresses(kit: Kit) -> None:
    await kit.store.links.set("slack:T1:U1", DEMO_USERS["admin"])
    await kit.store.bindings.set(Binding("slack:T1", DEMO_ORGS["acme"], allow_detail=False))
    where = {"platform": "slack", "workspace": "T1", "channel": "C1", "is_dm": False}
    text = final_text(await kit.ask("show server acme-web-1", "slack:T1:U1", **where))
    assert "acme-web-1" in text and "203.0.113.10" not in text


async def test_a_registrar_expiry_is_listed_and_estimates_are_said_to_be_estimates(
    kit: Kit,
) -> None:
    in_ten_days = (NOW + timedelta(days=10)).timestamp() * 1000
    real = {
        **kit.mirror.rows(DEMO_ORGS["acme"], "domains")[0],
        "_id": "dom_registrar",
        "domainName": "acme.shop",
        "provider": "namecheap",  # any provider but GridPane's guess and Cloudflare's none
        "expiresAt": in_ten_days,
    }
    kit.mirror.apply("domains", [real], [], NOW)
    soon = final_text(await kit.ask("which domains expire in the next 30 days?", ADMIN))
    assert soon.startswith("**1 domain expires within 30 days** (registrar dates):")
    assert "- `acme.shop`: " in soon and "(in 10 days)" in soon
    assert "Estimates only, not registrar dates (never an alarm):" in soon
    week = final_text(await kit.ask("anything expiring this week?", ADMIN))
    assert "No domain's registrar expiry falls this week." in week and "acme.shop" not in week
    one = final_text(await kit.ask("when does acme.shop expire", ADMIN))
    assert one.startswith("`acme.shop` expires ") and "registrar" in one


async def test_a_filter_the_tool_lacks_says_when_it_saw_only_part(kit: Kit) -> None:
    many = [
        dict(
            kit.mirror.rows(DEMO_ORGS["acme"], "servers")[0],
            _id=f"ser_bulk_{i}",
            name=f"bulk-{i:03d}",
            region="nyc3" if i % 2 else "fra1",
        )
        for i in range(120)
    ]
    kit.mirror.apply("servers", many, [], NOW)
    text = final_text(await kit.ask("how many servers are in nyc3", ADMIN))
    assert text.startswith("At least **")
    assert "Only the first 50 of your 128 servers were checked" in text


async def test_other_roles_get_their_tools_refusals(kit: Kit) -> None:
    text = final_text(await kit.ask("which docks failed to sync?", f"email:{DEMO_USERS['client']}"))
    assert "docks:read" in text and "GridPane" not in text


async def test_real_shaped_data_is_read_by_its_statuses() -> None:
    tables = copy.deepcopy(load_snapshot(REAL_SHAPED_DIR).tables)
    kit = Kit(store=MemoryStore(), mirror=InMemoryMirror(tables, REFERENCE), clock=Clock(REFERENCE))
    admin = f"email:{USERS['admin']}"

    async def ask(question: str) -> str:
        return final_text(await kit.ask(question, admin))

    assert (await ask("how many servers are off?")).startswith(
        "**1** server is stopped: `nw-staging`"
    )
    assert "`northwind-blog.netlify.app` (better-stack, validating)" in await ask(
        "which monitors are validating"
    )
    pending = await ask("any servers still provisioning?")
    assert "`nw-worker`" in pending and "nw-web-1" not in pending
    assert "northwind-admin" in await ask("which vercel apps are broken")
