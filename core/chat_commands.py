"""What the chat commands do beyond asking: link, usage, feedback, and re-delivery claims.

Adapters call these; the wording is here so that Slack and Discord say the same things.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.access import allows
from core.assistant import Assistant
from core.limits import month_start
from core.models import Inbound, Principal, Refusal
from core.ports import ChartRenderer
from core.prompts import HELP_TEXT
from core.usage import UsageTotals, totals, usage_report

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UsageView:
    text: str
    own: UsageTotals | None
    org: UsageTotals | None  # only for ai:full members
    org_id: str | None
    chart_png: bytes | None = None  # the org's daily questions and cost; ai:full members only
    chart_name: str = "stackdock-usage.png"


class ChatCommands:
    def __init__(
        self,
        assistant: Assistant,
        clock: Callable[[], datetime],
        charts: ChartRenderer | None = None,
    ) -> None:
        self._assistant = assistant
        self._charts = charts
        self._store = assistant.store
        self._mirror = assistant.mirror
        self._clock = clock

    @staticmethod
    def help_text() -> str:
        return HELP_TEXT

    async def claim_event(self, event_id: str) -> bool:
        """True the first time an event id is seen by any worker sharing the store."""
        return await self._store.events.claim(event_id, self._clock())

    async def feedback(self, audit_id: int, identity: str, value: int) -> bool:
        return await self._store.audit.set_feedback(audit_id, identity, 1 if value > 0 else -1)

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

    async def link(self, inbound: Inbound, target_identity: str, user_ref: str) -> str:
        """Links a chat identity to a StackDock user of the asker's org; needs ai:full."""
        principal = await self._assistant.resolve(inbound)
        if isinstance(principal, Refusal):
            return principal.text
        if not allows(principal.permissions, "ai:full"):
            return (
                f"Linking people needs ai:full; your role ({principal.role_name}) doesn't have "
                "it. Ask an org admin."
            )
        user = (
            self._mirror.user_by_email(user_ref) if "@" in user_ref else self._mirror.user(user_ref)
        )
        if user is None or not self._member_of(str(user["_id"]), principal):
            return f"No member of {principal.org_name} matches {user_ref!r}."
        await self._store.links.set(target_identity, str(user["_id"]))
        self._assistant.identity.forget(target_identity)
        return f"Linked {target_identity} to {user.get('name') or user.get('email')}."

    def _member_of(self, user_id: str, principal: Principal) -> bool:
        return any(str(m["orgId"]) == principal.org_id for m in self._mirror.memberships(user_id))
