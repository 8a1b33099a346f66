"""`/stackdock ask|prompts|usage|link|instructions|help`: each defers at once, then follows up.

Deferring first keeps every command inside Discord's three-second window, whatever the core
or the database take. Everything but `ask` and `prompts` answers only the person who asked.

Where the command can be used (see the README): installed to a server, in its channels and
threads, and in the bot's DM; installed to a person's account (a user install), also in group
DMs and other DMs and in servers without the bot, where it answers privately (questions.py).
"""

from __future__ import annotations

import io
from typing import Protocol, cast

import discord
from discord import app_commands

from adapters.discord.questions import interaction_inbound
from adapters.discord.render import neutralise_mentions
from adapters.discord.reply import acknowledge
from adapters.discord.views import prompts_view
from core.identities import event_key
from core.instructions import MAX_INSTRUCTIONS_CHARS
from core.models import MAX_QUESTION_CHARS, Inbound
from core.ports import AssistantPort

# Discord's own client then refuses a longer question before it is ever sent.
QUESTION_LIMIT = MAX_QUESTION_CHARS


class CommandHost(Protocol):
    service: AssistantPort

    async def ask_from_interaction(
        self, interaction: discord.Interaction, question: str
    ) -> None: ...


def _host(interaction: discord.Interaction) -> CommandHost:
    return cast(CommandHost, interaction.client)


def _asker(interaction: discord.Interaction) -> Inbound:
    return interaction_inbound(
        interaction,
        "",
        conversation_key="",
        event_id=event_key("discord", "interaction", str(interaction.id)),
    )


def _link_target(
    interaction: discord.Interaction, member: discord.User | discord.Member
) -> str | None:
    """Whom a link names: in a server, only someone who is a member of it.

    Discord resolves a user who is not in the server as a plain User; linking them would make
    an identity that no member of this server vouches for, so the core is told nobody was
    named (and refuses, audited). In a DM the core refuses whoever is named.
    """
    if interaction.guild_id is None:
        return str(member.id)
    in_here = isinstance(member, discord.Member) and member.guild.id == interaction.guild_id
    return str(member.id) if in_here else None


async def _private(interaction: discord.Interaction, text: str) -> None:
    await interaction.followup.send(text, ephemeral=True)


def _heading(service: AssistantPort, topic: str | None) -> str:
    if topic is None or not topic.strip():
        return "Suggested questions"
    offered = service.suggested_prompts(topic)
    # The core maps aliases and unknown topics; the topic whose list it gave names the heading.
    known = next((t for t in service.topics() if service.suggested_prompts(t) == offered), None)
    if known is None:
        return f"No topic called “{neutralise_mentions(topic)}”; here are the general ones"
    return f"About {known}"


def stackdock_group() -> app_commands.Group:
    group = app_commands.Group(
        name="stackdock",
        description="Ask the StackDock assistant about your infrastructure",
        allowed_installs=app_commands.AppInstallationType(guild=True, user=True),
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=True, private_channel=True
        ),
    )

    @group.command(name="ask", description="Ask a question about your infrastructure")
    @app_commands.describe(question="What you want to know")
    async def ask(
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, QUESTION_LIMIT],
    ) -> None:
        await _host(interaction).ask_from_interaction(interaction, question)

    @group.command(name="prompts", description="Suggested questions, as buttons")
    @app_commands.describe(topic="servers, web-services, domains, databases or problems")
    async def prompts(interaction: discord.Interaction, topic: str | None = None) -> None:
        await acknowledge(interaction, private=False)
        service = _host(interaction).service
        await interaction.followup.send(
            f"{_heading(service, topic)}. Press one to ask it:",
            view=prompts_view(service.suggested_prompts(topic)),
        )

    @prompts.autocomplete("topic")
    async def topic_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        topics = _host(interaction).service.topics()
        return [app_commands.Choice(name=t, value=t) for t in topics if typed in t][:25]

    @group.command(name="usage", description="Your questions and their cost this month")
    async def usage(interaction: discord.Interaction) -> None:
        await acknowledge(interaction, private=True)
        view = await _host(interaction).service.usage(_asker(interaction))
        if view.chart_png:  # the org's chart, for ai:full members only; ephemeral like the text
            chart = discord.File(io.BytesIO(view.chart_png), filename=view.chart_name)
            await interaction.followup.send(view.text, ephemeral=True, file=chart)
        else:
            await _private(interaction, view.text)

    @group.command(name="link", description="Link a member to their StackDock account")
    @app_commands.describe(member="Who to link", user="Their StackDock email (or user id)")
    async def link(interaction: discord.Interaction, member: discord.User, user: str) -> None:
        await acknowledge(interaction, private=True)
        # Who may link whom, where, and to which StackDock user is the core's to decide (and
        # to audit); in a DM it refuses, as no server's binding vouches for anyone there.
        target = _link_target(interaction, member)
        text = await _host(interaction).service.link(_asker(interaction), target, user)
        await _private(interaction, text)

    @group.command(name="instructions", description="This channel's instructions to the assistant")
    @app_commands.describe(
        text="How to answer here (language, tone, focus); `clear` removes them; none shows them"
    )
    async def instructions(
        interaction: discord.Interaction,
        text: app_commands.Range[str, 1, MAX_INSTRUCTIONS_CHARS] | None = None,
    ) -> None:
        await acknowledge(interaction, private=True)
        # Who may change them, where, and how they are cleaned is the core's (and audited).
        reply = await _host(interaction).service.instructions(_asker(interaction), text or "")
        await _private(interaction, neutralise_mentions(reply))

    @group.command(name="help", description="What the assistant can do")
    async def help_(interaction: discord.Interaction) -> None:
        await acknowledge(interaction, private=True)
        await _private(interaction, _host(interaction).service.help_text())

    return group
