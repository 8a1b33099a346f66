"""Answering after the ack: re-delivery claims, and one question's reply in its thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.events import Ask, is_dm_channel
from adapters.slack.people import EmailDirectory
from adapters.slack.render import plain, thread_title, to_mrkdwn
from adapters.slack.reply import SlackReply
from adapters.slack.stream import Unavailable, slack_error
from core.models import Outcome, Refusal, ReplyEvent
from core.ports import AssistantPort
from core.replies import ReplyDraft

log = logging.getLogger(__name__)

# The command's response_url (or Bolt's `respond`): a private reply to whoever used it.
Respond = Callable[..., Awaitable[Any]]
TITLED_KEPT = 10_000  # threads this process remembers having titled


@contextlib.asynccontextmanager
async def _closing(
    events: AsyncIterator[ReplyEvent],
) -> AsyncIterator[AsyncIterator[ReplyEvent]]:
    """Closes the core's answer however the reply ends: it then writes the question's audit
    row at once, even when Slack failed halfway through the answer."""
    try:
        yield events
    finally:
        if isinstance(events, AsyncGenerator):
            await events.aclose()


class Answerer:
    """Turns one Ask into the core's answer, written into its Slack thread."""

    def __init__(
        self,
        *,
        service: AssistantPort,
        client: AsyncWebClient,
        people: EmailDirectory,
        writer_options: dict[str, Any] | None = None,
    ) -> None:
        self.service = service
        self.client = client
        self.people = people
        self.writer_options = writer_options or {}
        self.unavailable = Unavailable()  # what Slack refused to the installs answered here
        self._titled: OrderedDict[str, None] = OrderedDict()

    async def answer(self, ask: Ask, *, only_if_engaged: bool = False) -> Outcome | None:
        """Answers unless the event was already claimed (a re-delivery, maybe to another worker).

        `only_if_engaged` is for replies in channel threads: the core says which threads the
        bot is in; the others are left to the people in them.
        """
        if only_if_engaged and not await self._engaged(ask):
            return None
        reply = SlackReply(
            self.client, ask.place(), unavailable=self.unavailable, **self.writer_options
        )
        # The status, the claim (a database write) and users.info at once: under a burst the
        # claim queues behind SQLite's single writer, and people should see the bot working
        # without waiting for it (bench/burst.py). A re-delivery that loses the claim has set
        # the same "Thinking…" status the first delivery set; Slack drops it with the reply.
        _, claimed, email = await asyncio.gather(
            reply.announce(), self._claim(ask), self.people.email(ask.team, ask.user)
        )
        if not claimed:
            log.info("event %s was already handled; not answering it again", ask.event_id)
            return None
        try:
            first = self._first_in_thread(ask)
            title = thread_title(self.service.echo(ask.text)) if first else None
            reply.begin(title, titled_thread=ask.is_dm)
            async with _closing(self.service.answer(ask.inbound(email))) as events:
                draft = await reply.write(events)
        except SlackApiError as exc:
            log.warning("could not reply in %s: %s", ask.channel, slack_error(exc))
            return Outcome.FAILED
        return draft.outcome

    def _first_in_thread(self, ask: Ask) -> bool:
        """Whether this process has not yet titled the thread (a title is set once; Slack
        keeps a session's first title anyway)."""
        key = ask.conversation_key
        if key in self._titled:
            return False
        self._titled[key] = None
        if len(self._titled) > TITLED_KEPT:
            self._titled.popitem(last=False)
        return True

    async def stop(self, team: str, user: str, channel: str, thread_ts: str) -> bool:
        """A Stop pressed in a thread: the person's answer there is stopped, here or by the
        worker writing it. False when nothing of theirs was under way in this process."""
        where = Ask(team, user, channel, thread_ts, "", is_dm_channel(channel))
        return await self.service.stop(where.conversation_key, where.identity)

    async def _engaged(self, ask: Ask) -> bool:
        try:
            return await self.service.engaged(ask.conversation_key)
        except Exception:
            # Unknown is not addressed: a reply in a thread the bot may not be in is people
            # talking to each other, and the bot must not barge into every thread of a channel
            # while its database is down.
            log.warning("could not tell whether the bot is in %s; not answering", ask.channel)
            return False

    async def _claim(self, ask: Ask) -> bool:
        if ask.claim_key is None:
            return True  # a button or a command: Slack never re-delivers those
        try:
            return await self.service.claim_event(ask.claim_key)
        except Exception:
            # The claim is only a guard against re-deliveries; with the database down the
            # person must still hear that (the core answers "temporarily unavailable" and
            # keeps the question in the spool), not see "Thinking…" forever.
            log.warning("could not claim event %s; answering it anyway", ask.event_id)
            return True

    async def collect(self, ask: Ask) -> str:
        """The answer as one text, for places that can't be streamed into (ephemeral replies)."""
        email = await self.people.email(ask.team, ask.user)
        draft = ReplyDraft()
        async with _closing(self.service.answer(ask.inbound(email))) as events:
            async for event in events:
                draft.add(event)
        return draft.text

    async def answer_posted(
        self,
        *,
        team: str,
        user: str,
        channel: str,
        question: str,
        thread_ts: str | None = None,
        respond: Respond | None = None,
    ) -> None:
        """Asks for someone who pressed a button or used `/stackdock ask`.

        The question is posted, on the asker's behalf, only once the core has said who they
        are and that they may ask here; then the answer has a thread to live in and the
        channel sees what was asked. The echo is scrubbed and can ping nobody. A refusal, and
        any answer where the bot may not post, go back privately instead.
        """
        ask = Ask(team, user, channel, thread_ts or "", question, is_dm_channel(channel))
        email = await self.people.email(team, user)
        if not await self._may_ask(ask, email):
            # Through the core all the same, so the refused question has its audit row.
            await self._privately(ask, respond, await self.collect(ask))
            return
        echo = plain(self.service.echo(question))
        try:
            posted = await self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=f"<@{user}> asked: {echo}",
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            if respond is None:
                raise
            log.info("can't post in %s (%s); answering privately", channel, slack_error(exc))
            await self._privately(ask, respond, await self.collect(ask))
            return
        thread = thread_ts or str(posted["ts"])
        await self.answer(Ask(team, user, channel, thread, question, ask.is_dm))

    async def _may_ask(self, ask: Ask, email: str | None) -> bool:
        try:
            return not isinstance(await self.service.resolve(ask.inbound(email)), Refusal)
        except Exception:
            # With the database down nobody can be vouched for; the core's answer then says
            # "temporarily unavailable" (privately) and keeps the question in the spool.
            log.warning("could not resolve %s; answering privately", ask.identity)
            return False

    async def _privately(self, ask: Ask, respond: Respond | None, text: str) -> None:
        mrkdwn = to_mrkdwn(text)
        if respond is not None:
            await respond(text=mrkdwn, response_type="ephemeral")
        elif ask.is_dm:
            await self.client.chat_postMessage(channel=ask.channel, text=mrkdwn)
        else:
            await self.client.chat_postEphemeral(channel=ask.channel, user=ask.user, text=mrkdwn)
