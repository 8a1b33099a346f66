"""Alerts on Slack: the message layout, posting and editing it for delivery, and what its
Explain and Mute 24 h buttons and `/stackdock alerts` do.

What an alert says and who may do what is the core's (core/alert_*.py); this module only lays
the core's AlertCard out in Block Kit and turns button presses into calls of AssistantPort.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.answers import Answerer, Respond
from adapters.slack.events import Ask, from_press, identity, is_dm_channel
from adapters.slack.people import EmailDirectory
from adapters.slack.render import plain
from core.background import BackgroundWork
from core.models import Inbound
from core.ports import AlertCard, AssistantPort, DeliveryError

log = logging.getLogger(__name__)

EXPLAIN_ACTION = "alert_explain"
MUTE_ACTION = "alert_mute"
_SEVERITY_MARK = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵"}
# Slack errors that no retry can fix: the channel is gone or the bot is not in it.
_PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "msg_too_long",
        "invalid_blocks",
        "restricted_action",
        "thread_not_found",
    }
)
_SECTION_CHARS = 2900  # Slack refuses a section over 3,000 characters


def card_text(card: AlertCard) -> str:
    """The card as mrkdwn: the notification text and the section of its blocks."""
    mark = "✅" if card.resolved else _SEVERITY_MARK.get(card.severity, "")
    if not card.ref:
        mark = ""  # notices (subscribed, digest) carry their own mark
    headline = f"*{mark + ' ' if mark else ''}{plain(card.headline)}*"
    text = "\n".join([headline, *(plain(line) for line in card.lines)])
    return text if len(text) <= _SECTION_CHARS else text[: _SECTION_CHARS - 1] + "…"


def card_blocks(card: AlertCard) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": card_text(card)}}
    ]
    if card.ref:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": EXPLAIN_ACTION,
                        "text": {"type": "plain_text", "text": "Explain"},
                        "value": card.ref,
                    },
                    {
                        "type": "button",
                        "action_id": MUTE_ACTION,
                        "text": {"type": "plain_text", "text": "Mute 24 h"},
                        "value": card.ref,
                    },
                ],
            }
        )
    return blocks


def _refused(exc: SlackApiError) -> DeliveryError:
    error = str(exc.response.get("error", "")) if exc.response is not None else ""
    return DeliveryError(error or "slack_error", permanent=error in _PERMANENT)


class SlackAlertSink:
    """The AlertSink for Slack: one workspace's bot token posts into its channels."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    def ready(self) -> bool:
        return True  # the Web API needs no connection of its own; failures are retried

    async def post(self, channel: str, card: AlertCard) -> str:
        try:
            sent = await self._client.chat_postMessage(
                channel=channel,
                text=card_text(card),
                blocks=card_blocks(card),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise _refused(exc) from None
        return str(sent["ts"])

    async def edit(self, channel: str, ref: str, card: AlertCard) -> None:
        try:
            await self._client.chat_update(
                channel=channel, ts=ref, text=card_text(card), blocks=card_blocks(card)
            )
        except SlackApiError as exc:
            raise _refused(exc) from None

    async def reply(self, channel: str, ref: str, text: str) -> str:
        try:
            sent = await self._client.chat_postMessage(
                channel=channel,
                thread_ts=ref,
                text=plain(text),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise _refused(exc) from None
        return str(sent["ts"])


def _pressed_message(body: dict[str, Any]) -> str | None:
    container = body.get("container")
    ts = container.get("message_ts") if isinstance(container, dict) else None
    return ts if isinstance(ts, str) and ts else None


class SlackAlertActions:
    """Explain, Mute 24 h and `/stackdock alerts`, for the Slack app."""

    def __init__(
        self,
        *,
        service: AssistantPort,
        answerer: Answerer,
        people: EmailDirectory,
        tasks: BackgroundWork,
    ) -> None:
        self.service = service
        self.answerer = answerer
        self.people = people
        self.tasks = tasks

    def register(self, app: AsyncApp) -> None:
        app.action(EXPLAIN_ACTION)(self.on_explain)
        app.action(MUTE_ACTION)(self.on_mute)

    async def _inbound(self, team: str, user: str, channel: str, thread_ts: str = "") -> Inbound:
        ask = Ask(team, user, channel, thread_ts, "", is_dm_channel(channel))
        return ask.inbound(await self.people.email(team, user))

    async def command(
        self, team: str, user: str, channel: str, rest: str, respond: Respond
    ) -> None:
        """`/stackdock alerts [on [severity]|off]` typed in `channel`."""
        text = await self.service.alerts(await self._inbound(team, user, channel), rest)
        await respond(text=plain(text), response_type="ephemeral")

    async def on_explain(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        press = from_press(body)
        message = _pressed_message(body)
        if press is None or press.channel is None or message is None:
            return
        self.tasks.spawn(
            self._explain(press.team, press.user, press.channel, message, press.value, respond),
            "alert explain",
        )

    async def _explain(
        self, team: str, user: str, channel: str, message: str, ref: str, respond: Respond
    ) -> None:
        # The alert's thread is the alert message's own: the answer lives under it.
        question = await self.service.alert_question(
            await self._inbound(team, user, channel, message), ref
        )
        if question is None:
            await respond(
                text="I no longer track that alert here.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        await self.answerer.answer_posted(
            team=team,
            user=user,
            channel=channel,
            question=question,
            thread_ts=message,
            respond=respond,
        )

    async def on_mute(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        press = from_press(body)
        if press is None or press.channel is None:
            return
        self.tasks.spawn(
            self._mute(press.team, press.user, press.channel, press.value, respond), "alert mute"
        )

    async def _mute(self, team: str, user: str, channel: str, ref: str, respond: Respond) -> None:
        text = await self.service.mute_alert(await self._inbound(team, user, channel), ref)
        log.info("mute pressed by %s on alert %s", identity(team, user), ref[:20])
        await respond(text=plain(text), response_type="ephemeral", replace_original=False)
