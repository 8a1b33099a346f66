"""What people do with alerts in chat: `alerts on [severity]` / `alerts off` in a channel, and
the Explain and Mute 24 h buttons on an alert. Every change is audited with its org."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from core.access import allows
from core.alert_messages import at, explain_question
from core.alert_model import DEFAULT_SEVERITY, MUTE_FOR, SEVERITIES, Outgoing, Posted, Subscription
from core.alerts import audit_row, subscribe
from core.metrics import ALERTS_MUTED
from core.models import Inbound, Outcome, Principal, Refusal

if TYPE_CHECKING:
    from core.assistant import Assistant

USAGE = "`/stackdock alerts on [critical|high|medium|low]`, `/stackdock alerts off`"
_MAX_REF = 2**63


def _here(inbound: Inbound) -> str | None:
    if inbound.is_dm or not inbound.workspace or not inbound.channel:
        return None
    return f"{inbound.platform}:{inbound.workspace}:{inbound.channel}"


class AlertControls:
    def __init__(self, assistant: Assistant, clock: Callable[[], datetime], tz: tzinfo) -> None:
        self._assistant = assistant
        self._store = assistant.store
        self._clock = clock
        self._tz = tz

    async def _member(self, inbound: Inbound) -> Principal | str:
        """The person, in a channel bound to their org; else what to tell them."""
        principal = await self._assistant.resolve(inbound)
        if isinstance(principal, Refusal):
            return principal.text
        binding = await self._assistant.identity.binding_for(inbound)
        if binding is None or binding.org_id != principal.org_id:
            return "This channel isn't connected to your StackDock organisation."
        return principal

    async def command(self, inbound: Inbound, text: str) -> str:
        """`alerts` (status), `alerts on [severity]`, `alerts off`; the reply to show."""
        here = _here(inbound)
        if here is None:
            return f"Alerts are posted in channels: use {USAGE} in a channel of your organisation."
        member = await self._member(inbound)
        if isinstance(member, str):
            return member
        words = text.lower().split()
        verb = words[0] if words else ""
        current = await self._store.alerts.subscription(here)
        if verb not in ("on", "off"):
            if current is None:
                return f"Alerts are off in this channel. An admin can turn them on: {USAGE}."
            digest = f", with a daily digest at {current.digest_at}" if current.digest_at else ""
            return f"Alerts are on here for {current.min_severity} and above{digest}."
        if not allows(member.permissions, "ai:full"):
            await self._audit(inbound, member, f"alert.{verb}", Outcome.DENIED, "denied")
            return (
                f"Turning alerts {verb} needs ai:full; your role ({member.role_name}) "
                "doesn't have it. Ask an org admin."
            )
        if verb == "off":
            audit = audit_row(
                here, member.org_id, "alert.unsubscribed", self._clock(), identity=inbound.identity
            )
            removed = await self._store.alerts.unsubscribe(here, audit)
            return "Alerts are off in this channel." if removed else "Alerts were not on here."
        severity = words[1] if len(words) > 1 else DEFAULT_SEVERITY
        if severity not in SEVERITIES or len(words) > 2:
            return f"Say which severity and above to hear about: {USAGE}."
        subscription = Subscription(
            here,
            member.org_id,
            severity,
            current.digest_at if current else None,
            self._clock(),
            inbound.identity,
        )
        count = await subscribe(
            self._store,
            self._assistant.mirror,
            subscription,
            now=self._clock(),
            by=inbound.identity,
        )
        return f"Alerts are on here for {severity} and above; {count} open now."

    async def _audit(
        self, inbound: Inbound, member: Principal, action: str, result: Outcome, reason: str
    ) -> None:
        here = _here(inbound)
        if here is None:
            return
        record = audit_row(
            here, member.org_id, action, self._clock(), identity=inbound.identity, result=result
        )
        record.reason = reason
        record.user_id = member.user_id
        await self._store.audit.append(record)

    async def _alert_here(self, inbound: Inbound, ref: str) -> Posted | None:
        """The alert message a button names, when it was posted where it was pressed."""
        here = _here(inbound)
        if here is None or not ref.isdigit() or not 0 < int(ref) < _MAX_REF:
            return None
        posted = await self._store.alerts.posted(int(ref))
        if posted is None or not posted.alerts or posted.alerts[0].target != here:
            return None
        return posted

    async def mute(self, inbound: Inbound, ref: str) -> str:
        """Mute 24 h: no more messages about the alert's problems in this channel for a day."""
        posted = await self._alert_here(inbound, ref)
        if posted is None:
            return "I no longer track that alert here."
        member = await self._member(inbound)
        if isinstance(member, str):
            return member
        target = posted.alerts[0].target
        now = self._clock()
        if not allows(member.permissions, "ai:full") or member.org_id != posted.alerts[0].org_id:
            await self._audit(inbound, member, "alert.muted", Outcome.DENIED, "denied")
            return f"Muting alerts needs ai:full; your role ({member.role_name}) doesn't have it."
        until = now + MUTE_FOR
        update = Outgoing(
            target,
            "update",
            f"mute:{ref}:{now.isoformat()}",
            "alert.muted",
            posted.alerts[0].id,
        )
        audit = audit_row(
            target,
            member.org_id,
            "alert.muted",
            now,
            identity=inbound.identity,
            metadata={"alerts": [a.problem_key for a in posted.alerts][:50], "until": str(until)},
        )
        audit.user_id = member.user_id
        await self._store.alerts.mute(int(ref), until, member.user_name, update, audit)
        ALERTS_MUTED.inc()
        return f"Muted: no more messages about this here until {at(until, self._tz)}."

    async def question(self, inbound: Inbound, ref: str) -> str | None:
        """What Explain asks for the presser; None when the button names no alert here."""
        posted = await self._alert_here(inbound, ref)
        if posted is None:
            return None
        binding = await self._assistant.identity.binding_for(inbound)
        show = binding is not None and binding.allow_detail
        return explain_question(posted.alerts, show_detail=show, tz=self._tz)
