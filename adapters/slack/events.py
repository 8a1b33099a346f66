"""Slack payloads translated into questions for the core, and which messages to ignore."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from adapters.slack.stream import Place
from core.models import Inbound

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")


def identity(team: str, user: str) -> str:
    return f"slack:{team}:{user}"


def is_dm_channel(channel: str) -> bool:
    # IM channel ids start with D; G is a private channel or group DM, which are shared.
    return channel.startswith("D")


@dataclass(frozen=True, slots=True)
class Ask:
    """One question asked in Slack, with the thread its answer belongs in."""

    team: str
    user: str
    channel: str
    thread_ts: str
    text: str
    is_dm: bool
    event_id: str | None = None

    @property
    def identity(self) -> str:
        return identity(self.team, self.user)

    @property
    def conversation_key(self) -> str:
        return f"slack:{self.team}:{self.channel}:{self.thread_ts}"

    def place(self) -> Place:
        return Place(self.channel, self.thread_ts, self.team, self.user)

    def inbound(self, email: str | None) -> Inbound:
        return Inbound(
            identity=self.identity,
            text=self.text,
            platform="slack",
            conversation_key=self.conversation_key,
            workspace=self.team,
            channel=self.channel,
            is_dm=self.is_dm,
            email=email,
            event_id=self.event_id,
        )


def strip_bot_mention(text: str, bot_user_id: str | None) -> str:
    """The question without the `<@BOT>` that addressed it (other mentions stay)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return " ".join(text.split())


def team_of(body: dict[str, Any], event: dict[str, Any] | None = None) -> str:
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    if not team and event:
        team = event.get("team") or event.get("user_team")
    if not team:
        team = (body.get("user") or {}).get("team_id", "")
    return str(team)


def from_mention(body: dict[str, Any], bot_user_id: str | None) -> Ask | None:
    """An `app_mention`: answered in the thread of the mentioning message."""
    event = body["event"]
    if event.get("bot_id") or event.get("subtype") or not event.get("user"):
        return None
    channel, thread_ts = event.get("channel"), event.get("thread_ts") or event.get("ts")
    if not channel or not thread_ts:
        return None  # nowhere to answer: not an event Slack sends
    return Ask(
        team=team_of(body, event),
        user=event["user"],
        channel=channel,
        thread_ts=thread_ts,
        text=strip_bot_mention((event.get("text") or ""), bot_user_id),
        is_dm=is_dm_channel(channel),
        event_id=body.get("event_id"),
    )


def from_message(body: dict[str, Any], bot_user_id: str | None) -> Ask | None:
    """A `message` event worth answering: a person's DM, or a reply in a channel thread.

    Edits, deletions, joins and every other subtype are ignored, as are bots (this one too).
    A channel message that mentions the bot is left to its `app_mention` twin, so that one
    message gets one answer.
    """
    event = body["event"]
    user = event.get("user")
    if event.get("subtype") or event.get("bot_id") or not user or user == bot_user_id:
        return None
    channel, thread_ts = event.get("channel"), event.get("thread_ts") or event.get("ts")
    if not channel or not thread_ts:
        return None  # nowhere to answer: not an event Slack sends
    dm = event.get("channel_type") == "im" or is_dm_channel(channel)
    if not dm:
        if not event.get("thread_ts"):
            return None  # top-level channel chatter; only a mention addresses the bot
        if bot_user_id and f"<@{bot_user_id}" in (event.get("text") or ""):
            return None
    return Ask(
        team=team_of(body, event),
        user=user,
        channel=channel,
        thread_ts=thread_ts,
        text=strip_bot_mention((event.get("text") or ""), bot_user_id),
        is_dm=dm,
        event_id=body.get("event_id"),
    )


def split_command(text: str) -> tuple[str, str]:
    """`/stackdock ask why?` -> ("ask", "why?"); an empty text is ("help", "")."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return "help", ""
    return words[0].lower(), words[1].strip() if len(words) > 1 else ""


def parse_link_args(text: str, team: str) -> tuple[str | None, str | None]:
    """`@person user@example.com` -> (their identity, email); `user@example.com` -> (None, email).

    Slack escapes a mentioned user as `<@U123|name>` and may wrap an email as `<mailto:…>`.
    """
    target = None
    mentioned = _USER_MENTION.search(text)
    if mentioned:
        target = identity(team, mentioned.group(1))
        text = text[: mentioned.start()] + text[mentioned.end() :]
    text = _MAILTO.sub(lambda m: m.group(1), text)
    words = text.split()
    return target, (words[0] if len(words) == 1 else None)
