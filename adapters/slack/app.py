"""The Slack app: Bolt listeners, each acking at once and handing the work to the background.

Every listener here only translates; what to answer, refuse or count is the core's. Slack
needs an ack within 3 s, so no listener waits for the database, the model or the Web API
before acking (Bolt acks events itself before the listener runs).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import (
    is_assistant_event,
    is_other_message_sub_event_in_assistant_thread,
)
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.alerts import SlackAlertActions
from adapters.slack.answers import Answerer
from adapters.slack.events import (
    Press,
    StopRequest,
    from_mention,
    from_message,
    from_press,
    home_opened,
    identity,
    is_dm_channel,
    panel_thread,
    parse_link_args,
    session_stopped,
    split_command,
    stop_pressed,
)
from adapters.slack.people import EmailDirectory
from adapters.slack.render import (
    ASK_ACTION_PREFIX,
    FEEDBACK_ACTION,
    STOP_ACTION,
    assistant_prompts,
    home_view,
    parse_feedback,
    prompt_buttons,
)
from adapters.slack.stream import Place, Thread
from adapters.slack.web_api import SlackWebClient
from core.background import BackgroundWork
from core.models import Inbound
from core.ports import AssistantPort

log = logging.getLogger(__name__)

PROMPTS_TITLE = "Ask about your infrastructure"


def web_client(token: str, base_url: str) -> AsyncWebClient:
    """The Web API client, retrying connection errors and `ratelimited` (after Retry-After)."""
    return SlackWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


class PanelEventsOnly(AsyncMiddleware):
    """Bolt's assistant middleware, run only for the requests it can act on.

    Bolt runs an app's middleware for every request, and the assistant's tries each of its
    listeners' matchers in turn, every try building all the arguments a Bolt listener can take:
    a fifth of the endpoint's time acking a mention (cProfile). It acts only on assistant
    thread events and on message events in assistant threads, which Bolt's own predicates pick
    out here; any other request goes straight on, as it did when the assistant found nothing."""

    def __init__(self, panel: AsyncAssistant) -> None:
        self.panel = panel

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt passes it by this name
    ) -> BoltResponse | None:
        body = req.body
        if is_assistant_event(body) or is_other_message_sub_event_in_assistant_thread(body):
            return await self.panel.async_process(req=req, resp=resp, next=next)
        return await next()


class SlackBot:
    def __init__(
        self,
        *,
        service: AssistantPort,
        client: AsyncWebClient,
        signing_secret: str = "",
        writer_options: dict[str, Any] | None = None,
    ) -> None:
        self.service = service
        self.client = client
        self.tasks = BackgroundWork()
        self.people = EmailDirectory(client)
        self.answerer = Answerer(
            service=service,
            client=client,
            people=self.people,
            writer_options=writer_options,
        )
        # An explicit secret (even "") keeps Bolt from reading the environment itself.
        self.app = AsyncApp(
            client=client, signing_secret=signing_secret, name="stackdock-assistant"
        )
        self.alerts = SlackAlertActions(
            service=service, answerer=self.answerer, people=self.people, tasks=self.tasks
        )
        self._register()

    def _register(self) -> None:
        app = self.app
        # The assistant experience (`assistant_view`), for installs made before agent
        # messaging: Slack still sends them its assistant_thread_* events.
        panel = AsyncAssistant()
        panel.thread_started(self.on_thread_started)
        panel.user_message(self.on_message)
        panel.thread_context_changed(self.on_context_changed)
        app.use(PanelEventsOnly(panel))
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.event("app_home_opened")(self.on_home_opened)
        # Agent messaging (`agent_view`): the context event replaces the panel's, and the
        # session's Stop arrives as an event for the thread.
        app.event("app_context_changed")(self.on_context_changed)
        app.event("agent_session_stopped")(self.on_session_stopped)
        app.command("/stackdock")(self.on_command)
        app.action(FEEDBACK_ACTION)(self.on_feedback)
        app.action(STOP_ACTION)(self.on_stop_pressed)
        app.action(re.compile(f"^{ASK_ACTION_PREFIX}_"))(self.on_prompt_pressed)
        self.alerts.register(app)

    # ---- events (Bolt has acked them before these run) ----

    async def on_mention(self, body: dict[str, Any], context: Any) -> None:
        ask = from_mention(body, context.bot_user_id)
        if ask is not None:
            self.tasks.spawn(self.answerer.answer(ask), f"mention {ask.event_id}")

    async def on_message(self, body: dict[str, Any], context: Any) -> None:
        ask = from_message(body, context.bot_user_id)
        if ask is not None:
            work = self.answerer.answer(ask, only_if_engaged=not ask.is_dm)
            self.tasks.spawn(work, f"message {ask.event_id}")

    async def on_thread_started(self, body: dict[str, Any]) -> None:
        thread = panel_thread(body)
        if thread is not None:
            self.tasks.spawn(self._set_prompts(*thread), "thread started")

    async def on_context_changed(self) -> None:
        """Answers don't depend on what the person is looking at beside the app, so nothing is
        stored (`assistant_thread_context_changed` and `app_context_changed` alike)."""

    async def on_session_stopped(self, body: dict[str, Any]) -> None:
        request = session_stopped(body)
        if request is not None:
            self.tasks.spawn(self._stop(request, session=True), "session stopped")

    async def _stop(self, request: StopRequest, *, session: bool) -> None:
        stopped = await self.answerer.stop(
            request.team, request.user, request.channel, request.thread_ts
        )
        if stopped or not session:
            return  # the answer's own end takes the session out of processing
        # Nothing of theirs ran here: maybe on another worker (it stops within a second and
        # ends the session itself), or nowhere any more. Slack leaves a stopped session
        # `processing` until told, so it is told now; a second `active` is harmless.
        place = Place(request.channel, request.thread_ts, request.team, request.user)
        thread = Thread(self.client, place)
        thread.session = True
        await thread.close_session()

    async def on_home_opened(self, body: dict[str, Any]) -> None:
        opened = home_opened(body)
        if opened is None:
            return
        team, user, channel, tab = opened
        if tab == "messages" and channel:
            # The agent experience: no thread yet, so the prompts go on the DM itself.
            self.tasks.spawn(self._set_prompts(channel, None), "messages tab")
        elif tab == "home":
            self.tasks.spawn(self._publish_home(team, user), "home tab")

    async def _set_prompts(self, channel: str, thread_ts: str | None) -> None:
        await self.client.assistant_threads_setSuggestedPrompts(
            channel_id=channel,
            thread_ts=thread_ts,
            prompts=assistant_prompts(self.service.suggested_prompts()),
            title=PROMPTS_TITLE,
        )

    async def _publish_home(self, team: str, user: str) -> None:
        usage = await self.service.usage(await self._inbound(team, user))
        view = home_view(usage.text, self.service.suggested_prompts())
        await self.client.views_publish(user_id=user, view=view)

    async def _inbound(
        self, team: str, user: str, channel: str | None = None, *, private: bool = True
    ) -> Inbound:
        """The asker of a command that isn't a question. `private` for what only they see
        (usage); a link says where it was typed, whose binding vouches for it."""
        email = await self.people.email(team, user)
        return Inbound(
            identity=identity(team, user),
            text="",
            platform="slack",
            workspace=team,
            channel=channel,
            is_dm=private or channel is None or is_dm_channel(channel),
            email=email,
        )

    # ---- /stackdock ----

    async def on_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        sub, rest = split_command(str(body.get("text") or ""))
        team, user, channel = body.get("team_id"), body.get("user_id"), body.get("channel_id")
        if not (isinstance(team, str) and isinstance(user, str) and isinstance(channel, str)):
            await ack(text=self.service.help_text())  # not a command Slack would send
            return
        if sub == "ask" and rest:
            await ack()
            work = self.answerer.answer_posted(
                team=team, user=user, channel=channel, question=rest, respond=respond
            )
            self.tasks.spawn(work, "command ask")
        elif sub == "prompts" and (topic := self._topic(rest)) is not None:
            title = f"*Suggested questions* ({topic})"
            prompts = self.service.suggested_prompts(topic)
            await ack(text=title, blocks=prompt_buttons(prompts, title))
        elif sub == "usage":
            await ack()
            self.tasks.spawn(self._usage(team, user, channel, respond), "command usage")
        elif sub == "link" and parse_link_args(rest)[1]:
            await ack()
            self.tasks.spawn(self._link(team, user, channel, rest, respond), "command link")
        elif sub == "alerts":
            await ack()
            work = self.alerts.command(team, user, channel, rest, respond)
            self.tasks.spawn(work, "command alerts")
        elif sub == "instructions":
            await ack()
            work = self._instructions(team, user, channel, rest, respond)
            self.tasks.spawn(work, "command instructions")
        else:
            await ack(text=self.service.help_text())

    def _topic(self, text: str) -> str | None:
        """The core's topic `text` names ("default" for none); None for an unknown one."""
        if not text.strip():
            return "default"
        # The core maps aliases ("web") and unknown words; the topic whose list it gave is it.
        offered = self.service.suggested_prompts(text)
        topics = self.service.topics()
        return next((t for t in topics if self.service.suggested_prompts(t) == offered), None)

    async def _usage(self, team: str, user: str, channel: str, respond: Any) -> None:
        view = await self.service.usage(await self._inbound(team, user, channel))
        await respond(text=view.text, response_type="ephemeral")
        if view.chart_png:
            # The org's figures are for its admins only: the chart goes to the asker's DM,
            # never to the channel the command was typed in.
            dm = await self.client.conversations_open(users=user)
            await self.client.files_upload_v2(
                channel=dm["channel"]["id"],
                content=view.chart_png,
                filename=view.chart_name,
                title="StackDock Assistant usage this month",
            )

    async def _link(self, team: str, user: str, channel: str, rest: str, respond: Any) -> None:
        target, user_ref = parse_link_args(rest)
        inbound = await self._inbound(team, user, channel, private=False)
        text = await self.service.link(inbound, target, user_ref or "")
        await respond(text=text, response_type="ephemeral")

    async def _instructions(
        self, team: str, user: str, channel: str, rest: str, respond: Any
    ) -> None:
        # Shown, set or cleared for the channel it was typed in; who may is the core's rule.
        inbound = await self._inbound(team, user, channel, private=False)
        text = await self.service.instructions(inbound, rest)
        await respond(text=text, response_type="ephemeral")

    # ---- buttons ----

    async def on_feedback(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        press = from_press(body)
        parsed = parse_feedback(press.value) if press is not None else None
        if press is not None and parsed is not None:
            self.tasks.spawn(self._feedback(press, *parsed), "feedback")

    async def _feedback(self, press: Press, audit_id: int, value: int) -> None:
        rater = await self._inbound(press.team, press.user, press.channel)
        if not await self.service.feedback(audit_id, rater, value):
            log.info("feedback from %s on audit row %s was not stored", rater.identity, audit_id)

    async def on_stop_pressed(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        press = from_press(body)
        found = stop_pressed(press) if press is not None else None
        if found is None:
            return
        request, asker = found
        if request.user != asker:
            # Only the asker may stop an answer; the core would refuse anyone else anyway.
            await respond(
                text=f"Only <@{asker}> can stop this answer.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        self.tasks.spawn(self._stop(request, session=False), "stop pressed")

    async def on_prompt_pressed(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        press = from_press(body)
        if press is not None and press.value:
            self.tasks.spawn(self._ask_pressed(press, respond), "prompt pressed")

    async def _ask_pressed(self, press: Press, respond: Any) -> None:
        channel = press.channel
        if channel is None:  # pressed on the App Home tab: answer in the person's DM
            opened = await self.client.conversations_open(users=press.user)
            channel = str(opened["channel"]["id"])
        await self.answerer.answer_posted(
            team=press.team,
            user=press.user,
            channel=channel,
            question=press.value,
            thread_ts=press.thread_ts,
            respond=respond if press.private_reply else None,
        )
