"""Where a question asked in Discord is answered, and who asked it, in the core's terms.

A mention in a server channel is answered in a thread on the message. `/stackdock ask` and a
prompt button first show the question as a message, then answer in a thread on it; either way
a thread's id is the id of the message it grew from, so its conversation key is known before
the thread exists. DMs and threads are answered where the question was asked.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from adapters.discord import reply
from adapters.discord.render import neutralise_mentions
from core.assistant import Assistant
from core.models import ErrorReply, Inbound, Refusal

log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100
SHOWN_QUESTION_LIMIT = 1800  # leaves room for "@someone asked:" inside one message


def identity(user: discord.abc.User, channel: Any) -> str:
    guild = getattr(channel, "guild", None)
    return f"discord:{guild.id if guild else '@me'}:{user.id}"


def inbound(
    user: discord.abc.User, channel: Any, text: str, *, conversation_key: str, event_id: str
) -> Inbound:
    guild = getattr(channel, "guild", None)
    # A thread is bound through its parent channel.
    where = channel.parent_id if isinstance(channel, discord.Thread) else channel.id
    return Inbound(
        identity=identity(user, channel),
        text=text,
        platform="discord",
        conversation_key=conversation_key,
        workspace=str(guild.id) if guild else None,
        channel=str(where),
        is_dm=guild is None,
        event_id=event_id,
    )


def thread_name(question: str) -> str:
    words = " ".join(question.split()) or "StackDock answer"
    if len(words) <= THREAD_NAME_LIMIT:
        return words
    return words[: THREAD_NAME_LIMIT - 1] + "…"


def asked_line(user: discord.abc.User, question: str) -> str:
    return f"{user.mention} asked: {neutralise_mentions(question[:SHOWN_QUESTION_LIMIT])}"


def _key(channel: Any, thread_root_id: int | None = None) -> str:
    if getattr(channel, "guild", None) is None:
        return f"discord:dm:{channel.id}"
    return f"discord:thread:{thread_root_id or channel.id}"


async def from_message(
    assistant: Assistant, message: discord.Message, text: str, *, interval: float
) -> None:
    channel = message.channel
    starts_thread = isinstance(channel, discord.TextChannel)
    asked = inbound(
        message.author,
        channel,
        text,
        conversation_key=_key(channel, message.id if starts_thread else None),
        event_id=f"discord:message:{message.id}",
    )

    async def open_place() -> discord.abc.Messageable:
        if not starts_thread:
            return channel
        try:
            return await message.create_thread(name=thread_name(text))
        except discord.HTTPException as exc:
            # Most often the invite lacked "Create Public Threads": answer anyway, in place.
            log.warning("could not start a thread in %s (%s); answering there", channel.id, exc)
            return channel

    async def refuse(error: ErrorReply) -> None:
        await message.reply(error.text)  # no ephemeral messages here; a reply, not a thread

    await reply.answer(
        assistant, asked, typing_in=channel, open_place=open_place, refuse=refuse, interval=interval
    )


async def from_interaction(
    assistant: Assistant, interaction: discord.Interaction, question: str, *, interval: float
) -> None:
    """Answers for whoever used the command or pressed the button; refusals stay private.

    The interaction must already be deferred ephemerally.
    """
    channel, user = interaction.channel, interaction.user
    event_id = f"discord:interaction:{interaction.id}"

    async def refuse(error: ErrorReply) -> None:
        await interaction.edit_original_response(content=error.text)

    async def open_here() -> discord.abc.Messageable:
        await channel.send(asked_line(user, question))
        await interaction.edit_original_response(content="Answering below.")
        return channel

    async def run(asked: Inbound, open_place: reply.OpenPlace, refuse: reply.Refuse) -> None:
        await reply.answer(
            assistant,
            asked,
            typing_in=channel,
            open_place=open_place,
            refuse=refuse,
            interval=interval,
        )

    if not isinstance(channel, discord.TextChannel):
        await run(
            inbound(user, channel, question, conversation_key=_key(channel), event_id=event_id),
            open_here,
            refuse,
        )
        return

    # Refusals that follow from who is asking are found first, so the channel never shows
    # their question; the core still writes their audit row when it refuses below.
    probe = inbound(
        user, channel, question, conversation_key=f"discord:ask:{interaction.id}", event_id=event_id
    )
    if isinstance(await assistant.resolve(probe), Refusal):
        await run(probe, open_here, refuse)
        return
    starter = await channel.send(asked_line(user, question))

    async def open_thread() -> discord.abc.Messageable:
        thread = await starter.create_thread(name=thread_name(question))
        try:
            await thread.add_user(user)  # so the thread shows up in their list
        except discord.HTTPException as exc:
            log.debug("could not add %s to the thread: %s", user.id, exc)
        await interaction.edit_original_response(content=f"Answering in {thread.mention}.")
        return thread

    async def refuse_and_tidy(error: ErrorReply) -> None:
        await starter.delete()
        await refuse(error)

    asked = inbound(
        user, channel, question, conversation_key=_key(channel, starter.id), event_id=event_id
    )
    await run(asked, open_thread, refuse_and_tidy)
