"""What StackDock's documents hold, as far as the core needs to know it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Top-level fields holding milliseconds since the epoch.
TIME_FIELDS: tuple[str, ...] = (
    "_creationTime",
    "expiresAt",
    "lastSyncAt",
    "lastCheckedAt",
    "firstSeen",
    "lastSeen",
    "updatedAt",
    "createdAt",
    "provisionedAt",
)


def provider_id(value: Any) -> str:
    """A provider name as StackDock writes it ("better-stack"), lowercased and trimmed."""
    return str(value or "").strip().lower()


def epoch_ms(value: Any) -> float | None:
    """Milliseconds since the epoch from a number (already ms) or an ISO 8601 string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None
        if parsed.tzinfo is None:  # providers that omit the zone mean UTC
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp() * 1000
    return None
