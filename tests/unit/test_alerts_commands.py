"""Alerts in chat through the driving port: `alerts on|off` in a channel, Mute 24 h and the
question Explain asks, with who may do each, on the demo data."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from core.alerts import AlertDetector
from core.models import Binding, Final, Inbound
from core.problems import find_problems
from tests.unit.alert_kit import RecordingSink
from tests.unit.conftest import Kit

ADA = "ada@acme.example"  # Admin: ai:full
DEVON = "devon@acme.example"  # Developer: ai:read


def said(email: str, channel: str = "C1", *, dm: bool = False, thread: str = "") -> Inbound:
    user = email.split("@")[0]
    return Inbound(
        identity=f"slack:T1:{user}",
        text="",
        platform="slack",
        is_dm=dm,
        workspace="T1",
        channel=channel,
        email=email,
        conversation_key=f"slack:T1:{channel}:{thread}" if thread else "",
    )


async def posted_alert(kit: Kit) -> tuple[str, RecordingSink]:
    """Alerts on in C1, then the Acme API monitor goes down: its alert is posted."""
    await kit.store.bindings.set(Binding("slack:T1", "org_acme"))
    await kit.service.alerts(said(ADA), "on")
    api = dict(kit.mirror.get("monitors", "mon_acme_api") or {})
    kit.clock.now += timedelta(minutes=1)
    kit.mirror.apply("monitors", [{**api, "status": "down"}], [], kit.clock.now)
    await AlertDetector(kit.store, kit.mirror, kit.clock, kit.clock.now.tzinfo).detect()
    sink = RecordingSink()
    from core.alert_delivery import AlertDelivery

    async def no_wait(_: float) -> None:
        return None

    await AlertDelivery(kit.store, sink, kit.clock, kit.clock.now.tzinfo, worker="w",
                        sleep=no_wait).deliver()  # fmt: skip
    [post] = [s for s in sink.ops("post") if s.card and s.card.ref]
    assert post.card is not None
    return post.card.ref, sink


async def test_alerts_are_turned_on_and_off_by_ai_full_members_in_bound_channels(kit: Kit) -> None:
    await kit.store.bindings.set(Binding("slack:T1", "org_acme"))
    assert "Alerts are posted in channels" in await kit.service.alerts(said(ADA, dm=True), "on")
    denied = await kit.service.alerts(said(DEVON), "on")
    assert "needs ai:full" in denied and "Developer" in denied
    assert await kit.store.alerts.subscription("slack:T1:C1") is None
    assert (await kit.service.alerts(said(DEVON), "")).startswith("Alerts are off")
    on = await kit.service.alerts(said(ADA), "on critical")
    critical = [p for p in find_problems(kit.mirror, "org_acme", kit.clock.now)
                if p.severity == "critical"]  # fmt: skip
    assert len(critical) >= 1  # the demo's Checkout monitor is down, at least
    assert on == f"Alerts are on here for critical and above; {len(critical)} open now."
    sub = await kit.store.alerts.subscription("slack:T1:C1")
    assert sub is not None and (sub.org_id, sub.min_severity) == ("org_acme", "critical")
    assert await kit.service.alerts(said(DEVON), "status") == (
        "Alerts are on here for critical and above."
    )
    assert "Say which severity" in await kit.service.alerts(said(ADA), "on loud")
    assert await kit.service.alerts(said(ADA), "off") == "Alerts are off in this channel."
    assert await kit.store.alerts.subscription("slack:T1:C1") is None
    rows = [row async for row in kit.store.audit.iter()]
    assert [(r.action, r.result) for r in rows] == [
        ("alert.on", "denied"),
        ("alert.subscribed", "answered"),
        ("alert.unsubscribed", "answered"),
    ]
    assert {r.org_id for r in rows} == {"org_acme"}


async def test_an_unbound_channel_or_another_orgs_channel_gets_no_alerts(kit: Kit) -> None:
    assert "isn't connected" in await kit.service.alerts(said(ADA), "on")
    await kit.store.bindings.set(Binding("slack:T1:C1", "org_globex"))
    text = await kit.service.alerts(said(ADA), "on")
    assert "not a member" in text or "isn't connected" in text
    assert await kit.store.alerts.subscriptions() == []


async def test_mute_is_for_ai_full_members_where_the_alert_was_posted(kit: Kit) -> None:
    ref, _ = await posted_alert(kit)
    denied = await kit.service.mute_alert(said(DEVON), ref)
    assert "needs ai:full" in denied
    assert "no longer track" in await kit.service.mute_alert(said(ADA, "C2"), ref)
    assert "no longer track" in await kit.service.mute_alert(said(ADA), "999999")
    assert "no longer track" in await kit.service.mute_alert(said(ADA), "1 OR 1=1")
    muted = await kit.service.mute_alert(said(ADA), ref)
    assert muted == "Muted: no more messages about this here until 2026-11-27 12:01 UTC."
    [alert] = [a for a in kit.store.alerts.alerts.values() if a.announced]
    assert alert.muted_until == kit.clock.now + timedelta(hours=24)
    mutes = [row async for row in kit.store.audit.iter() if row.action == "alert.muted"]
    assert [(m.result, m.identity, m.org_id) for m in mutes] == [
        ("denied", "slack:T1:devon", "org_acme"),
        ("answered", "slack:T1:ada", "org_acme"),
    ]


async def test_explain_asks_about_the_alert_as_the_presser_in_its_thread(kit: Kit) -> None:
    ref, _ = await posted_alert(kit)
    pressed = said(DEVON, thread="1.0001")
    question = await kit.service.alert_question(pressed, ref)
    assert question is not None and question.startswith("Explain this alert")
    assert "Acme API health" in question and "monitor is down" in question
    assert await kit.service.alert_question(said(DEVON, "C2"), ref) is None
    events = [e async for e in kit.service.answer(dataclasses.replace(pressed, text=question))]
    assert isinstance(events[-1], Final)
    rows = [row async for row in kit.store.audit.iter() if row.action == "ai.chat"]
    assert [(r.identity, r.channel, r.org_id) for r in rows] == [
        ("slack:T1:devon", "C1", "org_acme")
    ]
