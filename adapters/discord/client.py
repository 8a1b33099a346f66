"""The Discord gateway bot: messages and interactions in, Inbound to the core, answers out."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from adapters.discord import reply
from adapters.discord.commands import stackdock_group
from adapters.discord.render import neutralise_mentions
from adapters.discord.views import FeedbackButton, PromptButton
from core.assistant import Assistant
from core.commands import ChatCommands
from core.identity import Refusal
from core.models import ErrorReply, Inbound

log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100
SHOWN_QUESTION_LIMIT = 1800  # leaves room for "@someone asked:" inside one message
_ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def point_at(api_url: str | None, gateway_url: str | None) -> None:
    """Points discord.py at another REST base and gateway (a proxy, or a fake in tests).

    discord.py keeps both as class attributes, so this applies to every client in the process.
    """
    if api_url:
        discord.http.Route.BASE = api_url.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def intents() -> discord.Intents:
    """Guilds (channel and thread cache), guild and DM messages, and their content."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True  # privileged: switch it on in the Developer Portal
    return wanted


def thread_name(question: str) -> str:
    first = " ".join(question.split())
    return (
        (first[: THREAD_NAME_LIMIT - 1] + "…")
        if len(first) > THREAD_NAME_LIMIT
        else (first or "StackDock answer")
    )


def asked_line(user: discord.abc.User, question: str) -> str:
    shown = question if len(question) <= SHOWN_QUESTION_LIMIT else question[:SHOWN_QUESTION_LIMIT]
    return f"{user.mention} asked: {neutralise_mentions(shown)}"


class StackDockBot(discord.Client):
    def __init__(
        self,
        assistant: Assistant,
        commands: ChatCommands,
        *,
        api_url: str | None = None,
        gateway_url: str | None = None,
        edit_interval: float = 1.0,
        sync_commands: bool = True,
        **options: Any,
    ) -> None:
        point_at(api_url, gateway_url)
        options.setdefault("max_ratelimit_timeout", 30.0)
        super().__init__(
            intents=intents(), allowed_mentions=discord.AllowedMentions.none(), **options
        )
        self.assistant = assistant
        self.chat_commands = commands
        self.edit_interval = edit_interval
        self.sync_commands = sync_commands
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(stackdock_group())
        self._work: set[asyncio.Task[Any]] = set()
        self._accepting = True

    async def setup_hook(self) -> None:
        self.add_dynamic_items(PromptButton, FeedbackButton)
        if self.sync_commands:
            await self.tree.sync()

    async def close(self) -> None:
        for task in list(self._work):
            task.cancel()
        await asyncio.gather(*self._work, return_exceptions=True)
        await super().close()

    @property
    def answers_under_way(self) -> int:
        return len(self._work)

    async def drain(self, grace_s: float) -> int:
        """Stops taking questions and waits for the answers under way; returns how many are left."""
        self._accepting = False
        if self._work:
            await asyncio.wait(set(self._work), timeout=grace_s)
        return len(self._work)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Answers run as tasks of their own, so the gateway keeps reading while they stream."""
        task = asyncio.create_task(work)
        self._work.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("answering failed", exc_info=task.exception())

    # ---- who is asking, and where ----

    def inbound(
        self,
        user: discord.abc.User,
        channel: Any,
        text: str,
        *,
        conversation_key: str,
        event_id: str,
    ) -> Inbound:
        guild = getattr(channel, "guild", None)
        if guild is None:
            return Inbound(
                identity=f"discord:@me:{user.id}",
                text=text,
                platform="discord",
                conversation_key=conversation_key,
                channel=str(channel.id),
                is_dm=True,
                event_id=event_id,
            )
        # A thread is bound through its parent channel.
        where = channel.parent_id if isinstance(channel, discord.Thread) else channel.id
        return Inbound(
            identity=f"discord:{guild.id}:{user.id}",
            text=text,
            platform="discord",
            conversation_key=conversation_key,
            workspace=str(guild.id),
            channel=str(where),
            is_dm=False,
            event_id=event_id,
        )

    def _is_own_thread(self, channel: Any) -> bool:
        return (
            isinstance(channel, discord.Thread)
            and self.user is not None
            and (channel.owner_id == self.user.id)
        )

    # ---- messages ----

    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if not self._accepting or me is None:
            return
        if message.author.bot or message.webhook_id is not None:
            return  # other bots and ourselves: never answer, never loop
        if message.type not in _ANSWERED_TYPES:
            return  # joins, pins, thread renames…
        channel = message.channel
        mentioned = any(user.id == me.id for user in message.mentions)
        is_dm = isinstance(channel, discord.DMChannel)
        if not (is_dm or mentioned or self._is_own_thread(channel)):
            return
        if not await self.chat_commands.claim_event(f"discord:message:{message.id}"):
            return  # another worker, or a gateway replay, has it
        text = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        self.spawn(self._answer_message(message, text))

    async def _answer_message(self, message: discord.Message, text: str) -> None:
        channel = message.channel
        if text.lower() in {"help", "/help"}:
            await message.reply(self.chat_commands.help_text())
            return
        starts_thread = isinstance(channel, discord.TextChannel)
        key_id = message.id if starts_thread else channel.id  # a thread takes its message's id
        inbound = self.inbound(
            message.author,
            channel,
            text,
            conversation_key=f"discord:{'dm' if message.guild is None else 'thread'}:{key_id}",
            event_id=f"discord:message:{message.id}",
        )

        async def open_place() -> discord.abc.Messageable:
            if starts_thread:
                return await message.create_thread(name=thread_name(text))
            return channel

        async def refuse(error: ErrorReply) -> None:
            await message.reply(error.text)

        await reply.answer(
            self.assistant,
            inbound,
            typing_in=channel,
            open_place=open_place,
            refuse=refuse,
            interval=self.edit_interval,
        )

    # ---- interactions: /stackdock ask and prompt buttons ----

    async def ask_from_interaction(self, interaction: discord.Interaction, question: str) -> None:
        """Asks for whoever used the command or pressed the button; refusals are ephemeral."""
        await reply.acknowledge(interaction, private=True)
        channel = interaction.channel
        if channel is None:
            await interaction.followup.send("I can't answer here.", ephemeral=True)
            return
        user = interaction.user
        event_id = f"discord:interaction:{interaction.id}"

        async def refuse(error: ErrorReply) -> None:
            await interaction.edit_original_response(content=error.text)

        async def open_here() -> discord.abc.Messageable:
            await channel.send(asked_line(user, question))
            await interaction.edit_original_response(content="Answering below.")
            return channel

        if not isinstance(channel, discord.TextChannel):
            # DMs and threads: answer where the question was asked.
            kind = "dm" if interaction.guild is None else "thread"
            inbound = self.inbound(
                user,
                channel,
                question,
                conversation_key=f"discord:{kind}:{channel.id}",
                event_id=event_id,
            )
            await self._run(inbound, channel, open_here, refuse)
            return

        # A shared channel gets a thread on a message that shows the question. Refusals that
        # follow from who is asking are found first, so the channel never sees them; the core
        # still writes their audit row.
        probe = self.inbound(
            user,
            channel,
            question,
            conversation_key=f"discord:ask:{interaction.id}",
            event_id=event_id,
        )
        if isinstance(await self.assistant.resolve(probe), Refusal):
            await self._run(probe, channel, open_here, refuse)
            return
        starter = await channel.send(asked_line(user, question))
        inbound = self.inbound(
            user,
            channel,
            question,
            conversation_key=f"discord:thread:{starter.id}",
            event_id=event_id,
        )

        async def open_thread() -> discord.abc.Messageable:
            thread = await starter.create_thread(name=thread_name(question))
            try:
                await thread.add_user(user)
            except discord.HTTPException as exc:
                log.debug("could not add %s to the thread: %s", user.id, exc)
            await interaction.edit_original_response(content=f"Answering in {thread.mention}.")
            return thread

        async def refuse_and_tidy(error: ErrorReply) -> None:
            await starter.delete()
            await refuse(error)

        await self._run(inbound, channel, open_thread, refuse_and_tidy)

    async def _run(
        self, inbound: Inbound, typing_in: Any, open_place: reply.OpenPlace, refuse: reply.Refuse
    ) -> None:
        await reply.answer(
            self.assistant,
            inbound,
            typing_in=typing_in,
            open_place=open_place,
            refuse=refuse,
            interval=self.edit_interval,
        )

    async def record_feedback(
        self, interaction: discord.Interaction, audit_id: int, value: int
    ) -> None:
        await reply.acknowledge(interaction, private=True)
        who = self.inbound(
            interaction.user, interaction.channel, "", conversation_key="", event_id=""
        ).identity
        stored = await self.chat_commands.feedback(audit_id, who, value)
        text = "Thanks, noted." if stored else "I couldn't find that answer to note your feedback."
        await interaction.followup.send(text, ephemeral=True)
