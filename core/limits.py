"""Per-user and per-org hourly windows and monthly budgets, checked before any model call.

The windows live in the store so that every worker sharing a database sees the same counts;
the store's `admit` is atomic, so a limit of N admits exactly N in any hour.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from core.budget_notices import BudgetNotices
from core.models import AuditRecord, Outcome, Principal, Refusal, SpendCap
from core.ports import Store

HOUR_S = 3600.0


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def describe_wait(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours = seconds / 3600
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{math.ceil(hours / 24)} days"


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """Limits in force. 0 for an hourly limit means unlimited; None budget means no budget."""

    per_user_per_hour: int = 50
    per_org_per_hour: int | None = None
    role_per_hour: Mapping[str, int] = field(default_factory=dict)  # role name (any case) -> limit
    org_budget_usd: Decimal | None = None
    org_budgets_usd: Mapping[str, Decimal] = field(default_factory=dict)  # org id -> budget

    def user_limit(self, role_name: str) -> int:
        lowered = {k.lower(): v for k, v in self.role_per_hour.items()}
        return lowered.get(role_name.lower(), self.per_user_per_hour)

    def budget_for(self, org_id: str) -> Decimal | None:
        return self.org_budgets_usd.get(org_id, self.org_budget_usd)


class Limits:
    def __init__(
        self,
        store: Store,
        policy: LimitPolicy,
        clock: Callable[[], datetime],
        notices: BudgetNotices | None = None,
    ) -> None:
        self._store = store
        self.policy = policy
        self._clock = clock
        self._notices = notices

    async def check(
        self, principal: Principal, pending: AuditRecord | None = None
    ) -> Refusal | None:
        """Refuses when over budget or over a window; an admitted question uses one slot.

        One after the other, so that a refused question takes no slot: a window admits by
        taking one, and a question refused by the budget (or the user's own window) must not
        spend the person's (or the org's) hour on nothing. Only a limit that is set costs a
        round trip. `pending`, the question's record so far, is kept by the store from here
        until its audit row is written (see PendingRepo), in the transaction that takes the
        user's slot when there is one.
        """
        now = self._clock()
        if self.policy.user_limit(principal.role_name) > 0:
            # The budget is read by the admission itself: one round trip for both.
            refusal = await self._user_window(principal, now, pending)
        else:
            refusal = await self._budget(principal, now)
            if refusal is None and pending is not None:
                await self._store.pending.open(pending)  # no slot to share a transaction with
        # An org refusal after the user's admission leaves that slot taken: the store can't
        # give one back outside a recorded question.
        return refusal or await self._org_window(principal, now)

    async def spent(self, org_id: str) -> None:
        """Called after a question that cost money: crossing 80% is told at once, not with
        the org's next question (which may never come)."""
        budget = self.policy.budget_for(org_id)
        if budget is None or self._notices is None:
            return
        now = self._clock()
        spent = await self._store.usage.spend(org_id, month_start(now))
        await self._notices.observe(org_id, spent, budget, now)

    async def _budget(self, principal: Principal, now: datetime) -> Refusal | None:
        budget = self.policy.budget_for(principal.org_id)
        if budget is None:
            return None
        spent = await self._store.usage.spend(principal.org_id, month_start(now))
        return await self._judge_spend(principal.org_id, spent, budget, now)

    async def _judge_spend(
        self, org_id: str, spent: Decimal, budget: Decimal, now: datetime
    ) -> Refusal | None:
        if self._notices is not None:
            # A safety net for a notice whose after-answer check was missed (a consumer that
            # stopped reading, a crash); BudgetNotices sends it once whoever sees it first.
            await self._notices.observe(org_id, spent, budget, now)
        if spent < budget:
            return None
        wait = (next_month_start(now) - now).total_seconds()
        return Refusal(
            "over_budget",
            f"Your organisation has used its AI budget for this month (${spent:.2f} of "
            f"${budget:.2f}). Questions resume when the month turns, in "
            f"{describe_wait(wait)}, or sooner if an admin raises the budget.",
            Outcome.OVER_BUDGET,
            wait,
        )

    async def _user_window(
        self, principal: Principal, now: datetime, pending: AuditRecord | None
    ) -> Refusal | None:
        limit = self.policy.user_limit(principal.role_name)
        budget = self.policy.budget_for(principal.org_id)
        cap = None if budget is None else SpendCap(principal.org_id, month_start(now), budget)
        key = f"user:{principal.org_id}:{principal.user_id}"
        admission = await self._store.rate_limits.admit(
            key, limit, HOUR_S, now, pending=pending, cap=cap
        )
        if budget is not None and admission.spent is not None:
            over = await self._judge_spend(principal.org_id, admission.spent, budget, now)
            if over is not None:
                return over
        if admission.admitted:
            return None
        return Refusal(
            "rate_limited",
            f"You've reached your limit of {limit} questions an hour. "
            f"Try again in {describe_wait(admission.retry_after_s)}.",
            Outcome.RATE_LIMITED,
            admission.retry_after_s,
        )

    async def _org_window(self, principal: Principal, now: datetime) -> Refusal | None:
        org_limit = self.policy.per_org_per_hour
        if not org_limit:
            return None
        admission = await self._store.rate_limits.admit(
            f"org:{principal.org_id}", org_limit, HOUR_S, now
        )
        if admission.admitted:
            return None
        return Refusal(
            "org_rate_limited",
            f"Your organisation has reached its limit of {org_limit} questions an "
            f"hour. Try again in {describe_wait(admission.retry_after_s)}.",
            Outcome.RATE_LIMITED,
            admission.retry_after_s,
        )
