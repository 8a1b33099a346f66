"""The Discord gateway bot: messages and interactions in, Inbound to the core, answers out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Coroutine
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from adapters.discord import questions, reply
from adapters.discord.commands import stackdock_group
from adapters.discord.views import FeedbackButton, PromptButton
from core.assistant import Assistant
from core.chat_commands import ChatCommands

log = logging.getLogger(__name__)

NOT_NOW_TEXT = "I'm restarting; ask again in a minute."
BROKE_TEXT = "Something went wrong while answering; please try again."
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


class StackDockBot(discord.Client):
    """One connection to Discord; each question is answered in a task of its own."""

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

    def _is_own_thread(self, channel: Any) -> bool:
        me = self.user
        return isinstance(channel, discord.Thread) and me is not None and channel.owner_id == me.id

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
        if text.lower() in {"help", "/help"}:
            self.spawn(message.reply(self.chat_commands.help_text()))
            return
        self.spawn(
            questions.from_message(self.assistant, message, text, interval=self.edit_interval)
        )

    # ---- interactions (the commands themselves are in commands.py) ----

    async def ask_from_interaction(self, interaction: discord.Interaction, question: str) -> None:
        await reply.acknowledge(interaction, private=True)
        if not self._accepting or interaction.channel is None:
            await interaction.followup.send(NOT_NOW_TEXT, ephemeral=True)
            return
        self.spawn(self._answer_interaction(interaction, question))

    async def _answer_interaction(self, interaction: discord.Interaction, question: str) -> None:
        try:
            await questions.from_interaction(
                self.assistant, interaction, question, interval=self.edit_interval
            )
        except Exception:
            # Whatever broke, the person must not be left looking at "thinking…" for good.
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(content=BROKE_TEXT)
            raise

    async def record_feedback(
        self, interaction: discord.Interaction, audit_id: int, value: int
    ) -> None:
        await reply.acknowledge(interaction, private=True)
        who = questions.identity(interaction.user, interaction.channel)
        stored = await self.chat_commands.feedback(audit_id, who, value)
        text = "Thanks, noted." if stored else "I couldn't find that answer to note your feedback."
        await interaction.followup.send(text, ephemeral=True)
