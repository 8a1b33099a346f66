"""What the SDK providers share when a model call fails: retry hints and the operator's warning."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The server's retry hint in seconds, from `retry-after-ms` or a numeric `retry-after`."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue  # an HTTP date; rare from these APIs, and the SDK has already waited
        if value >= 0:
            return value
    return None


def report_rejected_key(provider: str, status: int) -> None:
    """Tells the operator, never the person and never with the key itself."""
    log.error(
        "the %s API key was rejected (HTTP %d); check the key configured for %s",
        provider,
        status,
        provider,
    )


@dataclass(frozen=True)
class ContextOverflow:
    """A server's refusal of a prompt longer than its window, with its numbers when it gave them."""

    prompt_tokens: int | None
    window_tokens: int | None


def report_overflow(overflow: ContextOverflow, provider: str) -> None:
    """Tells the operator which setting fits conversations to the model's window."""
    window = overflow.window_tokens
    log.warning(
        "the %s model's server refused a prompt of %s tokens: its context window is %s. "
        "Set AI_CONTEXT_WINDOW=%s so older history is left out to fit, or give the server a "
        "larger context (llama-server -c, Ollama num_ctx)",
        provider,
        overflow.prompt_tokens if overflow.prompt_tokens is not None else "too many",
        f"{window} tokens" if window else "smaller",
        window if window else "<the server's window>",
    )
