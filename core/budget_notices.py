"""The 80% budget notice: told once per org per month to the org's `ai:full` members.

"Once" must hold across every worker and restart, so the decision is a marker in the store
(`MarkerRepo.mark`, atomic): the one worker whose mark lands sends the notice, the others don't.
The marker's key includes the budget, so raising the budget re-arms the notice at its own 80%.
Who is told is decided here: the org's `ai:full` members, named by every chat identity linked
to them and by their email. How it reaches them is the Notifier's business (a DM on Slack or
Discord, a log line on the console).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from core.access import allows, effective_permissions
from core.identities import email_identity, find_user
from core.ports import Mirror, Notifier, Store

log = logging.getLogger(__name__)

NOTICE_SHARE = Decimal("0.8")


def ai_full_members(mirror: Mirror, org_id: str) -> list[str]:
    """User ids of the org's members whose role gives `ai:full` (after the `ai` fallback)."""
    users = set()
    for membership in mirror.rows(org_id, "memberships"):
        role = mirror.role(str(membership.get("orgRole", ""))) or {}
        if allows(effective_permissions(role.get("permissions") or {}), "ai:full"):
            users.add(str(membership.get("userId")))
    return sorted(users)


async def recipients(store: Store, mirror: Mirror, org_id: str) -> list[str]:
    """Chat identities of the org's `ai:full` members: each identity linked to one of them,
    then each one's `email:` identity (Slack finds people by email; Discord cannot)."""
    members = ai_full_members(mirror, org_id)
    wanted = set(members)
    found: list[str] = []
    for identity, user_ref in sorted(await store.links.all()):
        user = find_user(mirror, user_ref)
        if user is not None and str(user["_id"]) in wanted:
            found.append(identity)
    for user_id in members:
        email = (mirror.user(user_id) or {}).get("email")
        if email:
            found.append(email_identity(str(email)))
    return list(dict.fromkeys(found))


def notice_text(org_name: str, spent: Decimal, budget: Decimal, month: str) -> str:
    share = spent / budget if budget else Decimal(1)
    return (
        f"{org_name} has used {share:.0%} of its StackDock Assistant budget for {month} "
        f"(${spent:.2f} of ${budget:.2f}). At 100% questions are refused until the month "
        "turns or the budget (ORG_BUDGETS_USD / ORG_MONTHLY_BUDGET_USD) is raised."
    )


class BudgetNotices:
    def __init__(
        self, store: Store, mirror: Mirror, notifier: Notifier, share: Decimal = NOTICE_SHARE
    ) -> None:
        self._store = store
        self._mirror = mirror
        self._notifier = notifier
        self.share = share

    async def observe(self, org_id: str, spent: Decimal, budget: Decimal, now: datetime) -> bool:
        """Sends the notice if `spent` reached the share of `budget` and nobody sent it this
        month; True when this call sent it. Never raises: a notice must not fail a question."""
        if budget <= 0 or spent < budget * self.share:
            return False
        month = f"{now:%Y-%m}"
        key = f"budget-notice:{org_id}:{month}:{budget}"
        try:
            if not await self._store.markers.mark(key, now.isoformat()):
                return False
            org = self._mirror.organization(org_id) or {}
            text = notice_text(str(org.get("name") or org_id), spent, budget, month)
            told = await recipients(self._store, self._mirror, org_id)
            await self._notifier.notify_budget(org_id, told, text)
        except Exception:
            # Marked first, sent second: a failed send is logged, never repeated by another
            # worker, so nobody is told twice.
            log.exception("could not send the budget notice of org %s", org_id)
            return False
        return True


class LogNotifier:
    """The console's notifier: a log line an operator (or a log alert) will see."""

    async def notify_budget(self, org_id: str, identities: list[str], text: str) -> None:
        log.warning("budget notice for org %s (to %s): %s", org_id, ", ".join(identities), text)


class Notifiers:
    """Every notifier in use; a platform adapter adds its own when it starts."""

    def __init__(self, *notifiers: Notifier) -> None:
        self._notifiers: list[Notifier] = list(notifiers)

    def add(self, notifier: Notifier) -> None:
        self._notifiers.append(notifier)

    async def notify_budget(self, org_id: str, identities: list[str], text: str) -> None:
        for notifier in self._notifiers:
            try:
                await notifier.notify_budget(org_id, identities, text)
            except Exception:
                # One platform being down must not keep the others from telling their people.
                log.exception("%s failed to send a budget notice", type(notifier).__name__)
