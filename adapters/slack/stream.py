"""One Slack thread's Web API calls, and the streaming writer of an answer.

The writer streams the answer's text through `chat.startStream` / `appendStream` /
`stopStream`, and the tool steps as task updates of the stream: `in_progress` when a tool
starts, then `complete` or `error` with what it found. Past a streamed message's
limit, or on `msg_too_long`, it finishes that message and goes on in a new one of the same
thread; text already shown is never sent again. When Slack refuses to stream at all it raises
`StreamRefused`, and `adapters/slack/reply.py` carries on with the edit-a-message writer from
where the stream stopped.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import (
    CLOSE_FENCE,
    STREAM_LIMIT,
    clean_prefix,
    feedback_block,
    task_chunk,
)
from core.replies import ReplyDraft, open_fence_at

log = logging.getLogger(__name__)

APPEND_LIMIT = 4000  # per appendStream call; Slack takes 12,000, smaller calls look smoother
MIN_MESSAGE_LIMIT = 200
PROCESSING, ACTIVE = "processing", "active"  # agent session statuses
SESSIONS_METHOD = "agents.sessions.setStatus"
# Refusals that are the install's, not the thread's: the app is not on agent messaging, the
# method or its scope is not there for this token, or not for this kind of conversation.
INSTALL_REFUSALS = frozenset(
    {
        "not_allowed",
        "unknown_method",
        "missing_scope",
        "not_allowed_token_type",
        "method_not_supported_for_channel_type",
    }
)


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


def is_dm_channel(channel: str) -> bool:
    # IM channel ids start with D; G is a private channel or group DM, which are shared.
    return channel.startswith("D")


class Unavailable:
    """Methods Slack refused to an install for a reason that is the install's own
    (`INSTALL_REFUSALS`), per workspace and kind of conversation (DM or channel): an answer
    there does not ask again, for `ttl_s`. An app still on the assistant experience is refused
    an agent session on every answer otherwise: a Web API call per answer known to fail. After
    `ttl_s` the next answer asks again, so an app moved to agent messaging (or given a scope)
    gets its sessions back within minutes. At most `kept` entries, the oldest forgotten first.
    """

    def __init__(
        self,
        *,
        ttl_s: float = 600.0,
        kept: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._kept = kept
        self._clock = clock
        self._until: dict[tuple[str, str, bool], float] = {}

    @staticmethod
    def _key(method: str, place: Place) -> tuple[str, str, bool]:
        return method, place.team, is_dm_channel(place.channel)

    def known(self, method: str, place: Place) -> bool:
        """Whether Slack refused `method` here within the last `ttl_s`."""
        key = self._key(method, place)
        until = self._until.get(key)
        if until is None:
            return False
        if until > self._clock():
            return True
        del self._until[key]
        return False

    def note(self, method: str, place: Place, error: str) -> bool:
        """Remembers a refusal if it is the install's; True when it was."""
        if error not in INSTALL_REFUSALS:
            return False
        key = self._key(method, place)
        self._until.pop(key, None)  # to the end: the dict's order is the order they were noted
        self._until[key] = self._clock() + self._ttl_s
        if len(self._until) > self._kept:
            del self._until[next(iter(self._until))]
        return True


class Thread:
    """The calls every writer makes in one thread, and the "thinking" placeholder message
    (posted where no assistant status can be shown) that the answer replaces."""

    def __init__(
        self, client: AsyncWebClient, place: Place, unavailable: Unavailable | None = None
    ) -> None:
        self.client = client
        self.place = place
        # Shared by the answers of a process: what Slack refused to their installs.
        self.unavailable = unavailable if unavailable is not None else Unavailable()
        self.placeholder: str | None = None  # ts of the placeholder message, while it stands
        # An agent session is `processing` here: Slack shows its own Stop button until the
        # session is set back to active (a stopped stream does that by itself).
        self.session = False

    async def set_status(self, status: str, loading: Sequence[str] = ()) -> bool:
        """Shows `status` as the thread's assistant status, with `loading` rotating under it;
        False where Slack has none."""
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=self.place.channel,
                thread_ts=self.place.thread_ts,
                status=status,
                loading_messages=list(loading) or None,
            )
            return True
        except SlackApiError as exc:
            log.info("no assistant status here (%s)", slack_error(exc))
            return False

    async def open_session(self, title: str | None) -> bool:
        """Marks the agent session of this thread `processing`, which gives the person
        Slack's own Stop (the `agent_session_stopped` event). False where Slack offers no
        session: an app still on the assistant experience, or an agent session refused (and
        then, for a refusal that is the install's, not asked again for a while: `Unavailable`)."""
        if self.unavailable.known(SESSIONS_METHOD, self.place):
            return False
        try:
            await self.client.agents_sessions_setStatus(
                channel_id=self.place.channel,
                thread_ts=self.place.thread_ts,
                status=PROCESSING,
                title=title,
                initiator_user_id=self.place.user,
            )
        except SlackApiError as exc:
            error = slack_error(exc)
            if self.unavailable.note(SESSIONS_METHOD, self.place, error):
                log.info("no agent sessions in %s (%s) for a while", self.place.team, error)
            else:
                log.info("no agent session here (%s)", error)
            return False
        self.session = True
        return True

    async def close_session(self) -> None:
        """Takes the session out of `processing` (Slack won't by itself, even after a Stop)."""
        if not self.session:
            return
        self.session = False
        try:
            await self.client.agents_sessions_setStatus(
                channel_id=self.place.channel, thread_ts=self.place.thread_ts, status=ACTIVE
            )
        except SlackApiError as exc:
            log.warning("could not end the agent session (%s)", slack_error(exc))

    async def set_title(self, title: str) -> None:
        """The title of an assistant thread (the experience before agent sessions)."""
        try:
            await self.client.assistant_threads_setTitle(
                channel_id=self.place.channel, thread_ts=self.place.thread_ts, title=title
            )
        except SlackApiError as exc:
            log.info("no thread title here (%s)", slack_error(exc))

    def session_status(self, *, final: bool) -> str | None:
        """What a stopped stream leaves the session as: still processing mid-answer (the
        Stop must stay), active at the end. None: no session, nothing to say."""
        if not self.session:
            return None
        if final:
            self.session = False
            return ACTIVE
        return PROCESSING

    async def post(self, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        response = await self.client.chat_postMessage(
            channel=self.place.channel, thread_ts=self.place.thread_ts, text=text, blocks=blocks
        )
        return str(response["ts"])

    async def update(self, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await self.client.chat_update(channel=self.place.channel, ts=ts, text=text, blocks=blocks)

    async def say(self, text: str) -> None:
        """A plain message in the thread, in place of the placeholder if one stands."""
        ts = self.take_placeholder()
        if ts is None:
            await self.post(text)
        else:
            await self.update(ts, text)

    def take_placeholder(self) -> str | None:
        """The placeholder message, handed over to become part of the answer."""
        ts, self.placeholder = self.placeholder, None
        return ts

    async def drop_placeholder(self) -> None:
        ts = self.take_placeholder()
        if ts is None:
            return
        try:
            await self.client.chat_delete(channel=self.place.channel, ts=ts)
        except SlackApiError as exc:
            log.info("could not remove the placeholder (%s)", slack_error(exc))


def resume_at(text: str, shown: str) -> int:
    """Where `text` goes on after `shown`, the part of it already on screen. Usually `text`
    extends `shown`; an error after partial text trims its trailing blanks first, and then
    the rest goes on where the two part (what is shown stays as it is)."""
    if text.startswith(shown):
        return len(shown)
    pairs = enumerate(zip(text, shown, strict=False))
    return next((i for i, (a, b) in pairs if a != b), min(len(text), len(shown)))


class StreamRefused(Exception):
    """Slack would not stream here (or stopped mid-answer); another writer must take over."""


class StreamWriter:
    """Streams the draft's text into one or more messages of the thread."""

    def __init__(self, thread: Thread, *, stream_limit: int = STREAM_LIMIT) -> None:
        self._thread = thread
        self._limit = stream_limit
        self.shown = ""  # the draft's text as far as streamed messages hold it
        self._ts: str | None = None  # the stream open now
        self._chars = 0  # characters in it
        self.tasks = Tasks()

    async def started(self, draft: ReplyDraft, key: str, title: str) -> None:
        await self._send(
            draft.text, [task_chunk(self.tasks.start(key, title), title, "in_progress")]
        )

    async def step(self, draft: ReplyDraft) -> None:
        step = draft.steps[-1]
        task_id, title = self.tasks.finish(step.key, step.summary)
        status = "error" if step.is_error else "complete"
        await self._send(draft.text, [task_chunk(task_id, title, status, step.summary)])

    async def text(self, draft: ReplyDraft) -> None:
        await self._send(draft.text, [])

    async def end(self, draft: ReplyDraft) -> None:
        await self._send(draft.text, [])
        if self._ts is None:
            return  # nothing was ever streamed (an empty answer)
        audit_id = draft.audit_id if draft.rateable else None
        blocks = [feedback_block(audit_id)] if audit_id is not None else None
        try:
            await self._thread.client.chat_stopStream(
                channel=self._thread.place.channel,
                ts=self._ts,
                blocks=blocks,
                session_status=self._thread.session_status(final=True),
            )
            self._ts = None
        except SlackApiError as exc:
            log.warning("could not finish the stream (%s)", slack_error(exc))
            await self._abandon()
            raise StreamRefused from exc

    async def _send(self, text: str, chunks: list[dict[str, Any]]) -> None:
        """Sends what of `text` is not yet shown, with `chunks` after it."""
        try:
            while True:
                pending = text[resume_at(text, self.shown) :]
                size = clean_prefix(pending, min(APPEND_LIMIT, self._limit))
                last = size == len(pending)
                await self._put(pending[:size] if size else pending, chunks if last else [])
                if last or not size:
                    return
        except SlackApiError as exc:
            log.warning("streaming refused (%s); updating a message instead", slack_error(exc))
            await self._abandon()
            raise StreamRefused from exc

    async def _put(self, piece: str, chunks: list[dict[str, Any]]) -> None:
        if not piece and not chunks:
            return
        if self._ts and self._chars + len(piece) > self._limit:
            head = clean_prefix(piece, max(self._limit - self._chars, 0))
            if 0 < head < len(piece):
                await self._put(piece[:head], [])
                piece = piece[head:]
            await self._rotate()
        try:
            await self._call(piece, chunks)
        except SlackApiError as exc:
            if slack_error(exc) != "msg_too_long" or not self._ts:
                raise
            if self._chars == 0 and len(piece) > MIN_MESSAGE_LIMIT:
                # Even a fresh message can't take it: send it in halves.
                half = clean_prefix(piece, len(piece) // 2) or len(piece) // 2
                await self._put(piece[:half], [])
                await self._put(piece[half:], chunks)
                return
            self._limit = max(self._chars, MIN_MESSAGE_LIMIT)
            await self._rotate()
            await self._put(piece, chunks)
            return
        self.shown += piece
        self._chars += len(piece)

    async def _call(self, piece: str, chunks: list[dict[str, Any]]) -> None:
        place = self._thread.place
        content = [*([{"type": "markdown_text", "text": piece}] if piece else []), *chunks]
        if self._ts is not None:
            await self._thread.client.chat_appendStream(
                channel=place.channel, ts=self._ts, chunks=content
            )
            return
        fence = open_fence_at(self.shown)
        if fence is not None:  # the code block the last message closed goes on here
            content.insert(0, {"type": "markdown_text", "text": fence + "\n"})
        response = await self._thread.client.chat_startStream(
            channel=place.channel,
            thread_ts=place.thread_ts,
            recipient_team_id=place.team,
            recipient_user_id=place.user,
            task_display_mode="timeline",
            chunks=content,
        )
        self._ts = str(response["ts"])
        self._chars = 0
        await self._thread.drop_placeholder()

    async def _rotate(self) -> None:
        """Finishes the streamed message, so that the next piece starts a new one."""
        if self._ts:
            channel = self._thread.place.channel
            session = self._thread.session_status(final=False)
            if open_fence_at(self.shown) is None:
                await self._thread.client.chat_stopStream(
                    channel=channel, ts=self._ts, session_status=session
                )
            else:
                closing = [{"type": "markdown_text", "text": CLOSE_FENCE}]
                try:
                    await self._thread.client.chat_stopStream(
                        channel=channel, ts=self._ts, chunks=closing, session_status=session
                    )
                except SlackApiError as exc:
                    if slack_error(exc) != "msg_too_long":
                        raise
                    # A full message can't take the closing fence; Markdown ends an unclosed
                    # block with its message, so the code still shows as code.
                    await self._thread.client.chat_stopStream(
                        channel=channel, ts=self._ts, session_status=session
                    )
        self._ts = None
        self._chars = 0

    async def _abandon(self) -> None:
        if self._ts is not None:
            # Slack closes an abandoned stream itself after a while, so a failure here is fine.
            with contextlib.suppress(SlackApiError):
                await self._thread.client.chat_stopStream(
                    channel=self._thread.place.channel,
                    ts=self._ts,
                    session_status=self._thread.session_status(final=False),
                )
            self._ts = None


class Tasks:
    """The task ids of one answer's tool steps: a step's end updates the task its start
    opened (matched by the call's key); a step whose start was never shown gets its own."""

    def __init__(self) -> None:
        self._open: dict[str, list[tuple[str, str]]] = {}
        self._count = 0

    def _new(self) -> str:
        self._count += 1
        return f"task{self._count}"

    def start(self, key: str, title: str) -> str:
        task_id = self._new()
        self._open.setdefault(key, []).append((task_id, title))
        return task_id

    def finish(self, key: str, summary: str) -> tuple[str, str]:
        """(task id, title) for the step that ended."""
        waiting = self._open.get(key)
        if waiting:
            return waiting.pop(0)
        return self._new(), summary
