"""Usage arithmetic: what a person or an org spent over a period, and the operator's report."""

from __future__ import annotations

import statistics
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.audit import utc
from core.models import AuditRecord, Outcome
from core.ports import Store


@dataclass(slots=True)
class UsageTotals:
    questions: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    unknown_token_calls: int = 0  # calls whose server reported no usage
    cost_usd: Decimal = Decimal(0)
    unpriced_calls: int = 0  # calls whose model has no known price

    def line(self) -> str:
        priced = self.questions - self.unpriced_calls
        cost = f"${self.cost_usd:.4f}" if priced or not self.questions else "cost unknown"
        text = (
            f"{self.questions} questions, {self.input_tokens:,} tokens in, "
            f"{self.output_tokens:,} out, {cost}"
        )
        if self.unknown_token_calls:
            text += f" ({self.unknown_token_calls} calls reported no tokens)"
        if self.unpriced_calls:
            text += f" ({self.unpriced_calls} calls at an unknown price)"
        return text


async def totals(
    store: Store, org_id: str, since: datetime, user_id: str | None = None
) -> UsageTotals:
    result = UsageTotals()
    async for record in store.usage.iter(since=since, org_id=org_id):
        if user_id is not None and record.user_id != user_id:
            continue
        usage = record.usage
        result.questions += 1
        if usage.input_tokens is None or usage.output_tokens is None:
            result.unknown_token_calls += 1
        else:
            result.input_tokens += usage.input_tokens  # cache reads are part of it
            result.output_tokens += usage.output_tokens
        if usage.cost_usd is None:
            result.unpriced_calls += 1
        else:
            result.cost_usd += usage.cost_usd
    return result


# ---- the operator's report: per org, per user, per model, and per day, from the audit trail ----

REFUSED = frozenset({Outcome.DENIED, Outcome.RATE_LIMITED, Outcome.OVER_BUDGET})
NO_MODEL = "(no model call)"
NO_ORG = "(no org)"  # the asker was never resolved to a StackDock org
QUESTION_ACTION = "ai.chat"  # the audit action of a question (AuditRecord's default)


@dataclass(slots=True)
class ReportLine:
    """One group's numbers. Every question counts, refused ones too; latency is the median of
    the questions that reached a model, since a refusal's few milliseconds say nothing."""

    questions: int = 0
    refusals: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced: int = 0  # questions that reached a model whose price is unknown (a local one)
    latencies_ms: array[int] = field(default_factory=lambda: array("l"))

    def add(self, row: AuditRecord) -> None:
        self.questions += 1
        if row.result in REFUSED:
            self.refusals += 1
            return
        if row.result is Outcome.FAILED:
            self.failures += 1
        self.input_tokens += row.input_tokens or 0
        self.output_tokens += row.output_tokens or 0
        self.cost_usd += row.cost_usd or Decimal(0)
        if row.model is not None and row.cost_usd is None:
            self.unpriced += 1
        if row.latency_ms is not None:
            self.latencies_ms.append(row.latency_ms)

    @property
    def median_latency_ms(self) -> float | None:
        return float(statistics.median(self.latencies_ms)) if self.latencies_ms else None


@dataclass(slots=True)
class Day:
    questions: int = 0
    cost_usd: Decimal = Decimal(0)
    answered: int = 0
    refused: int = 0  # the rest of the questions failed or were stopped


@dataclass(slots=True)
class UsageReport:
    since: datetime
    until: datetime
    org_id: str | None = None
    total: ReportLine = field(default_factory=ReportLine)
    by_org: dict[str, ReportLine] = field(default_factory=dict)
    by_user: dict[tuple[str, str], ReportLine] = field(default_factory=dict)  # (org, user)
    by_model: dict[str, ReportLine] = field(default_factory=dict)
    by_day: dict[date, Day] = field(default_factory=dict)

    def add(self, row: AuditRecord) -> None:
        org = row.org_id or NO_ORG
        user = row.user_id or row.identity
        for line in (
            self.total,
            self.by_org.setdefault(org, ReportLine()),
            self.by_user.setdefault((org, user), ReportLine()),
            self.by_model.setdefault(row.model or NO_MODEL, ReportLine()),
        ):
            line.add(row)
        day = self.by_day.setdefault(utc(row.timestamp).date(), Day())
        day.questions += 1
        day.cost_usd += row.cost_usd or Decimal(0)
        day.answered += row.result is Outcome.ANSWERED
        day.refused += row.result in REFUSED

    def days(self) -> list[date]:
        """Every day of the period, oldest first, those without a question included."""
        first, last = utc(self.since).date(), utc(self.until).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def usage_report(
    store: Store, since: datetime, until: datetime, org_id: str | None = None
) -> UsageReport:
    """Streams the audit rows of [since, until]: one per question, refusals and failures too.

    The audit trail, not the usage log, is the source: it alone knows refusals and latency, and
    it carries the same tokens and cost (both are written in one transaction).
    """
    report = UsageReport(since=utc(since), until=utc(until), org_id=org_id)
    async for row in store.audit.iter(since=since):
        if utc(row.timestamp) > report.until or (org_id is not None and row.org_id != org_id):
            continue
        if row.action != QUESTION_ACTION:
            continue  # help, links and instructions are audited too, but ask nothing
        report.add(row)
    return report


@dataclass(frozen=True, slots=True)
class UsageView:
    text: str
    own: UsageTotals | None
    org: UsageTotals | None  # only for ai:full members
    org_id: str | None
    chart_png: bytes | None = None  # the org's daily questions and cost; ai:full members only
    chart_name: str = "stackdock-usage.png"
