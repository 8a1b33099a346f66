"""One answer written into a Slack thread, as the core streams it.

The core's events are folded into a `core.replies.ReplyDraft`, which decides what the reply
says (the error-after-partial-text policy included) and when a refresh is due. This module
only shows it: first a "thinking" state (the thread's assistant status with rotating loading
messages, else a placeholder message), then the answer through one of two writers with the
same small interface: `StreamWriter` (adapters/slack/stream.py, Slack's streaming API), or
`EditWriter` (below), which edits one message and goes on in new messages of the thread past
Slack's limits. When streaming is refused, the edit writer takes over from where the stream
stopped.

Stop: where Slack keeps an agent session for the thread, its own Stop button shows while the
session is `processing` (opened by `begin`, closed by the end of the stream or by `write`).
Where it does not (an app still on the assistant experience), a message of ours with a Stop
button stands in the thread while the answer is written, and is removed when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.layout import answer_layout
from adapters.slack.render import (
    LOADING_MESSAGES,
    MESSAGE_LIMIT,
    STREAM_LIMIT,
    answer_blocks,
    placeholder_text,
    stop_blocks,
    to_mrkdwn,
)
from adapters.slack.stream import (
    MIN_MESSAGE_LIMIT,
    Place,
    StreamRefused,
    StreamWriter,
    Thread,
    Unavailable,
    resume_at,
    slack_error,
)
from core.models import ReplyEvent, Status
from core.replies import Change, ReplyDraft, open_fence_at, split_text

log = logging.getLogger(__name__)

FIRST_STATUS = "Thinking…"


class Writer(Protocol):
    """Shows a draft's answer; the draft says what it holds, the writer only sends."""

    async def started(self, draft: ReplyDraft, key: str, title: str) -> None: ...
    async def step(self, draft: ReplyDraft) -> None: ...
    async def text(self, draft: ReplyDraft) -> None: ...
    async def end(self, draft: ReplyDraft) -> None: ...


def _summaries(draft: ReplyDraft) -> list[str]:
    return [step.summary for step in draft.steps]


class EditWriter:
    """The answer laid out over messages of at most `message_limit` characters, each edited
    in place as the text grows; the first one is the placeholder when there is one.

    Every refresh lays out the text (after what a stream showed, if one did) afresh with
    `split_text`, which cuts a growing text the same way each time, so a finished message is
    not edited again; only when Slack says a message is too long are all of them laid out
    again, smaller. Nothing shown is ever sent twice.
    """

    def __init__(self, thread: Thread, *, after: str = "", message_limit: int = MESSAGE_LIMIT):
        self._thread = thread
        self._after = after  # the text a stream showed before this writer took over
        self._limit = message_limit
        self._messages: list[str] = []
        self._shown: list[tuple[str, list[dict[str, Any]] | None]] = []

    async def started(self, draft: ReplyDraft, key: str, title: str) -> None:
        if self._messages:
            return
        if self._thread.placeholder is not None:
            text = placeholder_text(title, _summaries(draft))
            await self._thread.update(self._thread.placeholder, text)
        else:
            await self._thread.set_status(title)

    async def step(self, draft: ReplyDraft) -> None:
        if self._messages:
            return  # the steps go above the finished answer
        if self._thread.placeholder is not None:
            text = placeholder_text(draft.status, _summaries(draft))
            await self._thread.update(self._thread.placeholder, text)
        else:
            await self._thread.set_status(draft.steps[-1].summary)

    async def text(self, draft: ReplyDraft) -> None:
        await self._lay_out(draft, final=False)

    async def end(self, draft: ReplyDraft) -> None:
        await self._lay_out(draft, final=True)

    async def _lay_out(self, draft: ReplyDraft, *, final: bool) -> None:
        text = draft.text[resume_at(draft.text, self._after) :]
        fence = open_fence_at(self._after)
        if fence is not None:  # the stream stopped inside a code block: reopen it
            text = fence + "\n" + text
        if not text.strip() and not final:
            return
        audit_id = draft.audit_id if draft.rateable else None
        while True:
            try:
                pieces = split_text(text, self._limit) or [""]
                for i, piece in enumerate(pieces):
                    last = final and i == len(pieces) - 1
                    blocks = (
                        answer_blocks(piece, _summaries(draft), audit_id)
                        if last
                        else answer_layout(piece)
                    )
                    # The text is what notifications and old clients show; the blocks render.
                    await self._show(i, to_mrkdwn(piece) or "…", blocks or None)
                return
            except SlackApiError as exc:
                too_long = slack_error(exc) in {"msg_too_long", "invalid_blocks"}
                if not too_long or self._limit <= MIN_MESSAGE_LIMIT:
                    raise
                self._limit = max(MIN_MESSAGE_LIMIT, self._limit // 2)

    async def _show(self, i: int, text: str, blocks: list[dict[str, Any]] | None) -> None:
        if i < len(self._messages):
            if self._shown[i] != (text, blocks):
                await self._thread.update(self._messages[i], text, blocks)
                self._shown[i] = (text, blocks)
            return
        ts = self._thread.take_placeholder()
        if ts is None:
            ts = await self._thread.post(text, blocks)
        else:
            await self._thread.update(ts, text, blocks)
        self._messages.append(ts)
        self._shown.append((text, blocks))


class SlackReply:
    """Writes one answer into its thread: `announce` at once, then `write` the core's events."""

    def __init__(
        self,
        client: AsyncWebClient,
        place: Place,
        *,
        streaming: bool = True,
        update_interval: float = 1.0,
        stream_interval: float = 0.25,
        message_limit: int = MESSAGE_LIMIT,
        stream_limit: int = STREAM_LIMIT,
        stop_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        unavailable: Unavailable | None = None,
    ) -> None:
        self._thread = Thread(client, place, unavailable)
        self._clock = clock
        self._update_interval = update_interval
        self._message_limit = message_limit
        self.draft = ReplyDraft(refresh_every_s=stream_interval if streaming else update_interval)
        self._writer: Writer = (
            StreamWriter(self._thread, stream_limit=stream_limit)
            if streaming
            else EditWriter(self._thread, message_limit=message_limit)
        )
        self._status_shown: str | None = None  # the assistant status set last
        self._status_refused = False  # Slack shows no assistant status in this thread
        self._stop_button: str | None = None  # ts of our Stop message, while it stands
        # Where Slack has no session, our Stop goes up once an answer has taken this long:
        # most answers are done sooner, and a button that flashes by is only noise.
        self._stop_after_s = stop_after_s
        self._stop_timer: asyncio.Task[None] | None = None
        self._posting_stop = False
        self._opening: asyncio.Future[None] | None = None  # `begin` under way

    async def announce(self) -> None:
        """Shows the thinking status at once, before the core has looked anything up.

        Under a burst the answer's first database writes queue behind SQLite's single writer
        (bench/burst.py measured the event claim alone at p95 0.6 s for 50 mentions at once),
        so the answerer calls this alongside them rather than waiting for the core's first
        Status. Only the thread status, never a placeholder message: this runs before the
        event is claimed, and a re-delivery that loses the claim must leave no message behind.
        """
        if await self._thread.set_status(FIRST_STATUS, LOADING_MESSAGES):
            self._status_shown = FIRST_STATUS
        else:
            self._status_refused = True  # the core's Status posts the placeholder instead

    def begin(self, title: str | None, *, titled_thread: bool) -> None:
        """Once the question is this worker's: opens the thread's agent session (Slack's own
        Stop), named `title`; where there is none, titles an assistant thread (when
        `titled_thread`) and our own Stop goes up if the answer is still running after a moment.

        Started here and finished by `write` before it shows anything but the first status:
        the core looks the asker up and admits the question while Slack opens the session
        (under a burst that call took 60 ms at the median, all on the way to the model)."""
        self._opening = asyncio.ensure_future(self._open(title, titled_thread))

    async def _open(self, title: str | None, titled_thread: bool) -> None:
        if await self._thread.open_session(title):
            return
        self._stop_timer = asyncio.create_task(self._offer_stop_later())
        if title and titled_thread:
            await self._thread.set_title(title)

    async def _opened(self) -> None:
        opening, self._opening = self._opening, None
        if opening is not None:
            await opening  # its failure is the answer's, as when it was awaited in turn

    async def write(self, events: AsyncIterator[ReplyEvent]) -> ReplyDraft:
        """Shows every event of the core's answer; returns the finished draft. However it
        ends, the session leaves `processing` and our Stop message goes."""
        try:
            async for event in events:
                if not isinstance(event, Status) or event.step is not None:
                    await self._opened()  # the first "Thinking…" needs no session: shown at once
                change = self.draft.add(event)
                started = event.step if isinstance(event, Status) else None
                await self._show(self.draft, change, started)
            return self.draft
        finally:
            await self._wind_up()

    async def _wind_up(self) -> None:
        if self._opening is not None:  # the answer ended before its first event
            opening, self._opening = self._opening, None
            await asyncio.wait({opening})  # a session is closed only once it was opened
            if not opening.cancelled() and opening.exception() is not None:
                log.info("could not open the thread's session: %s", opening.exception())
        if self._stop_timer is not None:
            if not self._posting_stop:
                self._stop_timer.cancel()
            await asyncio.wait({self._stop_timer})
        with contextlib.suppress(SlackApiError):
            await self._thread.close_session()
        if self._stop_button is not None:
            ts, self._stop_button = self._stop_button, None
            try:
                await self._thread.client.chat_delete(channel=self._thread.place.channel, ts=ts)
            except SlackApiError as exc:
                log.info("could not remove the Stop button (%s)", slack_error(exc))

    async def _show(self, draft: ReplyDraft, change: Change, started: str | None = None) -> None:
        try:
            await self._apply(draft, change, started, force=False)
        except StreamRefused:
            assert isinstance(self._writer, StreamWriter)
            self._writer = EditWriter(
                self._thread, after=self._writer.shown, message_limit=self._message_limit
            )
            draft.refresh_every_s = self._update_interval
            await self._apply(draft, change, started, force=True)

    async def _offer_stop_later(self) -> None:
        """Our Stop, for an answer (not a refusal) still on its way after a moment."""
        await asyncio.sleep(self._stop_after_s)
        if self.draft.done:
            return  # answered (or refused, which is quick) before a Stop was worth showing
        place = self._thread.place
        blocks = stop_blocks(f"{place.thread_ts}:{place.user}")
        self._posting_stop = True  # from here the post is finished, never cut off midway
        try:
            self._stop_button = await self._thread.post("Answering… (Stop)", blocks)
        except SlackApiError as exc:
            log.info("could not offer a Stop button (%s)", slack_error(exc))

    async def _apply(
        self, draft: ReplyDraft, change: Change, started: str | None, *, force: bool
    ) -> None:
        if started is not None:
            if isinstance(self._writer, StreamWriter) or draft.decided:
                await self._writer.started(draft, started, draft.status)
            else:
                await self._status(draft)  # the placeholder or the thread status says it
        elif change is Change.STATUS:
            await self._status(draft)
        elif change is Change.STEP:
            await self._writer.step(draft)
        elif change is Change.TEXT:
            if force or draft.refresh_due(self._clock()):
                await self._writer.text(draft)
                draft.refreshed(self._clock())
        elif draft.refused:
            # Nothing of an answer was shown: the refusal is one plain message.
            await self._thread.say(to_mrkdwn(draft.text))
        else:
            await self._writer.end(draft)

    async def _status(self, draft: ReplyDraft) -> None:
        if draft.decided:
            return  # the answer itself shows progress now
        placeholder = self._thread.placeholder
        if placeholder is not None:
            await self._thread.update(placeholder, placeholder_text(draft.status, []))
            return
        if draft.status == self._status_shown:
            return  # `announce` shows it already: one setStatus call, not two
        if not self._status_refused and await self._thread.set_status(draft.status):
            self._status_shown = draft.status
            return
        self._status_refused = True
        self._thread.placeholder = await self._thread.post(placeholder_text(draft.status, []))
