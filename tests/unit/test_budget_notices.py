"""Budget edges through the real pipeline: the 80% notice once, refusal at 100%, the month
turning, a raised budget, failed calls that spent tokens, and per-org overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from adapters.stackdock.demo import DEMO_ADMIN_USER_ID, DEMO_ORGS, DEMO_USERS
from bot.wiring import build_assistant
from core.assistant import Assistant
from core.budget_notices import Notifiers, ai_full_members, recipients
from core.limits import LimitPolicy
from core.models import (
    ErrorReply,
    Final,
    Inbound,
    Outcome,
    ProviderError,
    ReplyEvent,
    Usage,
    UsageRecord,
)
from core.ports import Provider
from core.providers.offline import OfflineProvider
from core.stackdock.mirror import InMemoryMirror
from tests.fakes.ports.memory_store import MemoryStore
from tests.fakes.ports.scripted_provider import ScriptedProvider
from tests.unit.conftest import Clock

ACME = DEMO_ORGS["acme"]
GLOBEX = DEMO_ORGS["globex"]
ADMIN = f"email:{DEMO_USERS['admin']}"
DEVELOPER = f"email:{DEMO_USERS['developer']}"
GRACE = f"email:{DEMO_USERS['globex_admin']}"
# Late in the month, so the rollover tests cross into December.
LATE = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


@dataclass
class SentNotice:
    org_id: str
    identities: list[str]
    text: str


@dataclass
class RecordingNotifier:
    sent: list[SentNotice] = field(default_factory=list)
    fail: bool = False

    async def notify_budget(self, org_id: str, identities: list[str], text: str) -> None:
        if self.fail:
            raise ConnectionError("the platform is down")
        self.sent.append(SentNotice(org_id, identities, text))


@dataclass
class Worker:
    """One bot process: its own Limits and Assistant, sharing the store with other workers."""

    store: MemoryStore
    mirror: InMemoryMirror
    clock: Clock
    policy: LimitPolicy
    notifier: RecordingNotifier
    providers: list[Provider] = field(default_factory=lambda: [OfflineProvider()])

    @property
    def assistant(self) -> Assistant:
        return build_assistant(
            store=self.store,
            mirror=self.mirror,
            providers=self.providers,
            clock=self.clock,
            policy=self.policy,
            notifier=self.notifier,
        )

    async def ask(self, identity: str, text: str = "How many servers?") -> ReplyEvent:
        inbound = Inbound(identity=identity, text=text, platform="console", is_dm=True)
        events = [e async for e in self.assistant.handle(inbound)]
        return events[-1]


def spend(store: MemoryStore, when: datetime, org: str, usd: str) -> None:
    usage = Usage("openai", "gpt-4o-mini", 100, 10, cost_usd=Decimal(usd))
    store.usage.record_now(UsageRecord(when, org, DEMO_ADMIN_USER_ID, ADMIN, usage))


def worker(demo_mirror: InMemoryMirror, store: MemoryStore | None = None, **policy) -> Worker:
    return Worker(
        store or MemoryStore(),
        demo_mirror,
        Clock(LATE),
        LimitPolicy(**policy),
        RecordingNotifier(),
    )


async def test_ai_full_members_are_the_orgs_admins_only(demo_mirror):
    members = ai_full_members(demo_mirror, ACME)
    assert DEMO_ADMIN_USER_ID in members
    developer = demo_mirror.user_by_email(DEMO_USERS["developer"])
    client = demo_mirror.user_by_email(DEMO_USERS["client"])
    grace = demo_mirror.user_by_email(DEMO_USERS["globex_admin"])
    assert developer is not None and client is not None and grace is not None
    assert not {developer["_id"], client["_id"], grace["_id"]} & set(members)


async def test_no_notice_below_80_percent(demo_mirror):
    w = worker(demo_mirror, org_budget_usd=Decimal("10"))
    spend(w.store, LATE, ACME, "7.99")
    assert isinstance(await w.ask(ADMIN), Final)
    assert w.notifier.sent == []


async def test_80_percent_notice_goes_once_to_ai_full_members_across_workers(demo_mirror):
    first = worker(demo_mirror, org_budget_usd=Decimal("10"))
    # A second process: same store, its own Limits, its own notifier.
    second = worker(demo_mirror, store=first.store, org_budget_usd=Decimal("10"))
    spend(first.store, LATE, ACME, "8.00")
    for w in (first, second, first, second):
        assert isinstance(await w.ask(DEVELOPER), Final)  # 80% still answers
    sent = first.notifier.sent + second.notifier.sent
    assert len(sent) == 1
    assert sent[0].org_id == ACME
    assert sent[0].identities == [f"email:{DEMO_USERS['admin']}"]  # Acme's one ai:full member
    assert "80%" in sent[0].text and "$8.00 of $10.00" in sent[0].text


async def test_100_percent_refuses_until_the_month_turns_then_notices_rearm(demo_mirror):
    w = worker(demo_mirror, org_budget_usd=Decimal("10"))
    spend(w.store, LATE, ACME, "10.00")
    end = await w.ask(DEVELOPER)
    assert isinstance(end, ErrorReply) and end.outcome is Outcome.OVER_BUDGET
    # Retry when December starts: two hours after 22:00 on 30 November.
    assert end.retry_after_s == 2 * 3600
    assert "when the month turns, in 2.0 h" in end.text
    rows = [row async for row in w.store.audit.iter()]
    assert rows[-1].result is Outcome.OVER_BUDGET and rows[-1].retry_after_s == 2 * 3600
    assert len(w.notifier.sent) == 1  # a jump straight past 100% still tells the admins

    w.clock.now = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    assert isinstance(await w.ask(DEVELOPER), Final)
    spend(w.store, w.clock.now, ACME, "8.50")
    assert isinstance(await w.ask(DEVELOPER), Final)
    assert len(w.notifier.sent) == 2 and "2026-12" in w.notifier.sent[1].text


async def test_raising_the_budget_lifts_the_refusal_and_rearms_the_notice(demo_mirror):
    w = worker(demo_mirror, org_budget_usd=Decimal("10"))
    spend(w.store, LATE, ACME, "10.00")
    assert isinstance(await w.ask(ADMIN), ErrorReply)
    w.policy = LimitPolicy(org_budget_usd=Decimal("20"), org_budgets_usd={})
    assert isinstance(await w.ask(ADMIN), Final)
    assert len(w.notifier.sent) == 1  # 50% of the new budget: no second notice yet
    spend(w.store, LATE, ACME, "6.00")
    assert isinstance(await w.ask(ADMIN), Final)
    assert len(w.notifier.sent) == 2 and "$16.00 of $20.00" in w.notifier.sent[1].text


async def test_per_org_budget_overrides_the_default(demo_mirror):
    w = worker(demo_mirror, org_budget_usd=Decimal("100"), org_budgets_usd={GLOBEX: Decimal("1")})
    spend(w.store, LATE, ACME, "5.00")
    spend(w.store, LATE, GLOBEX, "1.00")
    assert isinstance(await w.ask(ADMIN), Final)
    end = await w.ask(GRACE)
    assert isinstance(end, ErrorReply) and end.outcome is Outcome.OVER_BUDGET
    assert "$1.00 of $1.00" in end.text


async def test_failed_calls_that_spent_tokens_count_against_the_budget(demo_mirror):
    w = worker(demo_mirror, org_budget_usd=Decimal("1"))
    spent = Usage("scripted", "scripted-1", 1000, 500, cost_usd=Decimal("0.60"))
    w.providers = [
        ScriptedProvider(
            [
                ProviderError("server", "boom", provider="scripted", usage=spent),
                ProviderError("timeout", "slow", provider="scripted", usage=spent),
            ]
        )
    ]
    assert (await w.ask(ADMIN)).outcome is Outcome.FAILED
    assert (await w.ask(ADMIN)).outcome is Outcome.FAILED
    assert await w.store.usage.spend(ACME, LATE - timedelta(days=1)) == Decimal("1.20")
    end = await w.ask(ADMIN)
    assert isinstance(end, ErrorReply) and end.outcome is Outcome.OVER_BUDGET
    assert len(w.notifier.sent) == 1


async def test_a_failing_notifier_never_fails_the_question_nor_sends_twice(demo_mirror):
    w = worker(demo_mirror, org_budget_usd=Decimal("10"))
    w.notifier.fail = True
    spend(w.store, LATE, ACME, "9.00")
    assert isinstance(await w.ask(ADMIN), Final)
    w.notifier.fail = False
    assert isinstance(await w.ask(ADMIN), Final)
    assert w.notifier.sent == []  # marked before sending: at most once, even when it failed


async def test_notifiers_fan_out_past_a_broken_platform():
    broken, working = RecordingNotifier(fail=True), RecordingNotifier()
    notifiers = Notifiers(broken)
    notifiers.add(working)
    await notifiers.notify_budget("org", ["slack:T1:U1"], "text")
    assert working.sent == [SentNotice("org", ["slack:T1:U1"], "text")]


async def test_the_answer_that_crosses_80_percent_sends_the_notice_at_once(demo_mirror):
    from tests.fakes.ports.scripted_provider import ScriptedTurn

    w = worker(demo_mirror, org_budget_usd=Decimal("0.001"))
    # Priced by genai-prices: a gpt-4o-mini turn this size costs well over $0.0008.
    w.providers = [
        ScriptedProvider(
            [ScriptedTurn(text=["ok"], input_tokens=20_000, output_tokens=2_000)],
            name="openai",
            model="gpt-4o-mini",
        )
    ]
    assert isinstance(await w.ask(DEVELOPER), Final)
    # No second question was asked: the crossing answer itself told the admins.
    assert [n.org_id for n in w.notifier.sent] == [ACME]


async def test_the_notice_names_each_linked_identity_of_an_ai_full_member_and_their_email(
    demo_mirror,
):
    store = MemoryStore()
    # The same admin, linked three ways: by email, by user id, and by an `email:` reference.
    await store.links.set("discord:G1:111", DEMO_USERS["admin"])
    await store.links.set("discord:@me:111", DEMO_ADMIN_USER_ID)
    await store.links.set("slack:T1:UADA", f"email:{DEMO_USERS['admin']}")
    await store.links.set("discord:G1:222", DEMO_USERS["developer"])  # no ai:full
    await store.links.set("slack:T1:UGRACE", DEMO_USERS["globex_admin"])  # ai:full elsewhere
    await store.links.set("slack:T1:UGONE", "usr_deleted")  # no such user any more
    assert await recipients(store, demo_mirror, ACME) == [
        "discord:@me:111",
        "discord:G1:111",
        "slack:T1:UADA",
        f"email:{DEMO_USERS['admin']}",
    ]
    assert await recipients(store, demo_mirror, GLOBEX) == [
        "slack:T1:UGRACE",
        f"email:{DEMO_USERS['globex_admin']}",
    ]
