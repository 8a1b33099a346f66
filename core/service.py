"""The one driving port's implementation: everything a chat adapter may ask of the core.

Adapters translate a platform's events into these calls and the results back into messages;
every product rule (who may link whom, which thread replies are answered, what help says, what
a refusal looks like) is decided here or below, once for every platform.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, tzinfo

from core.access import allows
from core.alert_commands import AlertControls
from core.assistant import Assistant
from core.identities import chat_identity, chat_user, find_user, member_of
from core.instructions import channel_instructions
from core.limits import month_start
from core.models import Inbound, Outcome, Principal, Refusal, ReplyEvent
from core.ports import ChartRenderer
from core.prompts import HELP_TEXT, TOPICS, normalise_topic, suggested_prompts
from core.redact import scrub_text
from core.stopping import CHECK_EVERY_S, StopBoard
from core.usage import UsageView, totals, usage_report

log = logging.getLogger(__name__)


class AssistantService:
    """The driving port (`core.ports.AssistantPort`) on top of the question pipeline."""

    def __init__(
        self,
        assistant: Assistant,
        clock: Callable[[], datetime],
        charts: ChartRenderer | None = None,
        *,
        stop_check_s: float = CHECK_EVERY_S,
        alerts_tz: tzinfo = UTC,
    ) -> None:
        self._assistant = assistant
        self._alerts = AlertControls(assistant, clock, alerts_tz)
        self._charts = charts
        self._store = assistant.store
        self._mirror = assistant.mirror
        self._clock = clock
        # The answers under way in this process; a Stop for another process goes through
        # the store's markers (core/stopping.py says how, and how often they are read).
        self._stops = StopBoard(assistant.store.markers, clock, check_every_s=stop_check_s)

    # ---- questions ----

    def answer(self, inbound: Inbound) -> AsyncGenerator[ReplyEvent, None]:
        """The answer as a stream of events; the last is a Final or an ErrorReply."""
        return self._answering(inbound)

    async def _answering(self, inbound: Inbound) -> AsyncGenerator[ReplyEvent, None]:
        signal = self._stops.open(inbound.conversation_key, inbound.identity)
        try:
            async with contextlib.aclosing(self._assistant.handle(inbound, signal)) as events:
                async for event in events:
                    yield event
        finally:
            self._stops.close(signal)

    async def stop(self, conversation_key: str, identity: str) -> bool:
        """Stops the answers `identity` asked in this conversation that are under way: the
        model call is cancelled, what was shown stays, followed by "Stopped.", and each
        question's row is written with result `cancelled`. Only the asker can stop an answer.

        True when one was under way in this process. Otherwise False, and the Stop is left in
        the store for the answer another worker may be writing (it looks about once a second).
        """
        try:
            return await self._stops.stop(conversation_key, identity)
        except Exception:
            log.warning("could not leave a Stop for %s", conversation_key, exc_info=True)
            return False

    async def resolve(self, inbound: Inbound) -> Principal | Refusal:
        """The asker's Principal, or why they can't ask (before anything is shown for them)."""
        return await self._assistant.resolve(inbound)

    async def engaged(self, conversation_key: str) -> bool:
        """Whether the bot holds a conversation in this thread: its later replies are answered
        without a mention; any other thread is left to the people in it.

        False when the store can't say (it is down): answering "unavailable" to every reply
        in every thread of a busy channel would be worse than the silence of one thread, and a
        mention or a DM still gets its "temporarily unavailable" reply."""
        try:
            return bool(await self._store.conversations.history(conversation_key, 1))
        except Exception:
            log.warning("could not read thread %s; leaving its replies alone", conversation_key)
            return False

    async def claim_event(self, event_id: str) -> bool:
        """True the first time an event id is seen by any worker sharing the store.

        Also True when the store can't say (it is down): the question then goes on to the
        pipeline, which gives the person the "temporarily unavailable" reply and spools its
        audit row. A possible second answer to a re-delivery is the lesser harm than a person
        left on "Thinking…" with no trace of their question."""
        try:
            return await self._store.events.claim(event_id, self._clock())
        except Exception:
            log.warning("could not claim event %s; answering it unclaimed", event_id, exc_info=True)
            return True

    # ---- words ----

    @staticmethod
    def help_text() -> str:
        return HELP_TEXT

    @staticmethod
    def topics() -> tuple[str, ...]:
        return TOPICS

    @staticmethod
    def suggested_prompts(topic: str | None = None) -> list[str]:
        return suggested_prompts(normalise_topic(topic))

    @staticmethod
    def echo(text: str) -> str:
        """What may be shown of a person's words on their behalf (a question posted back to a
        channel): collapsed to one line, so it cannot pose as the bot's own text, and scrubbed
        with the one scrubber, so a pasted secret is never repeated to everyone."""
        return scrub_text(" ".join(text.split()))

    # ---- commands ----

    async def feedback(self, audit_id: int, inbound: Inbound, value: int) -> bool:
        """Rates an answer; only the person who asked the question may rate it."""
        if not 0 < audit_id < 2**63:  # a forged id must not reach the database as an overflow
            return False
        asker = await self._store.audit.asker(audit_id)
        if asker is None or asker != inbound.identity:
            log.info("feedback on audit row %s refused for %s", audit_id, inbound.identity)
            return False
        return await self._store.audit.set_feedback(
            audit_id, inbound.identity, 1 if value > 0 else -1
        )

    async def usage(self, inbound: Inbound) -> UsageView:
        principal = await self._assistant.resolve(inbound)
        if isinstance(principal, Refusal):
            return UsageView(principal.text, None, None, None)
        now = self._clock()
        since = month_start(now)
        own = await totals(self._store, principal.org_id, since, principal.user_id)
        lines = [f"**Your usage this month** ({principal.org_name}): {own.line()}"]
        org = None
        if allows(principal.permissions, "ai:full"):
            org = await totals(self._store, principal.org_id, since)
            lines.append(f"**{principal.org_name} this month**: {org.line()}")
            budget = self._assistant.limits.policy.budget_for(principal.org_id)
            if budget is not None:
                used = org.cost_usd / budget if budget else 0
                lines.append(f"Monthly budget: ${budget:.2f} ({used:.0%} used)")
            chart = await self._org_chart(principal, since, now)
            return UsageView("\n".join(lines), own, org, principal.org_id, chart)
        return UsageView("\n".join(lines), own, org, principal.org_id)

    async def _org_chart(
        self, principal: Principal, since: datetime, now: datetime
    ) -> bytes | None:
        if self._charts is None:
            return None
        report = await usage_report(self._store, since, now, principal.org_id)
        title = f"{principal.org_name}: AI questions and cost, {since:%B %Y}"
        try:
            return await self._charts.usage_chart(report, title)
        except Exception:
            # The numbers are in the text already; a chart that fails to draw costs only itself.
            log.exception("could not draw the usage chart of org %s", principal.org_id)
            return None

    async def instructions(self, inbound: Inbound, text: str) -> str:
        """Shows, sets or clears the instructions of the channel the command came from
        (core/instructions.py has the rules); audited."""
        return await channel_instructions(self._assistant, inbound, text)

    async def alerts(self, inbound: Inbound, text: str) -> str:
        """`alerts [on [severity]|off]` for the channel the command came from."""
        return await self._alerts.command(inbound, text)

    async def mute_alert(self, inbound: Inbound, ref: str) -> str:
        return await self._alerts.mute(inbound, ref)

    async def alert_question(self, inbound: Inbound, ref: str) -> str | None:
        return await self._alerts.question(inbound, ref)

    async def link(self, inbound: Inbound, target_user: str | None, user_ref: str) -> str:
        """Links a chat member (`target_user`, a platform user id; None for the asker) of the
        workspace the command came from to a StackDock user of the org bound to that place.

        Only an `ai:full` member may link, never from a DM (no binding vouches for a DM), and
        never across orgs: the user must belong to the bound org, and a member already linked
        to someone outside it (or the asker themselves) is left for an operator to change.
        Every attempt is audited.
        """
        text, outcome, reason = await self._link(inbound, target_user, user_ref)
        await self._assistant.record_action(
            inbound,
            action="ai.link",
            result=outcome,
            reason=reason,
            answer=text,
            metadata={
                "target": self._target(inbound, target_user),
                "user_ref": scrub_text(user_ref)[:200],
            },
        )
        return text

    async def _linked_elsewhere(self, target: str, org_id: str) -> bool:
        """Whether the person is linked for another org, or to a user outside this one.

        On Discord one user id is the same person in every server (and their DMs follow their
        server links), so their links in other servers count too: an admin here must not be
        able to relink, or make ambiguous, someone another org vouched for.
        """
        same_person = [target]
        discord_user = chat_user(target, "discord")
        if discord_user is not None:
            same_person = [
                identity
                for identity, *_ in await self._store.links.all_vouched()
                if chat_user(identity, "discord") == discord_user
            ]
            same_person.append(target)
        for identity in dict.fromkeys(same_person):
            current = await self._store.links.vouched(identity)
            if current is None:
                continue
            ref, vouched_by = current
            linked = find_user(self._mirror, ref)
            if vouched_by not in (None, org_id):
                return True
            if linked is None or not member_of(self._mirror, str(linked["_id"]), org_id):
                return True
        return False

    def _target(self, inbound: Inbound, target_user: str | None) -> str | None:
        if target_user is None or inbound.platform not in {"slack", "discord"}:
            return None
        return chat_identity(inbound.platform, inbound.workspace, target_user)

    async def _link(
        self, inbound: Inbound, target_user: str | None, user_ref: str
    ) -> tuple[str, Outcome, str | None]:
        denied = Outcome.DENIED
        if inbound.is_dm or not inbound.workspace:
            return (
                "Linking is done in a channel of your workspace or server, where its binding "
                "says which StackDock organisation vouches for it. In DMs an operator runs "
                "`stackdock-assistant link`.",
                denied,
                "link_in_dm",
            )
        principal = await self._assistant.resolve(inbound)
        if isinstance(principal, Refusal):
            return principal.text, principal.outcome, principal.reason
        binding = await self._assistant.identity.binding_for(inbound)
        if binding is None or binding.org_id != principal.org_id:
            return (
                "This channel isn't connected to your StackDock organisation, so I can't link "
                "anyone here.",
                denied,
                "unbound_channel",
            )
        if not allows(principal.permissions, "ai:full"):
            return (
                f"Linking people needs ai:full; your role ({principal.role_name}) doesn't have "
                "it. Ask an org admin.",
                denied,
                "denied",
            )
        target = self._target(inbound, target_user)
        if target is None:
            return "Say who to link: `link @person their-stackdock-email`.", denied, "bad_link"
        if target == inbound.identity:
            return (
                "You can't re-link yourself; ask another admin or an operator.",
                denied,
                "link_self",
            )
        user = find_user(self._mirror, user_ref)
        if user is None or not member_of(self._mirror, str(user["_id"]), principal.org_id):
            return f"No member of {principal.org_name} matches that user.", denied, "no_such_member"
        if await self._linked_elsewhere(target, principal.org_id):
            return (
                "That member is already linked to someone outside "
                f"{principal.org_name}; an operator must change it.",
                denied,
                "linked_elsewhere",
            )
        await self._store.links.set(target, str(user["_id"]), principal.org_id)
        self._assistant.identity.forget(target)
        name = user.get("name") or user.get("email")
        return f"Linked {target} to {name}.", Outcome.ANSWERED, None
