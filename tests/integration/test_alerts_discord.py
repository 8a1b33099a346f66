"""Alerts on Discord through the real bot against the fake Discord: `/stackdock alerts on`,
an alert posted with its buttons when the data changes, Mute refused without ai:full, Explain
answered in the alert's thread, a recovery edited in and replied in the thread, and a mute."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.fakes.services.discord_api import buttons_of, slash_command, string_option, text_of
from tests.harness.discord_world import DiscordWorld, discord_world

EPHEMERAL = 64


async def followup_text(world: DiscordWorld, interaction: dict[str, Any]) -> str:
    fake = world.fake
    [sent] = await fake.wait_for(
        lambda: fake.calls_to("POST", rf"/webhooks/\d+/{interaction['token']}"),
        what="a reply to the interaction",
    )
    assert sent.body["flags"] == EPHEMERAL
    return str(sent.body["content"])


def set_monitor(world: DiscordWorld, doc_id: str, status: str) -> None:
    mirror = world.rt.mirror
    doc = dict(mirror.get("monitors", doc_id) or {})
    mirror.apply("monitors", [{**doc, "status": status}], [], datetime.now(UTC))


async def test_alerts_on_discord(sqlite_url: str) -> None:
    async with discord_world(sqlite_url, mirror_refresh_s=0.2) as world:
        fake, channel = world.fake, world.guild.channel_id
        await world.start_bot()
        on = await fake.interact(
            world.people["admin"],
            channel,
            type=2,
            data=slash_command("alerts", [string_option("setting", "on")]),
        )
        assert (await followup_text(world, on)).startswith("Alerts are on here for high and above")
        [notice] = await fake.wait_for(lambda: world.bot_messages(channel), what="subscribed")
        assert "Subscribed" in notice["content"] and buttons_of(notice) == []

        set_monitor(world, "mon_acme_api", "down")
        alert = await fake.wait_for(
            lambda: next((m for m in world.bot_messages(channel) if buttons_of(m)), None),
            what="the alert",
        )
        assert "Critical · monitor · Acme API health" in text_of(alert)
        explain, mute = buttons_of(alert)
        assert explain.startswith("sd:alert:explain:") and mute.startswith("sd:alert:mute:")

        async def press(who: str, custom_id: str) -> dict[str, Any]:
            return await fake.interact(
                world.people[who],
                channel,
                type=3,
                data={"custom_id": custom_id, "component_type": 2},
                message=alert,
            )

        denied = await press("developer", mute)
        assert "needs ai:full" in await followup_text(world, denied)

        # Explain: answered in the thread grown from the alert, as the developer asked it.
        await press("developer", explain)
        shown = await world.wait_answered(alert["id"])
        assert shown and all(m["channel_id"] == alert["id"] for m in shown)
        rows = [r async for r in world.rt.store.audit.iter() if r.action == "ai.chat"]
        assert [r.identity for r in rows] == [world.identity("developer")]
        assert rows[0].question is not None and "Acme API health" in rows[0].question

        # Recovery: the alert says so, and its thread is told.
        set_monitor(world, "mon_acme_api", "up")
        await fake.wait_for(
            lambda: "✅ Resolved after" in text_of(fake.messages[alert["id"]]), what="resolved"
        )
        await fake.wait_for(
            lambda: any(
                "✅ Resolved after" in m["content"] for m in world.bot_messages(alert["id"])
            ),
            what="the reply in the thread",
        )

        muted = await press("admin", mute)
        assert (await followup_text(world, muted)).startswith("Muted: no more messages")
        await fake.wait_for(
            lambda: "🔕 muted until" in text_of(fake.messages[alert["id"]]), what="muted"
        )
        sent = [r async for r in world.rt.store.audit.iter() if r.action.startswith("alert.")]
        assert {r.action for r in sent} >= {"alert.sent", "alert.resolved", "alert.muted"}
        assert all(r.org_id == "org_acme" for r in sent)
