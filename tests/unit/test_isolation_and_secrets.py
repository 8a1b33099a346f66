"""Tenant isolation and secret safety, proven through the whole pipeline.

A scripted model names another org's ids and names; it must get nothing of that org. No reply,
log line, audit row or model input may contain the demo's planted credentials.
"""

from __future__ import annotations

import json
import logging

from adapters.stackdock.demo import DEMO_ORGS, DEMO_SECRETS, DEMO_USERS
from core.access import KINDS
from core.models import ToolCall
from core.prompts import all_prompts
from tests.fakes.ports.scripted_provider import ScriptedProvider, ScriptedTurn
from tests.unit.conftest import final_text

ADMIN = f"email:{DEMO_USERS['admin']}"


def other_org_markers(kit) -> tuple[set[str], set[str]]:
    """Every id and name of Globex's resources (the admin asking belongs only to Acme)."""
    ids, names = set(), set()
    for kind in KINDS:
        for doc in kit.mirror.rows(DEMO_ORGS["globex"], kind):
            ids.add(str(doc["_id"]))
            for field in ("name", "domainName", "title"):
                if doc.get(field):
                    names.add(str(doc[field]))
    acme_names = {
        str(doc.get(f))
        for kind in KINDS
        for doc in kit.mirror.rows(DEMO_ORGS["acme"], kind)
        for f in ("name", "domainName", "title")
        if doc.get(f)
    }
    return ids, names - acme_names  # a name both orgs use proves nothing either way


async def test_model_naming_another_orgs_rows_gets_nothing_of_that_org(kit):
    ids, names = other_org_markers(kit)
    assert ids and names
    calls = []
    for i, kind in enumerate(KINDS):
        for doc in kit.mirror.rows(DEMO_ORGS["globex"], kind):
            calls.append(
                ToolCall(
                    f"id-{i}-{doc['_id']}", "get_resource", {"kind": kind, "id_or_name": doc["_id"]}
                )
            )
    for j, name in enumerate(sorted(names)):
        calls.append(
            ToolCall(f"nm-{j}", "list_resources", {"kind": "servers", "name_contains": name})
        )
        calls.append(
            ToolCall(f"gn-{j}", "get_resource", {"kind": "webServices", "id_or_name": name})
        )
    calls.append(
        ToolCall("org", "list_resources", {"kind": "servers", "orgId": DEMO_ORGS["globex"]})
    )
    calls.append(ToolCall("cnt", "count_resources", {"group_by": "provider"}))
    calls.append(ToolCall("pb", "find_problems", {}))
    provider = ScriptedProvider([ScriptedTurn(tool_calls=calls), ScriptedTurn(text=["ok"])])
    kit.providers = [provider]

    events = await kit.ask("Show me Globex's servers", ADMIN)
    assert final_text(events) == "ok"
    tool_outputs = [m.content for m in provider.calls[1].messages if m.role == "tool"]
    assert len(tool_outputs) == len(calls)
    # A refusal may quote the model's own argument back; anything beyond that would be a leak.
    seen = []
    for call, output in zip(calls, tool_outputs, strict=True):
        for value in call.arguments.values():
            output = output.replace(str(value), "<asked>")
        seen.append(output)
    leaked = [marker for marker in ids | names if marker in "\n".join(seen)]
    assert leaked == []
    # The count is Acme's own: the same as counting Acme's rows directly.
    count = json.loads(tool_outputs[-2])
    acme_total = sum(len(kit.mirror.rows(DEMO_ORGS["acme"], k)) for k in KINDS)
    assert json.dumps(count).count(str(acme_total)) >= 1


async def test_no_secret_reaches_a_reply_a_log_the_audit_or_the_model(kit, caplog):
    caplog.set_level(logging.DEBUG)
    calls = [
        ToolCall(f"g-{kind}-{doc['_id']}", "get_resource", {"kind": kind, "id_or_name": doc["_id"]})
        for kind in KINDS
        for doc in kit.mirror.rows(DEMO_ORGS["acme"], kind)
    ]
    calls += [
        ToolCall(f"l-{kind}", "list_resources", {"kind": kind, "limit": 50}) for kind in KINDS
    ]
    scripted = ScriptedProvider([ScriptedTurn(tool_calls=calls), ScriptedTurn(text=["summary"])])
    kit.providers = [scripted]
    replies = [await kit.ask("Tell me everything", ADMIN)]
    kit.providers = []  # the offline provider, over every prompt in the catalogue
    for prompt in all_prompts():
        replies.append(await kit.ask(prompt, ADMIN))

    surfaces = [repr(events) for events in replies]
    surfaces.append(repr(await kit.audit_rows()))
    surfaces.append(caplog.text)
    surfaces += [repr(call.messages) + call.system for call in scripted.calls]
    blob = "\n".join(surfaces)
    assert "get_resource" in blob  # the surfaces really hold the tool traffic
    for secret in DEMO_SECRETS:
        assert secret not in blob, secret
