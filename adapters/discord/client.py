"""The Discord gateway bot: messages and interactions in, Inbound to the core, answers out.

The bot reaches the core only through `AssistantPort`; which messages are answered follows
the core's rules (a mention, a DM, or a thread where the bot holds a conversation).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from adapters.discord import questions, reply
from adapters.discord.alerts import ALERT_BUTTONS, alerts_command
from adapters.discord.cards import Layout
from adapters.discord.commands import stackdock_group
from adapters.discord.views import FeedbackButton, PromptButton, StopButton
from core.background import BackgroundWork
from core.identities import event_key
from core.ports import AssistantPort

if TYPE_CHECKING:
    from discord.abc import MessageableChannel

log = logging.getLogger(__name__)

NOT_NOW_TEXT = "I'm restarting; ask again in a minute."
NOT_HERE_TEXT = "I can't answer in this kind of channel; ask in a text channel, a thread or a DM."
BROKE_TEXT = "Something went wrong while answering; please try again."
RATED_TEXT = "Thanks, noted."
NOT_RATED_TEXT = "I couldn't note that: only the person who asked a question can rate its answer."
NOT_STOPPED_TEXT = (
    "Nothing to stop: only the person who asked can stop an answer, while it is being written."
)
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
        service: AssistantPort,
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
        self.service = service
        self.edit_interval = edit_interval
        self.sync_commands = sync_commands
        self.tree = app_commands.CommandTree(self)
        group = stackdock_group()
        group.add_command(alerts_command())
        self.tree.add_command(group)
        self.work = BackgroundWork()
        self.layout = Layout()  # cards until Discord refuses one
        self._accepting = True

    async def setup_hook(self) -> None:
        self.add_dynamic_items(PromptButton, FeedbackButton, StopButton, *ALERT_BUTTONS)
        if self.sync_commands:
            await self.tree.sync()

    async def close(self) -> None:
        await self.work.drain(0)  # whatever is still answering is cancelled, not orphaned
        await super().close()

    @property
    def answers_under_way(self) -> int:
        return len(self.work)

    async def drain(self, grace_s: float) -> int:
        """Stops taking questions, waits up to `grace_s` for the answers under way, cancels
        the rest; returns how many were cancelled."""
        self._accepting = False
        return await self.work.drain(grace_s)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Answers run as tasks of their own, so the gateway keeps reading while they stream."""
        self.work.spawn(work, name)

    async def _engaged(self, channel: discord.abc.Messageable) -> bool:
        """A thread where the bot holds a conversation: later replies need no mention."""
        if not isinstance(channel, discord.Thread):
            return False
        return await self.service.engaged(questions.thread_key(channel.id))

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
        if not (is_dm or mentioned or await self._engaged(channel)):
            return
        if not await self.service.claim_event(event_key("discord", "message", str(message.id))):
            return  # another worker, or a gateway replay, has it
        text = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        self.spawn(
            questions.from_message(
                self.service, message, text, interval=self.edit_interval, layout=self.layout
            ),
            name=f"discord message {message.id}",
        )

    # ---- interactions (the commands themselves are in commands.py) ----

    async def ask_from_interaction(self, interaction: discord.Interaction, question: str) -> None:
        await reply.acknowledge(interaction, private=True)
        channel = interaction.channel
        if not self._accepting:
            await interaction.followup.send(NOT_NOW_TEXT, ephemeral=True)
            return
        if not questions.posts_here(interaction):
            self.spawn(
                self._answer_privately(interaction, question),
                name=f"discord interaction {interaction.id}",
            )
            return
        if not isinstance(channel, discord.abc.Messageable):
            await interaction.followup.send(NOT_HERE_TEXT, ephemeral=True)
            return
        self.spawn(
            self._answer_interaction(interaction, channel, question),
            name=f"discord interaction {interaction.id}",
        )

    async def _answer_interaction(
        self, interaction: discord.Interaction, channel: MessageableChannel, question: str
    ) -> None:
        async with self._never_left_thinking(interaction):
            await questions.from_interaction(
                self.service,
                interaction,
                channel,
                question,
                interval=self.edit_interval,
                layout=self.layout,
            )

    async def _answer_privately(self, interaction: discord.Interaction, question: str) -> None:
        async with self._never_left_thinking(interaction):
            await questions.privately(
                self.service, interaction, question, interval=self.edit_interval, layout=self.layout
            )

    @contextlib.asynccontextmanager
    async def _never_left_thinking(self, interaction: discord.Interaction) -> AsyncIterator[None]:
        try:
            yield
        except Exception:
            # Whatever broke, the person must not be left looking at "thinking…" for good.
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(content=BROKE_TEXT)
            raise

    async def record_feedback(
        self, interaction: discord.Interaction, audit_id: int, value: int
    ) -> None:
        await reply.acknowledge(interaction, private=True)
        rater = questions.interaction_inbound(
            interaction,
            "",
            conversation_key="",
            event_id=event_key("discord", "interaction", str(interaction.id)),
        )
        stored = await self.service.feedback(audit_id, rater, value)
        await interaction.followup.send(RATED_TEXT if stored else NOT_RATED_TEXT, ephemeral=True)

    async def stop_answer(self, interaction: discord.Interaction, conversation_key: str) -> None:
        """Stop, pressed: the core stops the presser's own answer in that conversation, and the
        answer's message then shows what was written and "Stopped." (nothing else to say)."""
        await interaction.response.defer()  # an update of the pressed message, which follows
        presser = questions.interaction_inbound(
            interaction,
            "",
            conversation_key=conversation_key,
            event_id=event_key("discord", "interaction", str(interaction.id)),
        )
        if not await self.service.stop(conversation_key, presser.identity):
            await interaction.followup.send(NOT_STOPPED_TEXT, ephemeral=True)
