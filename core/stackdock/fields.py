"""What StackDock's documents hold, as far as the core needs to know it."""

from __future__ import annotations

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
