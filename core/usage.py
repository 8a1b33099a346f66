"""Usage arithmetic: what a person or an org spent over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

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
        text = (
            f"{self.questions} questions, {self.input_tokens:,} tokens in, "
            f"{self.output_tokens:,} out, ${self.cost_usd:.4f}"
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
            result.input_tokens += usage.input_tokens + usage.cache_read_tokens
            result.output_tokens += usage.output_tokens
        if usage.cost_usd is None:
            result.unpriced_calls += 1
        else:
            result.cost_usd += usage.cost_usd
    return result
