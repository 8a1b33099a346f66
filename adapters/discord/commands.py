"""`/stackdock ask|prompts|usage|link|help`: each defers at once, then follows up.

Deferring first keeps every command inside Discord's three-second window, whatever the core
or the database take. Everything but `ask` and `prompts` answers only the person who asked.
"""

from __future__ import annotations

import io
from typing import Protocol, cast

import discord
from discord import app_commands

from adapters.discord.questions import inbound
from adapters.discord.render import neutralise_mentions
from adapters.discord.reply import acknowledge
from adapters.discord.views import prompts_view
from core.assistant import MAX_QUESTION_CHARS
from core.chat_commands import ChatCommands
from core.models import Inbound
from core.prompts import TOPICS, normalise_topic, suggested_prompts

DM_LINK_TEXT = (
    "Run `/stackdock link` in your server, where it links that server's identity. "
    "For DMs an operator runs `stackdock-assistant link discord:@me:USER_ID you@example.com`."
)


class CommandHost(Protocol):
    chat_commands: ChatCommands

    async def ask_from_interaction(
        self, interaction: discord.Interaction, question: str
    ) -> None: ...


def _host(interaction: discord.Interaction) -> CommandHost:
    return cast(CommandHost, interaction.client)


def _asker(interaction: discord.Interaction) -> Inbound:
    return inbound(
        interaction.user,
        interaction.channel,
        "",
        conversation_key="",
        event_id=f"discord:interaction:{interaction.id}",
    )


async def _private(interaction: discord.Interaction, text: str) -> None:
    await interaction.followup.send(text, ephemeral=True)


def stackdock_group() -> app_commands.Group:
    group = app_commands.Group(
        name="stackdock", description="Ask the StackDock assistant about your infrastructure"
    )

    @group.command(name="ask", description="Ask a question about your infrastructure")
    @app_commands.describe(question="What you want to know")
    async def ask(
        interaction: discord.Interaction,
        # Discord's own client then refuses a longer question before it is ever sent.
        question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
    ) -> None:
        await _host(interaction).ask_from_interaction(interaction, question)

    @group.command(name="prompts", description="Suggested questions, as buttons")
    @app_commands.describe(topic="servers, web-services, domains, databases or problems")
    async def prompts(interaction: discord.Interaction, topic: str | None = None) -> None:
        await acknowledge(interaction, private=False)
        known = normalise_topic(topic)
        if known is None:
            heading = (
                f"No topic called “{neutralise_mentions(topic or '')}”; here are the general ones"
            )
        elif known == "default":
            heading = "Suggested questions"
        else:
            heading = f"About {known}"
        await interaction.followup.send(
            f"{heading}. Press one to ask it:", view=prompts_view(suggested_prompts(topic))
        )

    @prompts.autocomplete("topic")
    async def topic_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        return [app_commands.Choice(name=t, value=t) for t in TOPICS if typed in t][:25]

    @group.command(name="usage", description="Your questions and their cost this month")
    async def usage(interaction: discord.Interaction) -> None:
        await acknowledge(interaction, private=True)
        view = await _host(interaction).chat_commands.usage(_asker(interaction))
        if view.chart_png:  # the org's chart, for ai:full members only; ephemeral like the text
            chart = discord.File(io.BytesIO(view.chart_png), filename=view.chart_name)
            await interaction.followup.send(view.text, ephemeral=True, file=chart)
        else:
            await _private(interaction, view.text)

    @group.command(name="link", description="Link a member to their StackDock account")
    @app_commands.describe(member="Who to link", user="Their StackDock email (or user id)")
    async def link(interaction: discord.Interaction, member: discord.User, user: str) -> None:
        await acknowledge(interaction, private=True)
        if interaction.guild_id is None:
            # From a DM anyone could aim at anyone's DM identity; a bound server vouches for
            # the org, so linking happens there (and DM identities through the CLI).
            await _private(interaction, DM_LINK_TEXT)
            return
        text = await _host(interaction).chat_commands.link(
            _asker(interaction), f"discord:{interaction.guild_id}:{member.id}", user.strip()
        )
        await _private(interaction, text)

    @group.command(name="help", description="What the assistant can do")
    async def help_(interaction: discord.Interaction) -> None:
        await acknowledge(interaction, private=True)
        await _private(interaction, ChatCommands.help_text())

    return group
