"""How far a domain's `expiresAt` can be trusted: a registrar's date, StackDock's guess, or none.

Of StackDock's providers only two sync domains, and neither reports a registrar expiry:
Cloudflare zones carry no `expiresAt` (zones don't expire), and for GridPane StackDock writes a
guess, the domain's `updated_at` + 365 days. A guess is shown as an estimate with its source and
never raises a problem; an `expiresAt` from any other provider is taken as the registrar's date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.stackdock.fields import epoch_ms, provider_id

# provider -> where its `expiresAt` comes from, for providers whose date is StackDock's guess.
GUESSED_BY_PROVIDER: Mapping[str, str] = {
    "gridpane": "GridPane reports no expiry; StackDock guesses the domain's updated_at + 365 days",
}
_NO_EXPIRY_REASON: Mapping[str, str] = {
    "cloudflare": "Cloudflare zones carry no expiry date",
    "gridpane": "GridPane reports no expiry date",
}


@dataclass(frozen=True, slots=True)
class Expiry:
    kind: Literal["real", "estimate", "unknown"]
    at_ms: float | None
    note: str  # where the date came from, or why there is none

    @property
    def is_real(self) -> bool:
        return self.kind == "real"


def domain_expiry(doc: Mapping[str, Any]) -> Expiry:
    """What the domain row says about its expiry, and how much that is worth."""
    provider = provider_id(doc.get("provider"))
    expires = epoch_ms(doc.get("expiresAt"))
    if expires is None:
        reason = _NO_EXPIRY_REASON.get(provider, f"{provider or 'the provider'} reports none")
        return Expiry("unknown", None, f"no known expiry: {reason}")
    if provider in GUESSED_BY_PROVIDER:
        api = doc.get("fullApiData")
        updated = api.get("updated_at") if isinstance(api, Mapping) else None
        basis = f" (updated_at {updated})" if isinstance(updated, str | int | float) else ""
        note = f"an estimate, not a registrar date: {GUESSED_BY_PROVIDER[provider]}{basis}"
        return Expiry("estimate", expires, note)
    return Expiry("real", expires, f"expiry reported by {provider or 'the provider'}")
