"""Writes one answer into a Slack thread as the core streams it.

First a visible "thinking" state (`assistant.threads.setStatus`, else a placeholder message),
then the text through Slack's streaming API (`chat.startStream` / `appendStream` /
`stopStream`). When streaming is refused, the writer falls back to one message updated with
`chat.update` at most once per `update_interval`. Past Slack's limits, or on `msg_too_long`,
it continues in a new message of the same thread; text already shown is never sent again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import (
    FENCE,
    MESSAGE_LIMIT,
    STREAM_LIMIT,
    answer_blocks,
    balance_fences,
    feedback_block,
    open_fence_at_end,
    placeholder_text,
    split_markdown,
    to_mrkdwn,
)
from core.models import ErrorReply, Final, ReplyEvent, Status, TextDelta, ToolStep

log = logging.getLogger(__name__)

APPEND_LIMIT = 4000  # per appendStream call; Slack takes 12,000, smaller calls look smoother
MIN_MESSAGE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Place:
    """Where an answer goes: a thread, and whom it is for (streams in channels need both)."""

    channel: str
    thread_ts: str
    team: str
    user: str


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`msg_too_long`, `ratelimited`…), or the HTTP status if none."""
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error", "unknown"))
    return f"http_{getattr(exc.response, 'status_code', 'error')}"


class ReplyWriter:
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.place = place
        self.streaming = streaming
        self.update_interval = update_interval
        self.stream_interval = stream_interval
        self.message_limit = message_limit
        self.stream_limit = stream_limit
        self.clock = clock
        self.text = ""  # the whole answer so far, as the core's Markdown
        self.steps: list[str] = []
        self.status = "Thinking…"
        self.placeholder_ts: str | None = None  # a message showing "thinking", reused later
        self.status_shown: str | None = None  # the thread status set last (by `announce` too)
        self.status_refused = False  # `announce` found no assistant status here
        self.sent = 0  # chars of self.text already shown in finished or current messages
        self.stream_ts: str | None = None
        self.stream_chars = 0
        self.current_ts: str | None = None  # the fallback message being updated
        self.last_flush = float("-inf")
        self.messages: list[str] = []  # ts of every message the answer used

    async def write(self, events: AsyncIterator[ReplyEvent]) -> ReplyEvent | None:
        """Consumes the core's events; returns the last one (a Final or an ErrorReply)."""
        last: ReplyEvent | None = None
        async for event in events:
            last = event
            if isinstance(event, Status):
                await self._show_status(event.text)
            elif isinstance(event, ToolStep):
                await self._step(event)
            elif isinstance(event, TextDelta):
                self.text += event.text
                await self._flush(final=False)
            elif isinstance(event, Final):
                if not self.text:
                    self.text = event.text  # a provider that does not stream
                await self._flush(final=True, audit_id=event.audit_id)
            elif isinstance(event, ErrorReply):
                await self._error(event)
        return last

    # ---- thinking ----

    async def announce(self) -> None:
        """Shows the thinking status at once, before the core has looked anything up.

        Under a burst the answer's first database writes queue behind SQLite's single writer
        (bench/burst.py measured the event claim alone at p95 0.6 s for 50 mentions at once),
        so the answerer calls this alongside them rather than waiting for the core's first
        Status. Only the thread status, never a placeholder message: this runs before the
        event is claimed, and a re-delivery that loses the claim must leave no message behind.
        """
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=self.place.channel, thread_ts=self.place.thread_ts, status=self.status
            )
            self.status_shown = self.status
        except SlackApiError as exc:
            self.status_refused = True  # the core's Status will post the placeholder instead
            log.info("no assistant status here (%s)", slack_error(exc))

    async def _show_status(self, status: str) -> None:
        self.status = status
        if self.placeholder_ts is None:
            if status == self.status_shown:
                return  # `announce` shows it already: one setStatus call, not two
            if not self.status_refused:
                try:
                    await self.client.assistant_threads_setStatus(
                        channel_id=self.place.channel, thread_ts=self.place.thread_ts, status=status
                    )
                    self.status_shown = status
                    return
                except SlackApiError as exc:
                    log.info(
                        "no assistant status here (%s); posting a placeholder", slack_error(exc)
                    )
            self.placeholder_ts = await self._post(placeholder_text(status, self.steps))
        else:
            await self._update(self.placeholder_ts, placeholder_text(status, self.steps))

    async def _step(self, step: ToolStep) -> None:
        self.steps.append(step.summary)
        if self.streaming:
            chunk = {
                "type": "task_update",
                "id": f"step{len(self.steps)}",
                "title": step.summary[:200],
                "status": "error" if step.is_error else "complete",
            }
            await self._stream(self.text[self.sent :], [chunk])
            return
        if self.current_ts is None and self.placeholder_ts is not None:
            await self._update(self.placeholder_ts, placeholder_text(self.status, self.steps))
        elif self.current_ts is None:
            await self._try_status(step.summary)

    async def _try_status(self, status: str) -> None:
        with contextlib.suppress(SlackApiError):  # the status is decoration; the answer comes
            await self.client.assistant_threads_setStatus(
                channel_id=self.place.channel, thread_ts=self.place.thread_ts, status=status
            )

    # ---- the answer ----

    async def _flush(self, *, final: bool, audit_id: int | None = None) -> None:
        if self.streaming:
            due = self.clock() - self.last_flush >= self.stream_interval
            pending = self.text[self.sent :]
            if final or (pending and (due or len(pending) >= APPEND_LIMIT)):
                await self._stream(pending, [])
            if final and self.streaming:
                await self._stop_stream(audit_id)
                return
        if not self.streaming:
            await self._refresh(final=final, audit_id=audit_id)

    async def _stream(self, pending: str, chunks: list[dict[str, Any]]) -> None:
        """Sends `pending` (and chunks) to the open stream; falls back if Slack refuses."""
        try:
            pieces = split_markdown(pending, APPEND_LIMIT) if pending else [""]
            for i, piece in enumerate(pieces):
                await self._send_stream(piece, chunks if i == len(pieces) - 1 else [])
            self.last_flush = self.clock()
        except SlackApiError as exc:
            log.warning("streaming refused (%s); updating a message instead", slack_error(exc))
            await self._abandon_stream()

    async def _send_stream(self, piece: str, chunks: list[dict[str, Any]]) -> None:
        if not piece and not chunks:
            return
        if self.stream_ts and self.stream_chars + len(piece) > self.stream_limit:
            room = max(self.stream_limit - self.stream_chars, 0)
            head = split_markdown(piece, room)[0] if room else ""
            if head and len(head) < len(piece):
                await self._send_stream(head, [])
                piece = piece[len(head) :]
            await self._rotate_stream()
        try:
            await self._stream_call(piece, chunks)
        except SlackApiError as exc:
            if slack_error(exc) != "msg_too_long" or not self.stream_ts:
                raise
            if self.stream_chars == 0 and len(piece) > MIN_MESSAGE_LIMIT:
                # Even a fresh message can't take it: send it in halves.
                half = split_markdown(piece, len(piece) // 2)[0]
                await self._send_stream(half, [])
                await self._send_stream(piece[len(half) :], chunks)
                return
            self.stream_limit = max(self.stream_chars, MIN_MESSAGE_LIMIT)
            await self._rotate_stream()
            await self._send_stream(piece, chunks)
            return
        self.sent += len(piece)
        self.stream_chars += len(piece)

    async def _stream_call(self, piece: str, chunks: list[dict[str, Any]]) -> None:
        content = [*([{"type": "markdown_text", "text": piece}] if piece else []), *chunks]
        if self.stream_ts is None:
            if open_fence_at_end(self.text[: self.sent]):
                content.insert(0, {"type": "markdown_text", "text": FENCE + "\n"})
            response = await self.client.chat_startStream(
                channel=self.place.channel,
                thread_ts=self.place.thread_ts,
                recipient_team_id=self.place.team,
                recipient_user_id=self.place.user,
                task_display_mode="timeline",
                chunks=content,
            )
            self.stream_ts = str(response["ts"])
            self.stream_chars = 0
            self.messages.append(self.stream_ts)
            await self._drop_placeholder()
        else:
            await self.client.chat_appendStream(
                channel=self.place.channel, ts=self.stream_ts, chunks=content
            )

    async def _rotate_stream(self) -> None:
        """Finishes the current streamed message so that the next piece starts a new one."""
        closing = []
        if open_fence_at_end(self.text[: self.sent]):
            closing = [{"type": "markdown_text", "text": "\n" + FENCE}]
        if self.stream_ts:
            await self.client.chat_stopStream(
                channel=self.place.channel, ts=self.stream_ts, chunks=closing or None
            )
        self.stream_ts = None
        self.stream_chars = 0

    async def _stop_stream(self, audit_id: int | None) -> None:
        blocks = [feedback_block(audit_id)] if audit_id is not None else None
        try:
            if self.stream_ts is None:
                return  # nothing was ever streamed (an empty answer)
            await self.client.chat_stopStream(
                channel=self.place.channel, ts=self.stream_ts, blocks=blocks
            )
            self.stream_ts = None
        except SlackApiError as exc:
            log.warning("could not finish the stream (%s)", slack_error(exc))
            await self._abandon_stream()
            await self._refresh(final=True, audit_id=audit_id)

    async def _abandon_stream(self) -> None:
        self.streaming = False
        if self.stream_ts is not None:
            # Slack closes an abandoned stream itself after a while, so a failure here is fine.
            with contextlib.suppress(SlackApiError):
                await self.client.chat_stopStream(channel=self.place.channel, ts=self.stream_ts)
            self.stream_ts = None

    async def _drop_placeholder(self) -> None:
        if self.placeholder_ts is None:
            return
        ts, self.placeholder_ts = self.placeholder_ts, None
        try:
            await self.client.chat_delete(channel=self.place.channel, ts=ts)
        except SlackApiError as exc:
            log.info("could not remove the placeholder (%s)", slack_error(exc))

    # ---- the fallback: one message, updated ----

    async def _refresh(self, *, final: bool, audit_id: int | None = None) -> None:
        if not final and self.clock() - self.last_flush < self.update_interval:
            return
        while True:
            try:
                await self._lay_out(final, audit_id)
                break
            except SlackApiError as exc:
                if slack_error(exc) not in {"msg_too_long", "invalid_blocks"}:
                    raise
                if self.message_limit <= MIN_MESSAGE_LIMIT:
                    raise
                self.message_limit = max(MIN_MESSAGE_LIMIT, self.message_limit // 2)
        self.last_flush = self.clock()

    async def _lay_out(self, final: bool, audit_id: int | None) -> None:
        rest = self.text[self.sent :]
        if not rest and not final:
            return
        inside = open_fence_at_end(self.text[: self.sent])
        raw = split_markdown(rest, self.message_limit)
        shown = balance_fences(raw, inside=inside)
        for i, (piece, text) in enumerate(zip(raw, shown, strict=True)):
            last = i == len(raw) - 1
            mrkdwn = to_mrkdwn(text)
            if last:
                blocks = answer_blocks(mrkdwn, self.steps, audit_id) if final else None
                await self._show(mrkdwn or "…", blocks)
                if final:
                    self.sent += len(piece)
                    self.current_ts = None
            else:
                await self._show(mrkdwn, None)
                self.sent += len(piece)  # this message is complete; the rest goes below it
                self.current_ts = None

    async def _show(self, text: str, blocks: list[dict[str, Any]] | None) -> None:
        if self.current_ts is None and self.placeholder_ts is not None:
            self.current_ts, self.placeholder_ts = self.placeholder_ts, None
        if self.current_ts is None:
            self.current_ts = await self._post(text, blocks)
        else:
            await self._update(self.current_ts, text, blocks)

    async def _error(self, error: ErrorReply) -> None:
        if self.text:
            # A failure after part of the answer was shown: say so below what was shown.
            self.text += "\n\n" + error.text
            await self._flush(final=True)
            return
        text = to_mrkdwn(error.text)
        target = self.current_ts or self.placeholder_ts
        if target:
            await self._update(target, text)
        else:
            await self._post(text)

    # ---- Web API calls ----

    async def _post(self, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        response = await self.client.chat_postMessage(
            channel=self.place.channel, thread_ts=self.place.thread_ts, text=text, blocks=blocks
        )
        ts = str(response["ts"])
        self.messages.append(ts)
        return ts

    async def _update(self, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await self.client.chat_update(channel=self.place.channel, ts=ts, text=text, blocks=blocks)
