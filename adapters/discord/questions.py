"""Where a question asked in Discord is answered, and who asked it, in the core's terms.

A mention in a server channel is answered in a thread on the message. `/stackdock ask` and a
prompt button first show the question as a message, then answer in a thread on it; either way
a thread's id is the id of the message it grew from, so its conversation key is known before
the thread exists. DMs and threads are answered where the question was asked.

Where the bot itself can't write (a user install used in a group DM, in someone else's DM, or
in a server the bot is not in), only the interaction's own replies reach anyone: the question
is answered privately, in ephemeral replies only the asker sees, so it is treated as a DM.

Nothing is shown on someone's behalf before the core has resolved them and let them ask, and
what is shown of their words is the core's `echo` of them (one line, secrets scrubbed), sent
with mentions neutralised and allowed_mentions none, so it cannot ping anyone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeAlias

import discord

from adapters.discord import reply
from adapters.discord.cards import Layout
from adapters.discord.render import neutralise_mentions
from core.identities import chat_identity, conversation_key, event_key
from core.models import Inbound, Refusal
from core.ports import AssistantPort

log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100
SHOWN_QUESTION_LIMIT = 1800  # leaves room for "@someone asked:" inside one message
NO_PINGS = discord.AllowedMentions.none()

if TYPE_CHECKING:
    from discord.abc import MessageableChannel
    from discord.interactions import InteractionChannel

    # Where a person can be when they ask, use a command or press a button.
    Place: TypeAlias = MessageableChannel | InteractionChannel | None


def inbound(
    user: discord.abc.User, channel: Place, text: str, *, conversation_key: str, event_id: str
) -> Inbound:
    guild = getattr(channel, "guild", None)
    # A thread is bound through its parent channel.
    where = (
        channel.parent_id if isinstance(channel, discord.Thread) else getattr(channel, "id", None)
    )
    return Inbound(
        identity=chat_identity("discord", str(guild.id) if guild else None, str(user.id)),
        text=text,
        platform="discord",
        conversation_key=conversation_key,
        workspace=str(guild.id) if guild else None,
        channel=str(where) if where is not None else None,
        # Only a one-to-one DM is private; a group DM has other people in it.
        is_dm=isinstance(channel, discord.DMChannel),
        event_id=event_id,
    )


def posts_here(interaction: discord.Interaction) -> bool:
    """Whether the bot can write where the interaction happened: a server it is in (Discord
    sent it that server), or its own DM with the person."""
    if interaction.guild_id is not None:
        return interaction.client.get_guild(interaction.guild_id) is not None
    return interaction.context.dm_channel


def interaction_inbound(
    interaction: discord.Interaction, text: str, *, conversation_key: str, event_id: str
) -> Inbound:
    """Who used a command or pressed a button, and where, in the core's terms."""
    user = interaction.user
    if posts_here(interaction):
        return inbound(
            user, interaction.channel, text, conversation_key=conversation_key, event_id=event_id
        )
    # Answered in replies only the asker sees, so as private as their DM with the bot (and
    # no server's binding vouches for this place).
    return Inbound(
        identity=chat_identity("discord", None, str(user.id)),
        text=text,
        platform="discord",
        is_dm=True,
        conversation_key=conversation_key,
        event_id=event_id,
    )


def private_key(interaction_id: int) -> str:
    """The conversation of a privately answered question: that one question."""
    return conversation_key("discord", "private", str(interaction_id))


def thread_key(thread_id: int) -> str:
    """The conversation of a thread; the thread of a message has that message's id."""
    return conversation_key("discord", "thread", str(thread_id))


def place_key(channel: MessageableChannel) -> str:
    """The conversation of a question answered where it was asked (a DM, a thread)."""
    if getattr(channel, "guild", None) is None:
        return conversation_key("discord", "dm", str(channel.id))
    return thread_key(channel.id)


def thread_name(echoed: str) -> str:
    words = " ".join(echoed.split()) or "StackDock answer"
    if len(words) <= THREAD_NAME_LIMIT:
        return words
    return words[: THREAD_NAME_LIMIT - 1] + "…"


def asked_line(user: discord.abc.User, echoed: str) -> str:
    return f"{user.mention} asked: {neutralise_mentions(echoed[:SHOWN_QUESTION_LIMIT])}"


async def from_message(
    service: AssistantPort,
    message: discord.Message,
    text: str,
    *,
    interval: float,
    layout: Layout | None = None,
) -> None:
    channel = message.channel
    starts_thread = isinstance(channel, discord.TextChannel)
    asked = inbound(
        message.author,
        channel,
        text,
        conversation_key=thread_key(message.id) if starts_thread else place_key(channel),
        event_id=event_key("discord", "message", str(message.id)),
    )

    async def open_place() -> discord.abc.Messageable:
        if not starts_thread:
            return channel
        try:
            return await message.create_thread(name=thread_name(service.echo(text)))
        except discord.HTTPException as exc:
            # Most often the invite lacked "Create Public Threads": answer anyway, in place.
            log.warning("could not start a thread in %s (%s); answering there", channel.id, exc)
            return channel

    async def refuse(text: str) -> None:
        await message.reply(text)  # no ephemeral messages here; a reply, not a thread

    await reply.answer(
        service,
        asked,
        typing_in=channel,
        open_place=open_place,
        refuse=refuse,
        interval=interval,
        layout=layout,
    )


class PrivateReplies:
    """Where a private answer is written: the interaction's own (ephemeral) response first,
    then ephemeral follow-ups; a stand-in for a channel's `send` and `typing`."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self._interaction = interaction
        self._first = True

    async def send(self, **message: Any) -> discord.InteractionMessage | discord.WebhookMessage:
        if self._first:
            shown = await self._interaction.edit_original_response(**message)
            self._first = False  # only once it is shown: a refused card is retried here
            return shown
        return await self._interaction.followup.send(ephemeral=True, wait=True, **message)

    async def typing(self) -> None:
        """Nothing to do: the deferred response already shows "thinking…"."""


async def privately(
    service: AssistantPort,
    interaction: discord.Interaction,
    question: str,
    *,
    interval: float,
    layout: Layout | None = None,
) -> None:
    """Answers in replies only the asker sees (see `posts_here`); the interaction must already
    be deferred ephemerally."""
    asked = interaction_inbound(
        interaction,
        question,
        conversation_key=private_key(interaction.id),
        event_id=event_key("discord", "interaction", str(interaction.id)),
    )
    replies = PrivateReplies(interaction)

    async def here() -> PrivateReplies:
        return replies

    async def refuse(text: str) -> None:
        await interaction.edit_original_response(content=text)

    await reply.answer(
        service,
        asked,
        typing_in=replies,
        open_place=here,
        refuse=refuse,
        interval=interval,
        layout=layout,
    )


async def from_interaction(
    service: AssistantPort,
    interaction: discord.Interaction,
    channel: MessageableChannel,
    question: str,
    *,
    interval: float,
    layout: Layout | None = None,
) -> None:
    """Answers for whoever used the command or pressed the button; refusals stay private.

    The interaction must already be deferred ephemerally; `channel` is where it was used.
    """
    user = interaction.user
    event_id = event_key("discord", "interaction", str(interaction.id))
    shown = asked_line(user, service.echo(question))

    async def refuse(text: str) -> None:
        await interaction.edit_original_response(content=text)

    async def open_here() -> discord.abc.Messageable:
        await channel.send(shown, allowed_mentions=NO_PINGS)
        await interaction.edit_original_response(content="Answering below.")
        return channel

    async def run(asked: Inbound, open_place: reply.OpenPlace, refuse: reply.Refuse) -> None:
        await reply.answer(
            service,
            asked,
            typing_in=channel,
            open_place=open_place,
            refuse=refuse,
            interval=interval,
            layout=layout,
        )

    if not isinstance(channel, discord.TextChannel):
        # Answered in place: the question is shown only once the core has decided to answer.
        asked = inbound(
            user, channel, question, conversation_key=place_key(channel), event_id=event_id
        )
        await run(asked, open_here, refuse)
        return

    # In a channel the question is shown first, so that the thread can grow from it; so the
    # asker is resolved first, and a refusal (still audited by the core) shows nothing.
    probe_key = conversation_key("discord", "ask", str(interaction.id))
    probe = inbound(user, channel, question, conversation_key=probe_key, event_id=event_id)
    if isinstance(await service.resolve(probe), Refusal):
        await run(probe, open_here, refuse)
        return
    starter = await channel.send(shown, allowed_mentions=NO_PINGS)

    async def open_thread() -> discord.abc.Messageable:
        thread = await starter.create_thread(name=thread_name(service.echo(question)))
        try:
            await thread.add_user(user)  # so the thread shows up in their list
        except discord.HTTPException as exc:
            log.debug("could not add %s to the thread: %s", user.id, exc)
        await interaction.edit_original_response(content=f"Answering in {thread.mention}.")
        return thread

    async def refuse_and_tidy(text: str) -> None:
        # Resolved but refused by a limit: the shown question goes, the refusal stays private.
        await starter.delete()
        await refuse(text)

    asked = inbound(
        user, channel, question, conversation_key=thread_key(starter.id), event_id=event_id
    )
    await run(asked, open_thread, refuse_and_tidy)
