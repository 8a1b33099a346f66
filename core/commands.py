"""What the chat commands do beyond asking: link, usage, feedback, and re-delivery claims.

Adapters call these; the wording is here so that Slack and Discord say the same things.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.access import allows
from core.assistant import Assistant
from core.identity import Refusal
from core.limits import month_start
from core.models import Inbound, Principal
from core.prompts import HELP_TEXT
from core.usage import UsageTotals, totals


@dataclass(frozen=True, slots=True)
class UsageView:
    text: str
    own: UsageTotals | None
    org: UsageTotals | None  # only for ai:full members
    org_id: str | None


class ChatCommands:
    def __init__(self, assistant: Assistant, clock: Callable[[], datetime]) -> None:
        self._assistant = assistant
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
        since = month_start(self._clock())
        own = await totals(self._store, principal.org_id, since, principal.user_id)
        lines = [f"**Your usage this month** ({principal.org_name}): {own.line()}"]
        org = None
        if allows(principal.permissions, "ai:full"):
            org = await totals(self._store, principal.org_id, since)
            lines.append(f"**{principal.org_name} this month**: {org.line()}")
            budget = self._assistant.limits.policy.budget_for(principal.org_id)
            if budget is not None:
                lines.append(f"Monthly budget: ${budget:.2f} ({org.cost_usd / budget:.0%} used)")
        return UsageView("\n".join(lines), own, org, principal.org_id)

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
        return f"Linked {target_identity} to {user.get('name') or user.get('email')}."

    def _member_of(self, user_id: str, principal: Principal) -> bool:
        return any(str(m["orgId"]) == principal.org_id for m in self._mirror.memberships(user_id))
