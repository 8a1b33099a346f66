"""Answering after the ack: background tasks, re-delivery claims, and one question's reply."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from core.chat_commands import ChatCommands
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.events import Ask, is_dm_channel
from adapters.slack.people import EmailDirectory
from adapters.slack.render import to_mrkdwn
from adapters.slack.stream import ReplyWriter, slack_error
from core.assistant import Assistant
from core.models import ErrorReply, Final, Outcome

log = logging.getLogger(__name__)


class Answerer:
    """Turns one Ask into the core's answer, written into its Slack thread."""

    def __init__(
        self,
        *,
        assistant: Assistant,
        commands: ChatCommands,
        client: AsyncWebClient,
        people: EmailDirectory,
        writer_options: dict[str, Any] | None = None,
    ) -> None:
        self.assistant = assistant
        self.commands = commands
        self.client = client
        self.people = people
        self.writer_options = writer_options or {}

    async def answer(self, ask: Ask, *, only_if_engaged: bool = False) -> Outcome | None:
        """Answers unless the event was already claimed (a re-delivery, maybe to another worker).

        `only_if_engaged` is for replies in channel threads: they are answered only in a
        thread where the bot already holds a conversation.
        """
        if only_if_engaged and not await self._engaged(ask):
            return None
        writer = ReplyWriter(self.client, ask.place(), **self.writer_options)
        # The status, the claim (a database write) and users.info at once: under a burst the
        # claim queues behind SQLite's single writer, and people should see the bot working
        # without waiting for it (bench/burst.py). A re-delivery that loses the claim has set
        # the same "Thinking…" status the first delivery set; Slack drops it with the reply.
        claim = self.commands.claim_event(ask.event_id) if ask.event_id else _unclaimed()
        _, claimed, email = await asyncio.gather(
            writer.announce(), claim, self.people.email(ask.team, ask.user)
        )
        if not claimed:
            log.info("event %s was already handled; not answering it again", ask.event_id)
            return None
        outcome = Outcome.FAILED
        try:
            async with contextlib.aclosing(self.assistant.handle(ask.inbound(email))) as events:
                last = await writer.write(events)
            if isinstance(last, Final | ErrorReply):
                outcome = last.outcome
        except SlackApiError as exc:
            log.warning("could not reply in %s: %s", ask.channel, slack_error(exc))
        return outcome

    async def _engaged(self, ask: Ask) -> bool:
        history = await self.assistant.store.conversations.history(ask.conversation_key, 1)
        return bool(history)

    async def collect(self, ask: Ask) -> str:
        """The answer as one text, for places that can't be streamed into (ephemeral replies)."""
        email = await self.people.email(ask.team, ask.user)
        text = ""
        async with contextlib.aclosing(self.assistant.handle(ask.inbound(email))) as events:
            async for event in events:
                if isinstance(event, Final | ErrorReply):
                    text = event.text
        return text

    async def answer_posted(
        self,
        *,
        team: str,
        user: str,
        channel: str,
        question: str,
        thread_ts: str | None = None,
        respond: Any = None,
    ) -> None:
        """Asks for someone who pressed a button or used `/stackdock ask`.

        The question is posted first, so that the answer has a thread to live in and the
        channel sees what was asked. Where the bot may not post, the answer comes back
        privately through `respond` (the command's response_url) instead.
        """
        try:
            posted = await self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=f"<@{user}> asked: {question}"
            )
        except SlackApiError as exc:
            if respond is None:
                raise
            log.info("can't post in %s (%s); answering privately", channel, slack_error(exc))
            ask = Ask(team, user, channel, thread_ts or "", question, is_dm_channel(channel))
            await respond(text=to_mrkdwn(await self.collect(ask)), response_type="ephemeral")
            return
        ask = Ask(
            team, user, channel, thread_ts or str(posted["ts"]), question, is_dm_channel(channel)
        )
        await self.answer(ask)


async def _unclaimed() -> bool:
    """An Ask without an event id (a button, a command) has nothing to claim."""
    return True
