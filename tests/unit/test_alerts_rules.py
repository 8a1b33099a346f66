"""The alert rules end to end on in-memory fakes and a fake clock: detection, the outbox and
delivery into a recording sink."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from core.alert_model import AlertState
from core.alert_rules import problem_key
from core.ports import DeliveryError
from core.problems import Problem
from tests.unit.alert_kit import OTHER_TARGET, TARGET, AlertWorld, issue, monitor


async def ready(world: AlertWorld, **subscription) -> None:
    await world.bind()
    await world.subscribe(**subscription)
    await world.step()
    world.sink.clear()


async def test_subscribing_says_how_many_problems_are_open_and_never_posts_them() -> None:
    world = AlertWorld()
    world.put("monitors", monitor("m1", "down"))
    world.put("issues", issue("i1", "high"))
    world.put("issues", issue("i2", "medium"))  # not a problem at all
    await world.bind()
    assert await world.subscribe() == 2
    await world.step()
    await world.step()
    posts = world.sink.ops("post")
    assert len(posts) == 1 and posts[0].card is not None
    assert "Subscribed" in posts[0].card.headline and "2 problems are open now" in (
        posts[0].card.headline
    )
    assert posts[0].card.ref == ""  # a notice has no buttons
    assert world.sink.ops("edit") == world.sink.ops("reply") == []
    assert "alert.subscribed" in await world.audit_actions()


async def test_a_new_problem_posts_one_alert_with_its_facts_and_buttons() -> None:
    world = AlertWorld()
    await ready(world)
    world.clock.advance(minutes=1)
    world.put("monitors", monitor("m1", "down", name="Checkout API"))
    await world.step()
    await world.step()  # nothing new: nothing more
    [post] = world.sink.ops("post")
    card = post.card
    assert card is not None and post.channel == "C1"
    assert card.headline == "Critical · monitor · Checkout API"
    assert card.lines[0] == "What is wrong: monitor is down"
    assert card.lines[1] == "Open since 2026-06-02 08:01 UTC"
    assert card.ref.isdigit() and card.severity == "critical" and not card.resolved
    assert (await world.audit_actions()).count("alert.sent") == 1


async def test_below_the_threshold_or_in_another_org_nothing_is_posted() -> None:
    world = AlertWorld()
    await ready(world, severity="critical")
    world.put("issues", issue("i1", "high"))  # high < critical
    world.put("monitors", monitor("g1", "down", org="org_globex"))  # not this channel's org
    await world.step()
    assert world.sink.sent == []
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    assert [s.card.headline for s in world.sink.ops("post") if s.card] == [
        "Critical · monitor · m1"
    ]


async def test_each_channel_hears_only_its_own_org() -> None:
    world = AlertWorld()
    await world.bind("slack:T1:C1", "org_acme")
    await world.bind("slack:T1:C2", "org_globex")
    await world.subscribe(TARGET, "org_acme")
    await world.subscribe(OTHER_TARGET, "org_globex")
    await world.step()
    world.sink.clear()
    world.put("monitors", monitor("g1", "down", org="org_globex"))
    await world.step()
    assert [(s.op, s.channel) for s in world.sink.sent] == [("post", "C2")]


async def test_a_resolved_problem_edits_its_alert_and_says_so_in_the_thread() -> None:
    world = AlertWorld()
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    [post] = world.sink.ops("post")
    world.clock.advance(minutes=12)
    world.put("monitors", monitor("m1", "up"))
    await world.step()
    [edit] = world.sink.ops("edit")
    [reply] = world.sink.ops("reply")
    assert edit.ref == reply.ref == post.ref
    assert edit.card is not None and edit.card.resolved
    assert edit.card.lines[1] == "✅ Resolved after 12 min"
    assert edit.card.ref == post.card.ref  # the buttons still act on the same alert
    assert reply.text == "✅ Resolved after 12 min."
    assert "alert.resolved" in await world.audit_actions()


async def test_a_problem_back_within_15_minutes_reopens_the_same_alert() -> None:
    world = AlertWorld()
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    world.clock.advance(minutes=5)
    world.put("monitors", monitor("m1", "up"))
    await world.step()
    world.clock.advance(minutes=14)
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    assert len(world.sink.ops("post")) == 1  # no second top-level message
    last_edit = world.sink.ops("edit")[-1]
    assert last_edit.card is not None and not last_edit.card.resolved
    assert world.sink.ops("reply")[-1].text.startswith("🔁 It is back, 14 min after")
    # Later than 15 minutes after resolving, the same problem is a new alert.
    world.clock.advance(minutes=1)
    world.put("monitors", monitor("m1", "up"))
    await world.step()
    world.clock.advance(minutes=16)
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    assert len(world.sink.ops("post")) == 2


async def test_two_detectors_over_the_same_data_post_once_and_stale_data_writes_nothing() -> None:
    world = AlertWorld()
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    stale = world.mirror.as_of
    await world.detector.detect()
    await world.detector.detect()  # a second process with the same data
    await world.delivery.deliver()
    assert len(world.sink.ops("post")) == 1
    # A process still holding the data from before the fix must not reopen anything.
    world.clock.advance(minutes=1)
    world.put("monitors", monitor("m1", "up"))
    await world.detector.detect()
    old = type(world.mirror)()
    old.replace({k: list(v.values()) for k, v in world.tables.items()}, stale or world.clock())
    old.apply("monitors", [monitor("m1", "down")], [], stale or world.clock())
    lagging = type(world.detector)(world.store, old, world.clock, world.tz)
    assert await lagging.detect() is None
    await world.delivery.deliver()
    assert len(world.sink.ops("post")) == 1 and len(world.sink.ops("reply")) == 1


async def test_a_burst_of_new_problems_is_one_grouped_message() -> None:
    world = AlertWorld()
    await ready(world)
    for n in range(50):
        world.tables["monitors"][f"m{n}"] = monitor(f"m{n}", "down")
    await world.step()
    [post] = world.sink.ops("post")
    assert post.card is not None and post.card.headline.startswith("50 problems at once")
    assert post.card.lines[-1] == "…and 35 more."
    assert world.sink.ops("edit") == world.sink.ops("reply") == []
    # One of them resolving edits the group and replies in its thread, naming it.
    world.clock.advance(minutes=3)
    world.put("monitors", monitor("m7", "up"))
    await world.step()
    [edit] = world.sink.ops("edit")
    [reply] = world.sink.ops("reply")
    assert edit.ref == reply.ref == post.ref
    assert edit.card is not None and "49 still open" in edit.card.headline
    assert reply.text == "m7: ✅ Resolved after 3 min."


async def test_messages_to_one_channel_are_paced() -> None:
    world = AlertWorld()
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    await world.detector.detect()
    world.clock.advance(minutes=2)
    world.put("monitors", monitor("m1", "up"))
    await world.step()
    assert [s.op for s in world.sink.sent] == ["post", "edit", "reply"]
    assert world.slept == [1.0, 1.0]


async def test_mute_silences_an_alert_for_24_hours() -> None:
    world = AlertWorld()
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    [post] = world.sink.ops("post")
    alert = next(iter(world.store.alerts.alerts.values()))
    assert alert.announced
    await world.store.alerts.mute(
        int(post.card.ref),  # type: ignore[union-attr]
        world.clock() + timedelta(hours=24),
        "Ada",
        _mute_update(alert),
        _audit(world),
    )
    await world.delivery.deliver()
    [edit] = world.sink.ops("edit")
    assert edit.card is not None and "🔕 muted until 2026-06-03 08:00 UTC" in edit.card.lines[1]
    world.sink.clear()
    for minutes in (30, 90, 600):  # resolves, returns, resolves: all silent while muted
        world.clock.advance(minutes=minutes)
        status = "up" if minutes != 90 else "down"
        world.put("monitors", monitor("m1", status))
        await world.step()
    assert world.sink.sent == []
    world.clock.advance(hours=24)
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    assert len(world.sink.ops("post")) == 1  # the mute is over: a new alert


async def test_the_digest_comes_once_a_day_at_its_local_time() -> None:
    paris = ZoneInfo("Europe/Paris")
    world = AlertWorld(tz=paris)  # 08:00 UTC is 10:00 in Paris in June
    await world.bind()
    await world.subscribe(digest_at="09:00")  # today's 09:00 has passed: tomorrow's is next
    world.clock.advance(minutes=1)
    world.put("issues", issue("i1", "critical"))
    await world.step()
    world.clock.advance(hours=2)
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    world.clock.advance(hours=1)
    world.put("monitors", monitor("m1", "up"))
    await world.step()
    world.sink.clear()
    world.clock.now = world.clock.now.replace(hour=6, minute=59) + timedelta(days=1)
    await world.step()
    assert world.sink.sent == []  # 08:59 in Paris
    world.clock.advance(minutes=1)
    await world.step()
    [digest] = world.sink.ops("post")
    assert digest.card is not None and digest.card.ref == ""
    assert digest.card.headline.startswith(
        "📋 Daily digest: 1 open now; since 2026-06-02 10:00 CEST"
    )
    assert "2 opened and 1 resolved" in digest.card.headline
    assert any("Error i1" in line for line in digest.card.lines)
    assert any(line.startswith("Resolved: m1") for line in digest.card.lines)
    world.clock.advance(hours=3)
    await world.step()
    assert len(world.sink.ops("post")) == 1  # once a day
    world.clock.advance(days=1)
    await world.step()
    assert len(world.sink.ops("post")) == 2
    assert "alert.digest" in await world.audit_actions()


async def test_shared_channels_see_no_addresses_and_nobody_sees_secrets() -> None:
    world = AlertWorld()
    await ready(world)
    name = "db.internal.acme.example 10.0.0.7"
    world.put("monitors", monitor("m1", "down", name=name + " token=sk-live-abcdefghijklmnop1234"))
    await world.step()
    card = world.sink.ops("post")[0].card
    assert card is not None, "an alert is posted as a card"
    assert "10.0.0.7" not in card.headline and "acme.example" not in card.headline
    assert "[ip hidden]" in card.headline and "[host hidden]" in card.headline
    assert "sk-live" not in card.headline
    # A binding that allows detail shows the addresses, never the secret.
    world2 = AlertWorld()
    await world2.bind(detail=True)
    await world2.subscribe()
    await world2.step()
    world2.put("monitors", monitor("m1", "down", name=name + " token=sk-live-abcdefghijklmnop1234"))
    await world2.step()
    shown = world2.sink.ops("post")[-1].card
    assert shown is not None and "10.0.0.7" in shown.headline and "sk-live" not in shown.headline


async def test_an_unbound_channel_hears_nothing_more() -> None:
    world = AlertWorld()
    await ready(world)
    await world.store.bindings.remove("slack:T1")
    world.put("monitors", monitor("m1", "down"))
    await world.step()
    assert world.sink.sent == []


async def test_a_dead_workers_lease_expires_and_the_message_is_posted_once() -> None:
    world = AlertWorld()
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    await world.detector.detect()
    # Worker A claims the message and dies before posting it.
    claimed = await world.store.alerts.claim("slack", "dead", world.clock(), 60)
    assert [r.kind for r in claimed] == ["post"]
    other = world.worker("w2")
    assert await other.deliver() == 0  # leased to A: not taken
    world.clock.advance(seconds=61)
    assert await other.deliver() == 1
    assert await world.delivery.deliver() == 0  # delivered: never again
    assert len(world.sink.ops("post")) == 1


async def test_a_refused_post_is_tried_again_and_a_permanent_refusal_given_up() -> None:
    world = AlertWorld()
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    world.sink.failures.append(DeliveryError("ratelimited"))
    await world.step()
    assert world.sink.sent == []
    world.clock.advance(seconds=1)
    await world.delivery.deliver()
    assert len(world.sink.ops("post")) == 0  # backing off: 2 s after the first try
    world.clock.advance(seconds=2)
    await world.delivery.deliver()
    assert len(world.sink.ops("post")) == 1
    world.put("monitors", monitor("m2", "down"))
    world.sink.failures.append(DeliveryError("channel_not_found", permanent=True))
    await world.step()
    world.clock.advance(minutes=10)
    await world.delivery.deliver()
    assert len(world.sink.ops("post")) == 1
    failed = [row async for row in world.store.audit.iter() if row.result == "failed"]
    assert [row.action for row in failed] == ["alert.sent"]


async def test_a_message_refused_for_a_day_is_given_up() -> None:
    world = AlertWorld()
    await ready(world)
    world.put("monitors", monitor("m1", "down"))
    await world.detector.detect()
    for _ in range(30):
        world.sink.failures.append(DeliveryError("service_unavailable"))
        await world.delivery.deliver()
        world.clock.advance(minutes=5)
    assert world.sink.sent == []  # still trying after two and a half hours
    world.clock.advance(days=1)
    world.sink.failures.append(DeliveryError("service_unavailable"))
    await world.delivery.deliver()
    world.clock.advance(minutes=5)
    assert await world.delivery.deliver() == 0 and world.sink.sent == []
    failed = [row async for row in world.store.audit.iter() if row.result == "failed"]
    assert [row.metadata["error"] for row in failed] == ["service_unavailable"]


def test_a_problems_identity_ignores_its_changing_detail() -> None:
    first = Problem("issues", "i1", "Boom", "high", "high alert, 3 events")
    later = Problem("issues", "i1", "Boom", "critical", "critical alert, 900 events")
    assert problem_key(first) == problem_key(later) == "issues:i1:open_alert"
    down = Problem("monitors", "m1", "api", "critical", "monitor is down")
    validating = Problem("monitors", "m1", "api", "medium", "monitor is validating")
    assert problem_key(down) != problem_key(validating)


def _mute_update(alert: AlertState):
    from core.alert_model import Outgoing

    return Outgoing(alert.target, "update", f"mute:{alert.id}", "alert.muted", alert.id)


def _audit(world: AlertWorld):
    from core.alerts import audit_row

    return audit_row(TARGET, "org_acme", "alert.muted", world.clock(), identity="slack:T1:U1")


async def test_metrics_count_detections_posts_resolutions_and_lag() -> None:
    from core.metrics import (
        ALERT_DELIVERY_LAG_SECONDS,
        ALERTS_DETECTED,
        ALERTS_RESOLVED,
        ALERTS_SENT,
    )

    def value(metric, **labels) -> float:
        return (metric.labels(**labels) if labels else metric)._value.get()

    world = AlertWorld()
    await ready(world)
    before = (
        value(ALERTS_DETECTED, action="alert.sent"),
        value(ALERTS_SENT, platform="slack", action="alert.sent"),
        value(ALERTS_RESOLVED),
        ALERT_DELIVERY_LAG_SECONDS._sum.get(),
    )
    world.put("monitors", monitor("m1", "down"))
    await world.detector.detect()
    world.clock.advance(seconds=30)  # delivered 30 s after it was detected
    await world.delivery.deliver()
    world.put("monitors", monitor("m1", "up"))
    await world.step()
    after = (
        value(ALERTS_DETECTED, action="alert.sent"),
        value(ALERTS_SENT, platform="slack", action="alert.sent"),
        value(ALERTS_RESOLVED),
        ALERT_DELIVERY_LAG_SECONDS._sum.get(),
    )
    assert [a - b for a, b in zip(after, before, strict=True)][:3] == [1, 1, 1]
    # A float sum: 30 s added to whatever earlier tests observed may round a hair below 30.
    assert after[3] - before[3] >= 30 - 1e-6


def test_alerts_tz_must_be_a_real_time_zone() -> None:
    import pytest

    from bot.settings import SettingsError, load_settings

    assert load_settings(_env_file=None, alerts_tz="Europe/Paris").alerts_zone() == ZoneInfo(
        "Europe/Paris"
    )
    with pytest.raises(SettingsError, match="ALERTS_TZ: unknown time zone"):
        load_settings(_env_file=None, alerts_tz="Mars/Olympus")
