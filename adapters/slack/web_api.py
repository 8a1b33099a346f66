"""The Slack Web API client: slack_sdk's `AsyncWebClient`, given a logger that tells it the
truth about the level in force.

The SDK decides to log each request and response at debug level from `logger.level`, the
logger's own level, which is NOTSET (0, so "debug") for a logger nobody configured: every call
built both log lines, headers and body included, though nothing was ever shown. Given a logger
whose `level` is the effective one, it builds them only when debug logging is really on (and
then exactly as before). Requests, retries, responses and errors are the SDK's own.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

SDK_LOGGER = "slack_sdk.web.async_base_client"  # the logger the SDK would use itself


class EffectiveLevel(logging.LoggerAdapter):
    """A logger whose `level` is the level in force (its own, else its parents'), which is
    what the SDK means when it compares `logger.level` with DEBUG."""

    @property
    def level(self) -> int:
        return self.logger.getEffectiveLevel()


class SlackWebClient(AsyncWebClient):
    def __init__(self, *args: Any, **kw: Any) -> None:
        if kw.get("logger") is None:
            kw["logger"] = EffectiveLevel(logging.getLogger(SDK_LOGGER), {})
        super().__init__(*args, **kw)
