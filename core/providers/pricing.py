"""Cost of a model call in USD, from the prices bundled with genai-prices.

Only the snapshot shipped inside the installed genai-prices package is used: its background
updater (`UpdatePrices`) is never started, so pricing makes no network call and a given
package version always prices the same usage the same way.

Our `Usage.input_tokens`, like genai-prices' and OpenAI's `prompt_tokens`, counts every prompt
token processed, with cache reads and writes as parts of it, so it is priced as it is.

A model with no known price (a local model, most often) costs None: unknown, never zero and never
a guess from a similar name.
"""

from __future__ import annotations

import dataclasses
import logging

import genai_prices

from core.models import Usage

log = logging.getLogger(__name__)

_warned: set[tuple[str, str]] = set()
# Models genai-prices does not know: its snapshot never changes while the process runs, and it
# keeps no memory of a failed lookup, which costs a search of every model on every turn.
_unknown: set[tuple[str, str]] = set()


def price(usage: Usage) -> Usage:
    """A copy of `usage` with `cost_usd` set, or left None when tokens or the price are unknown."""
    if usage.input_tokens is None or usage.output_tokens is None:
        return dataclasses.replace(usage, cost_usd=None)
    if (usage.provider, usage.model) in _unknown:
        return dataclasses.replace(usage, cost_usd=None)
    priced = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_tokens=usage.output_tokens,
    )
    try:
        calc = genai_prices.calc_price(priced, usage.model, provider_id=usage.provider)
    except (LookupError, ValueError) as exc:
        if isinstance(exc, LookupError):  # a ValueError may be about this usage alone
            _unknown.add((usage.provider, usage.model))
        _warn_once(usage, exc)
        return dataclasses.replace(usage, cost_usd=None)
    return dataclasses.replace(usage, cost_usd=calc.total_price)


def _warn_once(usage: Usage, exc: Exception) -> None:
    # A busy bot would otherwise repeat the same warning on every question.
    key = (usage.provider, usage.model)
    if key in _warned:
        return
    _warned.add(key)
    log.warning(
        "no price known for %s model %r (%s); its tokens are recorded with cost unknown",
        usage.provider,
        usage.model,
        type(exc).__name__,
    )
