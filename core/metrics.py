"""Prometheus metrics: one registry for the process, exposed on `/metrics` by the bot."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

QUESTIONS = Counter(
    "stackdock_questions",
    "Questions by platform and result",
    ["platform", "result"],
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "stackdock_ack_seconds",
    "Time to acknowledge a platform event",
    ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
FIRST_TOKEN_SECONDS = Histogram(
    "stackdock_first_token_seconds",
    "Time from question to the first answer text",
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
    registry=REGISTRY,
)
ANSWER_SECONDS = Histogram(
    "stackdock_answer_seconds",
    "Time from question to the final answer",
    buckets=(0.05, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
    registry=REGISTRY,
)
TOKENS = Counter(
    "stackdock_tokens",
    "Model tokens by model and direction",
    ["model", "direction"],
    registry=REGISTRY,
)
COST_USD = Counter("stackdock_cost_usd", "Model cost in USD", ["model"], registry=REGISTRY)
PROVIDER_ERRORS = Counter(
    "stackdock_provider_errors", "Failed model calls", ["provider", "kind"], registry=REGISTRY
)
MIRROR_AGE_SECONDS = Gauge(
    "stackdock_mirror_age_seconds", "Age of the StackDock mirror's data", registry=REGISTRY
)
SYNC_ERRORS = Counter("stackdock_sync_errors", "Failed sync passes", registry=REGISTRY)
ALERTS_DETECTED = Counter(
    "stackdock_alerts_detected",
    "Alert messages detected (new alerts, resolutions, reopenings) by audit action",
    ["action"],
    registry=REGISTRY,
)
ALERTS_SENT = Counter(
    "stackdock_alerts_sent",
    "Alert messages posted or edited, by platform and audit action",
    ["platform", "action"],
    registry=REGISTRY,
)
ALERTS_RESOLVED = Counter(
    "stackdock_alerts_resolved", "Alerts whose problem resolved", registry=REGISTRY
)
ALERTS_MUTED = Counter("stackdock_alerts_muted", "Alert messages muted", registry=REGISTRY)
ALERT_DELIVERY_LAG_SECONDS = Histogram(
    "stackdock_alert_delivery_lag_seconds",
    "Time from detecting an alert message to posting it",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 1800),
    registry=REGISTRY,
)

_M = TypeVar("_M", Counter, Gauge, Histogram)
_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def labelled(metric: _M, *values: str) -> _M:
    """`metric.labels(*values)`, kept: `labels` validates and locks on every call, a few
    microseconds each, and a question counts several. The label values are few (platforms,
    results, models), so the children kept are few too."""
    key = (id(metric), values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return cast(_M, child)
