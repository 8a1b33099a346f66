"""Alerts on Slack through the real Bolt app and the fake Slack Web API: `/stackdock alerts`,
an alert posted when the data changes, Mute refused without ai:full, Explain answered in the
alert's thread as the presser, and a mute shown on the alert."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from tests.fakes.services.slack_api import block_action, slash_command
from tests.harness.slack_harness import TEAM, Harness, slack_app


async def command(h: Harness, text: str, user: str = "UADMIN") -> None:
    payload = slash_command(text, user=user, response_url=h.api.response_url(text[:8]))
    status, _, seconds = await h.send(payload, form=True)
    assert status == 200 and seconds < 1.0


async def press(h: Harness, action_id: str, value: str, ts: str, user: str) -> None:
    action = {"type": "button", "block_id": "b", "action_id": action_id, "value": value}
    payload = block_action(action, user=user, message_ts=ts, response_url=h.api.response_url(user))
    status, _, _ = await h.send(payload, form=True)
    assert status == 200


async def until(what: Any, within_s: float = 10.0) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if value := what():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_alerts_on_slack(sqlite_url: str) -> None:
    async with slack_app(sqlite_url, mirror_refresh_s=0.2) as h:
        await command(h, "alerts on", user="UDEV")
        await until(lambda: h.api.responses)
        assert "needs ai:full" in h.api.responses[-1]["text"]
        await command(h, "alerts on")
        await until(lambda: len(h.api.responses) == 2)
        assert h.api.responses[-1]["text"].startswith("Alerts are on here for high and above")
        [notice] = await until(lambda: h.api.bot_messages("C1"))
        assert "Subscribed" in notice.text

        mirror = h.rt.mirror
        api_monitor = dict(mirror.get("monitors", "mon_acme_api") or {})
        mirror.apply("monitors", [{**api_monitor, "status": "down"}], [], datetime.now(UTC))
        alert = await until(lambda: next((m for m in h.api.bot_messages("C1") if m.blocks
                                          and m.blocks[-1]["type"] == "actions"), None))  # fmt: skip
        assert "Critical · monitor · Acme API health" in alert.text
        explain, mute = alert.blocks[-1]["elements"]
        assert (explain["action_id"], mute["action_id"]) == ("alert_explain", "alert_mute")

        responses = len(h.api.responses)
        await press(h, "alert_mute", mute["value"], alert.ts, "UDEV")
        await until(lambda: len(h.api.responses) > responses)
        assert "needs ai:full" in h.api.responses[-1]["text"]

        await press(h, "alert_explain", explain["value"], alert.ts, "UDEV")
        await h.settle()
        thread = h.api.bot_messages("C1", alert.ts)
        assert thread[0].text.startswith("<@UDEV> asked: Explain this alert")
        assert len(thread) >= 2 and thread[-1].text  # the answer, under the alert
        [row] = [r async for r in h.rt.store.audit.iter() if r.action == "ai.chat"]
        assert row.identity == f"slack:{TEAM}:UDEV" and row.org_id == "org_acme"

        await press(h, "alert_mute", mute["value"], alert.ts, "UADMIN")
        await until(lambda: "🔕 muted until" in h.api.messages[("C1", alert.ts)].text)
        assert h.api.responses[-1]["text"].startswith("Muted: no more messages")
        mirror.apply("monitors", [{**api_monitor, "status": "up"}], [], datetime.now(UTC))
        await asyncio.sleep(1.5)  # resolved while muted: nothing is said
        assert "Resolved" not in h.api.messages[("C1", alert.ts)].text
        assert not any("Resolved" in m.text for m in h.api.bot_messages("C1", alert.ts))

        await command(h, "alerts off")
        await until(lambda: h.api.responses[-1]["text"] == "Alerts are off in this channel.")
