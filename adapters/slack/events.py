"""Slack payloads translated into questions for the core, and which messages to ignore."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from adapters.slack.stream import Place, is_dm_channel
from core.identities import chat_identity, conversation_key, event_key
from core.models import Inbound

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")
_USER_ID = re.compile(r"[UW][A-Z0-9]+")


def identity(team: str, user: str) -> str:
    return chat_identity("slack", team, user)


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
        return conversation_key("slack", self.team, self.channel, self.thread_ts)

    @property
    def claim_key(self) -> str | None:
        """What makes a re-delivery of this event known to every worker (None: a button or
        a command, which Slack never re-delivers)."""
        return event_key("slack", "event", self.event_id) if self.event_id else None

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
            event_id=self.claim_key,
        )


def strip_bot_mention(text: str, bot_user_id: str | None) -> str:
    """The question without the `<@BOT>` that addressed it (other mentions stay)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return " ".join(text.split())


def _text(where: Any, key: str) -> str:
    """A field Slack sends as text, or "" when it is missing or, in a forged body, not text."""
    value = where.get(key) if isinstance(where, dict) else None
    return value if isinstance(value, str) else ""


def team_of(body: dict[str, Any], event: dict[str, Any] | None = None) -> str:
    team = _text(body, "team_id") or _text(body.get("team"), "id")
    if not team and event:
        team = _text(event, "team") or _text(event, "user_team")
    return team or _text(body.get("user"), "team_id")


def _where(body: dict[str, Any]) -> tuple[dict[str, Any], str, str, str] | None:
    """The event, its author, channel and thread, when it is a person's message that has a
    thread to answer in; None for bots, edits, joins and anything not shaped like Slack's."""
    event = body.get("event")
    if not isinstance(event, dict) or event.get("bot_id") or event.get("subtype"):
        return None
    user, channel = _text(event, "user"), _text(event, "channel")
    thread_ts = _text(event, "thread_ts") or _text(event, "ts")
    if not (user and channel and thread_ts):
        return None  # nobody asked, or nowhere to answer: not an event Slack sends
    return event, user, channel, thread_ts


def from_mention(body: dict[str, Any], bot_user_id: str | None) -> Ask | None:
    """An `app_mention`: answered in the thread of the mentioning message."""
    found = _where(body)
    if found is None:
        return None
    event, user, channel, thread_ts = found
    return Ask(
        team=team_of(body, event),
        user=user,
        channel=channel,
        thread_ts=thread_ts,
        text=strip_bot_mention(_text(event, "text"), bot_user_id),
        is_dm=is_dm_channel(channel),
        event_id=_text(body, "event_id") or None,
    )


def from_message(body: dict[str, Any], bot_user_id: str | None) -> Ask | None:
    """A `message` event worth answering: a person's DM, or a reply in a channel thread.

    Edits, deletions, joins and every other subtype are ignored, as are bots (this one too).
    A channel message that mentions the bot is left to its `app_mention` twin, so that one
    message gets one answer.
    """
    found = _where(body)
    if found is None or found[1] == bot_user_id:
        return None
    event, user, channel, thread_ts = found
    text = _text(event, "text")
    dm = _text(event, "channel_type") == "im" or is_dm_channel(channel)
    if not dm:
        if not _text(event, "thread_ts"):
            return None  # top-level channel chatter; only a mention addresses the bot
        if bot_user_id and f"<@{bot_user_id}" in text:
            return None
    return Ask(
        team=team_of(body, event),
        user=user,
        channel=channel,
        thread_ts=thread_ts,
        text=strip_bot_mention(text, bot_user_id),
        is_dm=dm,
        event_id=_text(body, "event_id") or None,
    )


@dataclass(frozen=True, slots=True)
class Press:
    """A button pressed: by whom, where (None on the App Home tab), and the value it carries."""

    team: str
    user: str
    channel: str | None
    thread_ts: str | None
    value: str
    private_reply: bool  # Slack gave a response_url: a reply only the presser sees is possible


def from_press(body: dict[str, Any]) -> Press | None:
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    user = _text(body.get("user"), "id")
    if not isinstance(action, dict) or not user:
        return None
    return Press(
        team=team_of(body),
        user=user,
        channel=_text(body.get("channel"), "id") or None,
        thread_ts=_text(body.get("container"), "thread_ts") or None,
        value=_text(action, "value"),
        private_reply=bool(_text(body, "response_url")),
    )


def home_opened(body: dict[str, Any]) -> tuple[str, str, str, str] | None:
    """(team, user, DM channel, tab) of an `app_home_opened` event."""
    event = body.get("event")
    user = _text(event, "user")
    if not isinstance(event, dict) or not user:
        return None
    return team_of(body, event), user, _text(event, "channel"), _text(event, "tab") or "home"


def panel_thread(body: dict[str, Any]) -> tuple[str, str | None] | None:
    """(channel, thread_ts) of the assistant panel thread an event is about."""
    event = body.get("event")
    thread = event.get("assistant_thread") if isinstance(event, dict) else None
    channel = _text(thread, "channel_id")
    return (channel, _text(thread, "thread_ts") or None) if channel else None


def split_command(text: str) -> tuple[str, str]:
    """`/stackdock ask why?` -> ("ask", "why?"); an empty text is ("help", "")."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return "help", ""
    return words[0].lower(), words[1].strip() if len(words) > 1 else ""


def parse_link_args(text: str) -> tuple[str | None, str | None]:
    """`@person user@example.com` -> (their user id, email); `user@example.com` -> (None, email).

    Slack escapes a mentioned user as `<@U123|name>` and may wrap an email as `<mailto:…>`.
    """
    target = None
    mentioned = _USER_MENTION.search(text)
    if mentioned:
        target = mentioned.group(1)
        text = text[: mentioned.start()] + text[mentioned.end() :]
    text = _MAILTO.sub(lambda m: m.group(1), text)
    words = text.split()
    return target, (words[0] if len(words) == 1 else None)


@dataclass(frozen=True, slots=True)
class StopRequest:
    """Someone pressed Stop on the answer in a thread: Slack's session Stop or ours."""

    team: str
    user: str
    channel: str
    thread_ts: str


def session_stopped(body: dict[str, Any]) -> StopRequest | None:
    """An `agent_session_stopped` event: the native Stop of the thread's agent session."""
    event = body.get("event")
    user, channel = _text(event, "user"), _text(event, "channel")
    thread_ts = _text(event, "thread_ts")
    if not isinstance(event, dict) or not (user and channel and thread_ts):
        return None
    return StopRequest(team_of(body, event), user, channel, thread_ts)


def stop_pressed(press: Press) -> tuple[StopRequest, str] | None:
    """Our Stop button: the request, and who asked the question (its value says)."""
    thread_ts, _, asker = press.value.rpartition(":")
    if not (thread_ts and press.channel and _USER_ID.fullmatch(asker)):
        return None
    return StopRequest(press.team, press.user, press.channel, thread_ts), asker
