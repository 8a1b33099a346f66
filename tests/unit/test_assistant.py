"""The pipeline end to end on in-memory ports: who may ask, what they get, what is recorded."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.stackdock.demo import DEMO_ORGS, DEMO_USERS
from core.audit import verify_chain
from core.limits import LimitPolicy
from core.models import (
    Binding,
    ErrorReply,
    Final,
    Inbound,
    Outcome,
    ProviderError,
    Status,
    TextDelta,
    ToolCall,
    ToolStep,
    Usage,
    UsageRecord,
)
from tests.fakes.ports.scripted_provider import ScriptedProvider, ScriptedTurn
from tests.unit.conftest import final_text

ADMIN = f"email:{DEMO_USERS['admin']}"
GLOBEX = f"email:{DEMO_USERS['globex_admin']}"


def servers_of(kit, org_key: str) -> int:
    return len(kit.mirror.rows(DEMO_ORGS[org_key], "servers"))


async def test_answers_with_the_askers_own_org_numbers(kit):
    acme = final_text(await kit.ask("How many servers do I have?", ADMIN))
    globex = final_text(await kit.ask("How many servers do I have?", GLOBEX))
    assert servers_of(kit, "acme") != servers_of(kit, "globex")
    assert f"**{servers_of(kit, 'acme')}** servers" in acme
    assert f"**{servers_of(kit, 'globex')}** servers" in globex


async def test_stream_starts_with_status_and_shows_tool_steps(kit):
    events = await kit.ask("List my domains", ADMIN)
    assert isinstance(events[0], Status)
    steps = [e for e in events if isinstance(e, ToolStep)]
    assert [s.name for s in steps] == ["list_resources"]
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert streamed == final_text(events)


async def test_unknown_user_is_told_how_to_link_and_no_model_is_called(kit):
    provider = ScriptedProvider()
    kit.providers = [provider]
    events = await kit.ask("How many servers?", "slack:T9:U404", platform="slack", workspace="T9")
    end = events[-1]
    assert isinstance(end, ErrorReply) and end.reason == "unknown_user"
    assert "link" in end.text
    assert provider.calls == []
    rows = await kit.audit_rows()
    assert [(r.result, r.reason) for r in rows] == [(Outcome.DENIED, "unknown_user")]


async def test_role_with_ai_none_is_denied(kit):
    end = (await kit.ask("How many servers?", f"email:{DEMO_USERS['ai_none']}"))[-1]
    assert isinstance(end, ErrorReply) and end.outcome is Outcome.DENIED
    assert "ai:read" in end.text


async def test_role_without_ai_key_falls_back_to_read(kit):
    events = await kit.ask("How many servers do I have?", f"email:{DEMO_USERS['no_ai']}")
    assert isinstance(events[-1], Final)


async def test_rate_limit_refuses_the_fourth_with_a_retry_time(kit):
    kit.policy = LimitPolicy(per_user_per_hour=3)
    ends = []
    for minute in range(4):
        kit.clock.now += timedelta(minutes=minute)
        ends.append((await kit.ask("How many domains do I have?", ADMIN))[-1])
    assert [type(e) for e in ends] == [Final, Final, Final, ErrorReply]
    refusal = ends[-1]
    assert refusal.outcome is Outcome.RATE_LIMITED
    # The first question leaves the window an hour after it was asked.
    assert 0 < refusal.retry_after_s <= 3600
    assert "Try again in" in refusal.text
    rows = await kit.audit_rows()
    assert rows[-1].retry_after_s == refusal.retry_after_s


async def test_over_budget_org_is_refused_before_any_model_call(kit):
    kit.policy = LimitPolicy(org_budget_usd=Decimal("1.00"))
    await kit.store.usage.record(
        UsageRecord(
            kit.clock.now,
            DEMO_ORGS["acme"],
            "usr_ada",
            ADMIN,
            Usage("openai", "gpt", 10, 10, cost_usd=Decimal("1.50")),
        )
    )
    provider = ScriptedProvider()
    kit.providers = [provider]
    end = (await kit.ask("How many servers?", ADMIN))[-1]
    assert isinstance(end, ErrorReply) and end.outcome is Outcome.OVER_BUDGET
    assert provider.calls == [] and end.retry_after_s > 0
    # Another org, with no budget spent, keeps asking.
    kit.providers = []
    assert isinstance((await kit.ask("How many servers?", GLOBEX))[-1], Final)


async def test_client_asking_about_docks_is_refused_inside_the_tool(kit):
    text = final_text(await kit.ask("List my docks", f"email:{DEMO_USERS['client']}"))
    assert "docks:read" in text


async def test_every_question_has_exactly_one_audit_row_and_the_chain_holds(kit):
    kit.policy = LimitPolicy(per_user_per_hour=2)
    await kit.ask("How many servers?", ADMIN)
    await kit.ask("", ADMIN)
    await kit.ask("Hi", "email:ghost@nowhere.example")
    await kit.ask("How many servers?", ADMIN)
    await kit.ask("How many servers?", ADMIN)
    rows = await kit.audit_rows()
    assert [r.result for r in rows] == [
        Outcome.ANSWERED,
        Outcome.DENIED,
        Outcome.DENIED,
        Outcome.ANSWERED,
        Outcome.RATE_LIMITED,
    ]
    assert verify_chain(rows).ok
    assert rows[0].tools == ["count_resources"] and rows[0].model == "offline"
    assert rows[0].org_id == DEMO_ORGS["acme"] and rows[0].user_id == "usr_ada"


async def test_content_is_hashed_when_not_stored(kit):
    from core.assistant import AssistantConfig

    kit.config = AssistantConfig(store_content=False)
    await kit.ask("How many servers do I have?", ADMIN)
    (row,) = await kit.audit_rows()
    assert row.question.startswith("sha256:") and len(row.question) == 7 + 64
    assert row.answer.startswith("sha256:")
    # The conversation keeps hashes too: no question or answer text is stored anywhere.
    kept = [m for rows in kit.store.conversations.rows.values() for m in rows]
    assert kept and all(m.content.startswith("sha256:") for m in kept)


async def test_history_is_carried_within_a_conversation(kit):
    provider = ScriptedProvider(
        [ScriptedTurn(text=["first"]), ScriptedTurn(text=["second"])], name="openai"
    )
    kit.providers = [provider]
    await kit.ask("one", ADMIN, conversation_key="thread-1")
    await kit.ask("two", ADMIN, conversation_key="thread-1")
    contents = [m.content for m in provider.calls[1].messages]
    assert contents == ["one", "first", "two"]


async def test_provider_failure_gives_a_clear_reply_and_one_failed_row(kit):
    busy = ProviderError("busy", "429 from upstream", provider="openai", retry_after_s=20)
    kit.providers = [ScriptedProvider([busy], name="openai")]
    end = (await kit.ask("How many servers?", ADMIN))[-1]
    assert isinstance(end, ErrorReply) and end.outcome is Outcome.FAILED
    assert "busy" in end.text and "20 s" in end.text
    (row,) = await kit.audit_rows()
    assert row.result is Outcome.FAILED and row.reason == "provider_busy"


async def test_auth_failure_never_shows_the_key_to_the_person(kit, caplog):
    denied = ProviderError("auth", "401 invalid key sk-live-abc", provider="openai")
    kit.providers = [ScriptedProvider([denied], name="openai")]
    end = (await kit.ask("How many servers?", ADMIN))[-1]
    assert end.text == "The assistant is misconfigured; an admin has been told."
    assert "rejected its API key" in caplog.text


async def test_shared_channel_must_be_bound_and_masks_detail(kit):
    where = {"platform": "slack", "workspace": "T1", "channel": "C1", "is_dm": False}
    end = (await kit.ask("List my servers", ADMIN, **where))[-1]
    assert isinstance(end, ErrorReply) and end.reason == "unbound_channel"

    await kit.store.bindings.set(Binding("slack:T1", DEMO_ORGS["acme"]))
    provider = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[ToolCall("c1", "list_resources", {"kind": "servers"})]),
            ScriptedTurn(text=["done"]),
        ]
    )
    kit.providers = [provider]
    assert isinstance((await kit.ask("List my servers", ADMIN, **where))[-1], Final)
    tool_output = provider.calls[1].messages[-1].content
    ips = [s.get("primaryIpAddress") for s in kit.mirror.rows(DEMO_ORGS["acme"], "servers")]
    assert any(ips)
    assert not any(ip and ip in tool_output for ip in ips)


async def test_binding_to_another_org_refuses_its_non_members(kit):
    await kit.store.bindings.set(Binding("slack:T1:C2", DEMO_ORGS["globex"]))
    where = {"platform": "slack", "workspace": "T1", "channel": "C2", "is_dm": False}
    end = (await kit.ask("List my servers", ADMIN, **where))[-1]
    assert isinstance(end, ErrorReply) and end.reason == "wrong_org"


async def test_member_of_two_orgs_gets_the_default_org_in_a_dm(kit):
    events = await kit.ask("How many servers do I have?", f"email:{DEMO_USERS['both_orgs']}")
    assert f"**{servers_of(kit, 'globex')}** servers" in final_text(events)


async def test_linked_identity_resolves_to_its_user(kit):
    await kit.store.links.set("discord:G1:42", DEMO_USERS["globex_admin"])
    where = {"platform": "discord", "workspace": "@me", "is_dm": True}
    events = await kit.ask("How many servers do I have?", "discord:G1:42", **where)
    assert f"**{servers_of(kit, 'globex')}** servers" in final_text(events)


async def test_an_unexpected_failure_still_replies_and_audits(kit):
    class BrokenStore:
        async def history(self, key, limit, org_id=None):
            raise ConnectionError("database unreachable")

    kit.store.conversations = BrokenStore()
    end = (await kit.ask("How many servers?", ADMIN))[-1]
    assert isinstance(end, ErrorReply) and end.reason == "internal_error"
    assert "temporarily unavailable" in end.text
    (row,) = await kit.audit_rows()
    assert row.result is Outcome.FAILED and "database unreachable" in row.error_message


async def test_oversized_question_is_refused_plainly(kit):
    end = (await kit.ask("x" * 10_000, ADMIN))[-1]
    assert isinstance(end, ErrorReply) and end.reason == "too_long"


async def test_offline_provider_is_the_default_and_costs_nothing(kit):
    events = await kit.ask("How many servers do I have?", ADMIN)
    end = events[-1]
    assert isinstance(end, Final) and end.model == "offline"
    assert end.usage is not None and end.usage.cost_usd == Decimal(0)


async def test_metrics_count_questions_tokens_and_provider_errors(kit):
    from core import metrics

    def sample(name, **labels):
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    answered = sample("stackdock_questions_total", platform="console", result="answered")
    denied = sample("stackdock_questions_total", platform="console", result="denied")
    busy = sample("stackdock_provider_errors_total", provider="openai", kind="busy")
    tokens_in = sample("stackdock_tokens_total", model="fallback-1", direction="in")

    await kit.ask("How many servers?", ADMIN)
    await kit.ask("How many servers?", "email:ghost@nowhere.example")
    kit.providers = [
        ScriptedProvider([ProviderError("busy", "429", provider="openai")], name="openai"),
        ScriptedProvider(
            [ScriptedTurn(text=["ok"], input_tokens=70)], name="fb", model="fallback-1"
        ),
    ]
    await kit.ask("How many servers?", ADMIN)

    assert (
        sample("stackdock_questions_total", platform="console", result="answered") == answered + 2
    )
    assert sample("stackdock_questions_total", platform="console", result="denied") == denied + 1
    assert sample("stackdock_provider_errors_total", provider="openai", kind="busy") == busy + 1
    assert sample("stackdock_tokens_total", model="fallback-1", direction="in") == tokens_in + 70


async def test_a_pasted_secret_never_reaches_the_model(kit):
    provider = ScriptedProvider([ScriptedTurn(text=["noted"])])
    kit.providers = [provider]
    secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"
    await kit.ask(f"is this key valid? {secret}", ADMIN)
    sent = provider.calls[0].messages[-1].content
    assert secret not in sent and "[redacted]" in sent
    (row,) = await kit.audit_rows()
    assert secret not in (row.question or "")


# ---- issue 11, item 5: a thread's history holds only what the current asker may read ----

CHANNEL = {"platform": "slack", "workspace": "T1", "channel": "C1", "is_dm": False}


async def test_a_lower_role_replying_in_a_thread_gets_no_higher_roles_tool_results(kit):
    await kit.store.bindings.set(Binding("slack:T1", DEMO_ORGS["acme"], allow_detail=True))
    provider = ScriptedProvider(
        [
            ScriptedTurn(
                tool_calls=[
                    ToolCall("d1", "list_resources", {"kind": "docks"}),
                    ToolCall("d2", "get_resource", {"kind": "docks", "id_or_name": "GridPane"}),
                ]
            ),
            ScriptedTurn(tool_calls=[ToolCall("s1", "count_resources", {"kind": "servers"})]),
            ScriptedTurn(text=["Here they are."]),
            ScriptedTurn(text=["Noted."]),
        ]
    )
    kit.providers = [provider]
    thread = {**CHANNEL, "conversation_key": "slack:T1:C1:1.1"}
    await kit.store.links.set("slack:T1:UADMIN", DEMO_USERS["admin"])
    await kit.store.links.set("slack:T1:UDEV", DEMO_USERS["developer"])
    admin = await kit.ask("List my docks and count servers", "slack:T1:UADMIN", **thread)
    assert isinstance(admin[-1], Final)
    dock_names = [d["name"] for d in kit.mirror.rows(DEMO_ORGS["acme"], "docks")]
    assert dock_names and any(name in provider.calls[1].messages[-1].content for name in dock_names)

    await kit.ask("and what about them?", "slack:T1:UDEV", **thread)
    sent = provider.calls[-1].messages
    text = json.dumps([(m.content, [dict(c.arguments) for c in m.tool_calls]) for m in sent])
    assert not any(name in text for name in dock_names) and "GridPane" not in text
    *docks_results, servers_result = [m for m in sent if m.role == "tool"]
    assert all("withheld" in m.content for m in docks_results)
    # What the developer may read stays, and every call still has its result.
    assert json.loads(servers_result.content)["total"] == servers_of(kit, "acme")
    calls = [c.id for m in sent for c in m.tool_calls]
    assert calls == [m.tool_call_id for m in sent if m.role == "tool"] == ["d1", "d2", "s1"]


async def test_the_same_role_keeps_the_threads_tool_results(kit):
    provider = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[ToolCall("d1", "list_resources", {"kind": "docks"})]),
            ScriptedTurn(text=["Here they are."]),
            ScriptedTurn(text=["Still here."]),
        ]
    )
    kit.providers = [provider]
    await kit.ask("List my docks", ADMIN, conversation_key="dm-1")
    await kit.ask("and again?", ADMIN, conversation_key="dm-1")
    (result,) = [m for m in provider.calls[-1].messages if m.role == "tool"]
    assert "withheld" not in result.content
    assert json.loads(result.content)["kind"] == "docks"


async def test_thread_history_follows_the_channels_current_detail_policy(kit):
    await kit.store.links.set("slack:T1:UADMIN", DEMO_USERS["admin"])
    await kit.store.bindings.set(Binding("slack:T1", DEMO_ORGS["acme"], allow_detail=True))
    provider = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[ToolCall("s1", "list_resources", {"kind": "servers"})]),
            ScriptedTurn(text=["acme-web-1 is at 203.0.113.10"]),
            ScriptedTurn(text=["ok"]),
        ]
    )
    kit.providers = [provider]
    thread = {**CHANNEL, "conversation_key": "slack:T1:C1:2.1"}
    await kit.ask("List my servers", "slack:T1:UADMIN", **thread)
    assert "203.0.113.10" in provider.calls[1].messages[-1].content
    await kit.store.bindings.set(Binding("slack:T1", DEMO_ORGS["acme"], allow_detail=False))
    await kit.ask("and now?", "slack:T1:UADMIN", **thread)
    sent = json.dumps([m.content for m in provider.calls[-1].messages])
    assert "203.0.113.10" not in sent and "acme-web-1" in sent


# ---- issue 11, item 9: what the model cost is recorded whatever happens to the reply ----


async def test_spend_is_recorded_when_the_consumer_goes_away_after_the_first_text(kit):
    kit.providers = [
        ScriptedProvider(
            [
                ScriptedTurn(
                    tool_calls=[ToolCall("c1", "count_resources", {"kind": "servers"})],
                    input_tokens=1200,
                    output_tokens=30,
                ),
                ScriptedTurn(text=["You have 8 servers.\n", "More to say."], output_tokens=12),
            ],
            name="openai",
            model="gpt-4o-mini",
        )
    ]
    inbound = Inbound(identity=ADMIN, text="How many servers?", platform="console", is_dm=True)
    stream = kit.service.answer(inbound)
    async for event in stream:
        if isinstance(event, TextDelta):
            break  # the chat platform became unreachable: the adapter stops reading
    await stream.aclose()

    (row,) = await kit.audit_rows()
    assert row.result is Outcome.FAILED and "interrupted" in row.error_message
    assert (row.input_tokens, row.output_tokens) == (1200, 30)
    assert row.model == "gpt-4o-mini" and row.cost_usd is not None and row.cost_usd > 0
    (usage,) = kit.store.usage.rows
    assert usage.usage.input_tokens == 1200 and usage.audit_id == row.id
    assert usage.org_id == DEMO_ORGS["acme"]


async def test_spend_is_recorded_when_delivery_fails_after_the_model_has_answered(kit):
    # One line with no line break: the scrubber holds it until the model's turn is over, so
    # the first text the adapter sees comes after the whole answer was paid for.
    kit.providers = [
        ScriptedProvider([ScriptedTurn(text=["You have ", "8 servers."], input_tokens=500)])
    ]
    inbound = Inbound(identity=ADMIN, text="How many servers?", platform="console", is_dm=True)
    stream = kit.service.answer(inbound)
    with pytest.raises(ConnectionError):
        async for event in stream:
            if isinstance(event, TextDelta):
                raise ConnectionError("slack unreachable")
    await stream.aclose()  # what the event loop does to an abandoned generator
    (row,) = await kit.audit_rows()
    assert row.result is Outcome.FAILED
    assert (row.input_tokens, row.output_tokens) == (500, 5)
    (usage,) = kit.store.usage.rows
    assert usage.audit_id == row.id and usage.usage.input_tokens == 500


# ---- issue 11, item 11: model output is scrubbed before it is stored ----


async def test_model_output_is_scrubbed_before_the_conversation_stores_it(kit):
    leaked = "sk-proj-" + "abcdefghijklmnopqrstuvwxyz012345"
    provider = ScriptedProvider(
        [
            ScriptedTurn(
                text=[f"The key is {leaked}"],
                tool_calls=[
                    ToolCall("g1", "get_resource", {"kind": "servers", "id_or_name": leaked})
                ],
            ),
            ScriptedTurn(text=[f"and the password is hunter2 and {leaked}"]),
        ]
    )
    kit.providers = [provider]
    events = await kit.ask("my password is hunter2, what is my key?", ADMIN, conversation_key="k")
    stored = kit.store.conversations.rows["k"]
    text = json.dumps([(m.content, [dict(c.arguments) for c in m.tool_calls]) for m in stored])
    assert leaked not in text and "hunter2" not in text
    (row,) = await kit.audit_rows()
    assert "hunter2" not in row.question and leaked not in row.answer
    assert "hunter2" not in provider.calls[0].messages[-1].content
    assert leaked not in "".join(e.text for e in events if isinstance(e, TextDelta))


# ---- issue 11, item 2: the store down from the start still answers and keeps the question ----


class DownRepo:
    def __getattr__(self, name):
        async def down(*args, **kwargs):
            raise ConnectionError("connection refused")

        return down


class DownStore:
    """Every repository and the exchange write fail, as when PostgreSQL is unreachable."""

    def __getattr__(self, name):
        if name == "record_exchange":
            return DownRepo().record_exchange
        return DownRepo()


async def test_store_down_from_the_start_replies_unavailable_and_spools_the_question(kit, tmp_path):
    from adapters.spool.audit_spool import AuditSpool, decode

    kit.store = DownStore()
    kit.spool = spool = AuditSpool(tmp_path / "spool.jsonl")
    provider = ScriptedProvider()
    kit.providers = [provider]
    where = {**CHANNEL, "event_id": "slack:event:Ev1"}
    end = (await kit.ask("How many servers?", "slack:T1:UADMIN", **where))[-1]
    assert isinstance(end, ErrorReply) and end.reason == "internal_error"
    assert "temporarily unavailable" in end.text
    assert provider.calls == []
    lines = (tmp_path / "spool.jsonl").read_text("utf-8").splitlines()
    (record, usage) = decode(lines[0])
    assert len(lines) == 1 and spool.pending() == 1
    assert record.question == "How many servers?" and record.result is Outcome.FAILED
    assert record.metadata["event_id"] == "slack:event:Ev1" and usage is None


async def test_a_failing_event_claim_lets_the_question_through(kit, caplog):
    kit.store.events = DownRepo()
    with caplog.at_level(logging.WARNING, logger="core.service"):
        assert await kit.service.claim_event("slack:event:Ev2") is True
    assert "could not claim event" in caplog.text


async def test_a_thread_answering_for_another_org_carries_none_of_the_first_orgs_history(kit):
    # One conversation key, first answered for Acme, then (its channel rebound) for Globex.
    provider = ScriptedProvider(
        [
            ScriptedTurn(tool_calls=[ToolCall("c1", "list_resources", {"kind": "servers"})]),
            ScriptedTurn(text=["Acme has servers."]),
            ScriptedTurn(text=["Globex answer."]),
        ],
        name="openai",
    )
    kit.providers = [provider]
    await kit.ask("List my servers", ADMIN, conversation_key="shared-thread")
    await kit.ask("And now?", GLOBEX, conversation_key="shared-thread")
    sent = provider.calls[-1].messages
    assert [m.content for m in sent] == ["And now?"], sent
    acme_servers = [str(s["name"]) for s in kit.mirror.rows(DEMO_ORGS["acme"], "servers")]
    assert acme_servers and not any(name in str(sent) for name in acme_servers)
