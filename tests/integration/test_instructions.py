"""Per-channel instructions through the real processes: `/stackdock instructions …` on Slack and
on Discord changes the system prompt the model receives in that channel, and nowhere else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest

from adapters.stackdock.demo import DEMO_ORGS
from bot.cli import build_parser, dispatch
from bot.settings import Settings
from core.models import ChatMessage, TextDelta, ToolSpec, TurnEnd, Usage
from core.prompts import DATA_OPEN
from tests.fakes.services.discord_api import slash_command, string_option, text_of
from tests.fakes.services.slack_api import TEAM, event_envelope, mention
from tests.fakes.services.slack_api import slash_command as slack_command
from tests.harness.discord_world import DiscordWorld, discord_world
from tests.harness.slack_harness import Harness, slack_app

GERMAN = "Antworte immer auf Deutsch; this is the #payments channel."
EPHEMERAL = 64


@dataclass
class Listening:
    """A model that keeps every system prompt it is given and answers "Ok."."""

    systems: list[str] = field(default_factory=list)
    name: str = "listening"
    model: str = "listening-1"

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        self.systems.append(system)
        yield TextDelta("Ok.")
        yield TurnEnd((), Usage(self.name, self.model, 5, 1))


def in_the_data(system: str) -> str:
    return system.rsplit(DATA_OPEN, 1)[1]


# ---- Slack ----


async def slack_command_reply(h: Harness, text: str, user: str, channel: str) -> str:
    before = len(h.api.responses)
    payload = slack_command(text, user=user, channel=channel, response_url=h.api.response_url())
    status, _, _ = await h.send(payload, form=True)
    assert status == 200
    await h.settle()
    [reply] = h.api.responses[before:]
    assert reply["response_type"] == "ephemeral"
    return str(reply["text"])


async def test_slack_instructions_shape_that_channel_s_prompt_only(sqlite_url: str) -> None:
    model = Listening()
    async with slack_app(sqlite_url, providers=[model]) as h:
        refused = await slack_command_reply(h, f"instructions {GERMAN}", "UDEV", "C1")
        assert "ai:full" in refused
        said = await slack_command_reply(h, f"instructions {GERMAN}", "UADMIN", "C1")
        assert GERMAN in said
        assert GERMAN in await slack_command_reply(h, "instructions", "UDEV", "C1")

        for ts, channel in (("900.1", "C1"), ("900.2", "C2")):
            await h.send(event_envelope(mention("Status?", user="UDEV", channel=channel, ts=ts)))
            await h.settle()
        here, elsewhere = model.systems
        assert GERMAN in in_the_data(here)
        assert GERMAN not in elsewhere and "channel_instructions" not in elsewhere

        rows = [(r.action, r.result.value) async for r in h.rt.store.audit.iter()]
        assert rows[:3] == [
            ("ai.instructions", "denied"),
            ("ai.instructions", "answered"),
            ("ai.instructions", "answered"),
        ]
        binding = await h.rt.store.bindings.get(f"slack:{TEAM}:C1")
        assert binding is not None and binding.instructions == GERMAN


# ---- Discord ----


async def discord_command_reply(world: DiscordWorld, who: str, channel: str, text: str) -> str:
    options = [string_option("text", text)] if text else []
    interaction = await world.fake.interact(
        world.people[who], channel, type=2, data=slash_command("instructions", options)
    )
    [sent] = await world.fake.wait_for(
        lambda: world.fake.followups(interaction), what="the instructions reply"
    )
    assert sent.body["flags"] == EPHEMERAL
    return text_of(sent.body)


async def test_discord_instructions_shape_that_channel_s_prompt_only(sqlite_url: str) -> None:
    model = Listening()
    async with discord_world(sqlite_url, providers=[model]) as world:
        world.edit_interval = 0.25
        await world.start_bot()
        channel = world.guild.channel_id
        refused = await discord_command_reply(world, "developer", channel, GERMAN)
        assert "ai:full" in refused
        assert GERMAN in await discord_command_reply(world, "admin", channel, GERMAN)

        asked = await world.fake.post_message(
            channel, world.people["developer"], "Status?", mention_bot=True
        )
        await world.wait_answered(asked["id"])  # in a thread: bound through its channel
        dm = world.fake.dm_channel(world.people["developer"])
        await world.fake.post_message(dm, world.people["developer"], "Status?")
        await world.wait_answered(dm)
        in_channel, in_dm = model.systems
        assert GERMAN in in_the_data(in_channel)
        assert GERMAN not in in_dm and "channel_instructions" not in in_dm

        assert "cleared" in await discord_command_reply(world, "admin", channel, "clear")
        assert "no instructions" in await discord_command_reply(world, "developer", channel, "")
        assert await world.rt.store.bindings.get(f"discord:{world.guild.id}:{channel}") is None


# ---- the operator ----


async def test_an_operator_binds_with_instructions_and_sees_them_listed(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(_env_file=None, database_url=sqlite_url, ai_provider="offline")

    async def operator(*argv: str) -> int:
        return await dispatch(build_parser().parse_args(list(argv)), settings)

    target, acme = "discord:111:222", DEMO_ORGS["acme"]
    assert await operator("bind", target, acme, "--instructions", f"  {GERMAN}\n") == 0
    assert await operator("bind", target, acme, "--allow-detail") == 0  # keeps the words
    capsys.readouterr()
    assert await operator("bindings") == 0
    listed = capsys.readouterr().out
    assert f"{target}\t{acme} (detail allowed)\tinstructions: “{GERMAN}”" in listed.splitlines()

    assert await operator("bind", target, acme, "--instructions", "x" * 501) == 2
    assert "at most 500" in capsys.readouterr().err
    assert await operator("bind", target, acme, "--instructions", "") == 0
    capsys.readouterr()
    await operator("bindings")
    assert capsys.readouterr().out.splitlines() == [f"{target}\t{acme}"]
