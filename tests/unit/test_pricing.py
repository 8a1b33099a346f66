"""Cost arithmetic against the bundled genai-prices data, checked by hand."""

from __future__ import annotations

import logging
from decimal import Decimal

from core.models import Usage
from core.providers.pricing import price

# claude-sonnet-5: $2 input, $10 output, $0.20 cache read, $2.50 cache write, per million tokens
# gpt-4o-mini:    $0.15 input, $0.60 output, $0.075 cached input, per million tokens


def test_anthropic_cache_reads_and_writes_are_priced_at_their_own_rates() -> None:
    usage = Usage(
        provider="anthropic",
        model="claude-sonnet-5",
        input_tokens=13_000,  # every prompt token: 1,000 fresh, 10,000 read, 2,000 written
        output_tokens=500,
        cache_read_tokens=10_000,
        cache_write_tokens=2_000,
    )
    # 1000*2 + 500*10 + 10000*0.2 + 2000*2.5 = 2000 + 5000 + 2000 + 5000 = 14000 per million
    assert price(usage).cost_usd == Decimal("0.014")


def test_anthropic_without_cache() -> None:
    usage = Usage("anthropic", "claude-sonnet-5", input_tokens=3_000, output_tokens=1_000)
    # 3000*2 + 1000*10 = 16000 per million
    assert price(usage).cost_usd == Decimal("0.016")


def test_openai_cached_tokens_are_priced_at_the_cached_rate() -> None:
    # As the API reports it: prompt_tokens=3000, of which cached_tokens=2000.
    usage = Usage(
        "openai", "gpt-4o-mini", input_tokens=3_000, output_tokens=1_000, cache_read_tokens=2_000
    )
    # 1000*0.15 + 2000*0.075 + 1000*0.6 = 150 + 150 + 600 = 900 per million
    assert price(usage).cost_usd == Decimal("0.0009")


def test_price_returns_a_copy_and_keeps_the_tokens() -> None:
    usage = Usage("openai", "gpt-4o-mini", input_tokens=10, output_tokens=10)
    priced = price(usage)
    assert usage.cost_usd is None
    assert (priced.input_tokens, priced.output_tokens, priced.model) == (10, 10, "gpt-4o-mini")


def test_unknown_tokens_mean_unknown_cost() -> None:
    usage = Usage("openai", "gpt-4o-mini", input_tokens=None, output_tokens=None)
    assert price(usage).cost_usd is None


def test_unknown_model_costs_none_and_warns_once(caplog) -> None:
    usage = Usage("openai", "llama3.1-local-test-only", input_tokens=10, output_tokens=5)
    with caplog.at_level(logging.WARNING, logger="core.providers.pricing"):
        first = price(usage)
        second = price(usage)
    assert first.cost_usd is None and second.cost_usd is None
    assert first.input_tokens == 10
    warnings = [r for r in caplog.records if "llama3.1-local-test-only" in r.getMessage()]
    assert len(warnings) == 1


def test_bundled_prices_are_used_without_network() -> None:
    from genai_prices.data_snapshot import get_snapshot

    assert get_snapshot().from_auto_update is False
