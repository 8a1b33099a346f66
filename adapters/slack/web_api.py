"""The Slack Web API client: slack_sdk's `AsyncWebClient`, with what it redoes on every call
for nothing done once instead.

Every answer makes five Web API calls, and under a burst the bot's one event loop spends more
of its time in them than in anything else on the Slack side (bench/burst.py `--profile`).
Two costs of the SDK's were pure waste, and are gone here:
- the SDK decides to log each request and response at debug level from `logger.level`, the
  logger's own level, which is NOTSET (0, so "debug") for a logger nobody configured: every
  call built both log lines, headers and body included, even though nothing was ever shown.
  Here the level it reads is the effective one, so they are built only when debug logging is
  really on (and then exactly as before);
- the method's URL (`urljoin`) and its deprecation check (an environment read and a scan of
  the deprecated prefixes) are worked out once per method, not on every call.
Requests, retries (connection errors, `ratelimited`), responses and errors are the SDK's own.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.web.deprecation import show_deprecation_warning_if_any
from slack_sdk.web.internal_utils import _build_req_args, _get_url

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
        self._urls: dict[tuple[str, str], str] = {}

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: Any = None,
    ) -> AsyncSlackResponse:
        """The SDK's `api_call`, less the per-call URL join and deprecation check."""
        if auth is not None:  # client id and secret (OAuth): the SDK's own handling
            return await super().api_call(
                api_method,
                http_verb=http_verb,
                files=files,
                data=data,
                params=params,
                json=json,
                headers=headers,
                auth=auth,
            )
        key = (self.base_url, api_method)
        url = self._urls.get(key)
        if url is None:
            show_deprecation_warning_if_any(api_method)  # its answer never changes for a method
            url = self._urls[key] = _get_url(self.base_url, api_method)
        req_args = _build_req_args(
            token=self.token,
            http_verb=http_verb,
            files=files,  # type: ignore[arg-type]
            data=data,
            default_params=self.default_params,
            params=params,  # type: ignore[arg-type]
            json=json,  # type: ignore[arg-type]
            headers={**(headers or {}), **self.headers},
            auth=None,  # type: ignore[arg-type]
            ssl=self.ssl,
            proxy=self.proxy,
        )
        return await self._send(http_verb=http_verb, api_url=url, req_args=req_args)
