"""Answers never ping anyone, whatever the model writes: the rule is the core's, for every
platform, and applies to streamed text and to the stored answer alike."""

from __future__ import annotations

from adapters.stackdock.demo import DEMO_USERS
from core.mentions import ZWSP, defang
from core.models import Final, TextDelta
from tests.fakes.ports.scripted_provider import ScriptedProvider, ScriptedTurn

ADMIN = f"email:{DEMO_USERS['admin']}"


def test_slack_and_discord_mentions_and_broadcasts_are_made_inert():
    text = "Hey <!channel> and <!here>, <@U123> <#C1|ops> <@!99> <@&7> @everyone @here @channel"
    out = defang(text)
    for live in ("<!channel>", "<!here>", "<@U123>", "<#C1", "<@!99>", "<@&7>"):
        assert live not in out
    for word in ("everyone", "here", "channel"):
        assert f"@{word}" not in out and f"@{ZWSP}{word}" in out
    assert out.replace(ZWSP, "") == text, "nothing is lost to the reader"


def test_a_link_label_cannot_pose_as_another_address():
    assert defang("[https://stackdock.io](https://evil.example/x)") == (
        "[https://evil.example/x](https://evil.example/x)"
    )
    assert "<" + ZWSP + "https://evil.example|" in defang("<https://evil.example|stackdock.io>")
    honest = "[the dashboard](https://stackdock.io/app) and [stackdock.io](https://stackdock.io)"
    assert defang(honest) == honest
    assert defang("plain text, no mentions") == "plain text, no mentions"


async def test_model_output_is_defanged_when_streamed_and_when_stored(kit):
    kit.providers = [ScriptedProvider([ScriptedTurn(text=["Ping <!channel>\n", "@everyone done"])])]
    events = await kit.ask("Say hi to everyone", ADMIN)
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    final = events[-1]
    assert isinstance(final, Final)
    for text in (streamed, final.text):
        assert "<!channel>" not in text and "@everyone" not in text
    [row] = [r for r in await kit.audit_rows() if r.action == "ai.chat"]
    assert "<!channel>" not in (row.answer or "")
