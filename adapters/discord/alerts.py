"""Alerts on Discord: the message, posting and editing it for delivery, replies in the thread
grown from it, and its Explain and Mute 24 h buttons and `/stackdock alerts`.

What an alert says and who may do what is the core's; this module lays the core's AlertCard
out as a message with a row of buttons and turns presses into AssistantPort calls. A thread
grown from a message has the message's id, so the alert's thread is known before it exists.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol, cast

import discord
from discord import app_commands

from adapters.discord import questions, reply
from adapters.discord.cards import Layout
from adapters.discord.render import neutralise_mentions
from core.identities import event_key
from core.models import Inbound
from core.ports import AlertCard, AssistantPort, DeliveryError

log = logging.getLogger(__name__)

CONTENT_LIMIT = 2000
THREAD_EXISTS = 160004  # Discord: "A thread has already been created for this message"
NOT_TRACKED = "I no longer track that alert here."
_SEVERITY_MARK = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵"}
NO_PINGS = discord.AllowedMentions.none()


class AlertHost(Protocol):
    service: AssistantPort
    edit_interval: float
    layout: Layout


def _host(interaction: discord.Interaction) -> AlertHost:
    return cast(AlertHost, interaction.client)


def card_text(card: AlertCard) -> str:
    mark = "✅" if card.resolved else _SEVERITY_MARK.get(card.severity, "")
    if not card.ref:
        mark = ""  # notices (subscribed, digest) carry their own mark
    headline = f"**{mark + ' ' if mark else ''}{neutralise_mentions(card.headline)}**"
    text = "\n".join([headline, *(neutralise_mentions(line) for line in card.lines)])
    return text if len(text) <= CONTENT_LIMIT else text[: CONTENT_LIMIT - 1] + "…"


class ExplainButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"sd:alert:explain:(?P<ref>[0-9]{1,19})",
):
    """Explain: an answer in the alert's thread, for whoever pressed, within their role."""

    def __init__(self, ref: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Explain",
                style=discord.ButtonStyle.primary,
                custom_id=f"sd:alert:explain:{ref}",
            )
        )
        self.ref = ref

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ExplainButton:
        return cls(match["ref"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await explain(interaction, self.ref)


class MuteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"sd:alert:mute:(?P<ref>[0-9]{1,19})"
):
    """Mute 24 h (ai:full): no more messages about this alert here for a day."""

    def __init__(self, ref: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Mute 24 h",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sd:alert:mute:{ref}",
            )
        )
        self.ref = ref

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MuteButton:
        return cls(match["ref"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await reply.acknowledge(interaction, private=True)
        text = await _host(interaction).service.mute_alert(_presser(interaction), self.ref)
        await interaction.followup.send(neutralise_mentions(text), ephemeral=True)


ALERT_BUTTONS = (ExplainButton, MuteButton)


def alert_view(card: AlertCard) -> discord.ui.View | None:
    if not card.ref:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(ExplainButton(card.ref))
    view.add_item(MuteButton(card.ref))
    return view


def _presser(interaction: discord.Interaction, conversation_key: str = "") -> Inbound:
    return questions.interaction_inbound(
        interaction,
        "",
        conversation_key=conversation_key,
        event_id=event_key("discord", "interaction", str(interaction.id)),
    )


async def explain(interaction: discord.Interaction, ref: str) -> None:
    """Explain pressed: the core's question about the alert, answered in the alert's thread
    as the presser asked it (their role, their limits, their audit row)."""
    await reply.acknowledge(interaction, private=True)
    host = _host(interaction)
    message = interaction.message
    channel = interaction.channel
    if message is None or not isinstance(channel, discord.TextChannel):
        await interaction.followup.send(NOT_TRACKED, ephemeral=True)
        return
    key = questions.thread_key(message.id)
    question = await host.service.alert_question(_presser(interaction, key), ref)
    if question is None:
        await interaction.followup.send(NOT_TRACKED, ephemeral=True)
        return
    asked = questions.inbound(
        interaction.user,
        channel,
        question,
        conversation_key=key,
        event_id=event_key("discord", "interaction", str(interaction.id)),
    )

    async def open_thread() -> discord.abc.Messageable:
        thread = channel.get_thread(message.id)
        if thread is None:
            thread = await message.create_thread(name=questions.thread_name("Explain this alert"))
        await interaction.edit_original_response(content=f"Answering in {thread.mention}.")
        return thread

    async def refuse(text: str) -> None:
        await interaction.edit_original_response(content=text)

    await reply.answer(
        host.service,
        asked,
        typing_in=channel,
        open_place=open_thread,
        refuse=refuse,
        interval=host.edit_interval,
        layout=host.layout,
    )


def alerts_command() -> app_commands.Command[Any, ..., None]:
    """`/stackdock alerts [on [severity]|off]` for the channel it is used in."""

    @app_commands.command(name="alerts", description="This channel's StackDock alerts")
    @app_commands.describe(
        setting="`on`, `on critical|high|medium|low`, or `off`; none shows the current setting"
    )
    async def alerts(interaction: discord.Interaction, setting: str | None = None) -> None:
        await reply.acknowledge(interaction, private=True)
        text = await _host(interaction).service.alerts(_presser(interaction), setting or "")
        await interaction.followup.send(neutralise_mentions(text), ephemeral=True)

    return alerts


class DiscordAlertSink:
    """The AlertSink for Discord, over the bot's REST connection."""

    platform = "discord"

    def __init__(self, bot: discord.Client) -> None:
        self._bot = bot
        self._threads: set[str] = set()  # alert messages known to have a thread

    def ready(self) -> bool:
        return self._bot.is_ready()

    def _channel(self, channel_id: str) -> Any:
        # The cached channel knows its guild, which starting a thread needs; a partial one
        # serves for sending and editing while the cache does not have it.
        known = self._bot.get_channel(int(channel_id))
        return known if known is not None else self._bot.get_partial_messageable(int(channel_id))

    async def post(self, channel: str, card: AlertCard) -> str:
        view = alert_view(card)
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        try:
            sent = await self._channel(channel).send(
                card_text(card), allowed_mentions=NO_PINGS, **extra
            )
        except discord.HTTPException as exc:
            raise _refused(exc) from None
        return str(sent.id)

    async def edit(self, channel: str, ref: str, card: AlertCard) -> None:
        try:
            await (
                self._channel(channel)
                .get_partial_message(int(ref))
                .edit(content=card_text(card), view=alert_view(card))
            )
        except discord.HTTPException as exc:
            raise _refused(exc) from None

    async def reply(self, channel: str, ref: str, text: str) -> str:
        try:
            if ref not in self._threads:
                try:
                    await (
                        self._channel(channel)
                        .get_partial_message(int(ref))
                        .create_thread(name="Alert updates")
                    )
                except discord.HTTPException as exc:
                    if exc.code != THREAD_EXISTS:
                        raise
                self._threads.add(ref)
            sent = await self._channel(ref).send(
                neutralise_mentions(text), allowed_mentions=NO_PINGS
            )
        except discord.HTTPException as exc:
            raise _refused(exc) from None
        return str(sent.id)


def _refused(exc: discord.HTTPException) -> DeliveryError:
    # Not found, or forbidden: the channel is gone or the bot may not write there.
    permanent = isinstance(exc, discord.NotFound | discord.Forbidden)
    return DeliveryError(f"discord {exc.status} {exc.code}", permanent=permanent)
