"""Hourly limits per role and per org, from settings to refusal, each refusal with a retry time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.stackdock.demo import DEMO_USERS
from bot.settings import SettingsError, load_settings
from bot.wiring import limit_policy
from core.limits import LimitPolicy
from core.models import ErrorReply, Final, Outcome

ADMIN = f"email:{DEMO_USERS['admin']}"
CLIENT = f"email:{DEMO_USERS['client']}"
DEVELOPER = f"email:{DEMO_USERS['developer']}"
SUPPORT = f"email:{DEMO_USERS['support']}"


async def _asks(kit, identity: str, n: int, step: timedelta = timedelta(minutes=1)) -> list:
    ends = []
    for _ in range(n):
        ends.append((await kit.ask("How many domains do I have?", identity))[-1])
        kit.clock.now += step
    return ends


async def test_a_role_gets_its_own_hourly_limit(kit):
    kit.policy = LimitPolicy(per_user_per_hour=5, role_per_hour={"client": 2})
    client = await _asks(kit, CLIENT, 3)
    developer = await _asks(kit, DEVELOPER, 5)
    assert [type(e) for e in client] == [Final, Final, ErrorReply]
    assert all(isinstance(e, Final) for e in developer)
    refusal = client[-1]
    assert refusal.reason == "rate_limited" and "limit of 2 questions an hour" in refusal.text
    # The first of the two admitted questions was two minutes earlier: it leaves in 58 min.
    assert refusal.retry_after_s == 58 * 60
    assert "Try again in 58 min" in refusal.text


async def test_a_role_limit_of_zero_means_unlimited(kit):
    kit.policy = LimitPolicy(per_user_per_hour=1, role_per_hour={"Support": 0})
    assert all(isinstance(e, Final) for e in await _asks(kit, SUPPORT, 4))


async def test_the_org_ceiling_holds_across_its_members(kit):
    kit.policy = LimitPolicy(per_user_per_hour=10, per_org_per_hour=3)
    ends = await _asks(kit, ADMIN, 2) + await _asks(kit, DEVELOPER, 2)
    assert [type(e) for e in ends] == [Final, Final, Final, ErrorReply]
    refusal = ends[-1]
    assert refusal.reason == "org_rate_limited" and refusal.outcome is Outcome.RATE_LIMITED
    assert refusal.retry_after_s == 57 * 60 and "Try again in 57 min" in refusal.text
    rows = await kit.audit_rows()
    assert (rows[-1].reason, rows[-1].retry_after_s) == ("org_rate_limited", 57 * 60)


async def test_the_window_slides_a_refused_user_is_admitted_when_told(kit):
    kit.policy = LimitPolicy(per_user_per_hour=2)
    ends = await _asks(kit, ADMIN, 3, step=timedelta(0))
    refusal = ends[-1]
    assert isinstance(refusal, ErrorReply) and refusal.retry_after_s == 3600
    kit.clock.now += timedelta(seconds=refusal.retry_after_s - 1)
    assert isinstance((await kit.ask("How many domains?", ADMIN))[-1], ErrorReply)
    kit.clock.now += timedelta(seconds=1)
    assert isinstance((await kit.ask("How many domains?", ADMIN))[-1], Final)


def test_settings_give_role_limits_and_org_budgets(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_PER_HOUR", "40")
    monkeypatch.setenv("ROLE_RATE_LIMITS", "Client=10, Support=20")
    monkeypatch.setenv("ORG_MONTHLY_BUDGET_USD", "50")
    monkeypatch.setenv("ORG_BUDGETS_USD", '{"org_acme": "125.50", "org_globex": 0}')
    policy = limit_policy(load_settings(_env_file=None))
    assert policy.user_limit("client") == 10 and policy.user_limit("SUPPORT") == 20
    assert policy.user_limit("Developer") == 40
    assert policy.budget_for("org_acme") == Decimal("125.50")
    assert policy.budget_for("org_globex") == Decimal(0)
    assert policy.budget_for("org_other") == Decimal(50)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ROLE_RATE_LIMITS", "Client", "ROLE_RATE_LIMITS: expected NAME=VALUE"),
        ("ROLE_RATE_LIMITS", "Client=many", "ROLE_RATE_LIMITS.CLIENT"),
        ("ROLE_RATE_LIMITS", "Client=-1", "negative limit for Client"),
        ("ORG_BUDGETS_USD", "{oops", "ORG_BUDGETS_USD: not a JSON object"),
        ("ORG_BUDGETS_USD", "org_acme=-5", "non-negative amount for org_acme"),
    ],
)
def test_malformed_limit_settings_are_named(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings(_env_file=None)


def test_blank_mapping_settings_mean_none(monkeypatch):
    monkeypatch.setenv("ROLE_RATE_LIMITS", "")
    monkeypatch.setenv("ORG_BUDGETS_USD", " ")
    settings = load_settings(_env_file=None)
    assert settings.role_rate_limits == {} and settings.org_budgets_usd == {}
