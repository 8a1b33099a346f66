"""Slack users' emails (`users.info`, scope `users:read.email`), cached.

The core matches a Slack person to a StackDock user by the email Slack vouches for; the cache
keeps that to one `users.info` call per person per hour (so a changed email is seen within the
hour), shares one call between questions that arrive together, and holds at most `kept`
people, forgetting the longest known first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.stream import slack_error

log = logging.getLogger(__name__)

KEPT = 20_000  # people remembered at once, a few MB: more than most workspaces ask with


class EmailDirectory:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl_s: float = 3600.0,
        kept: int = KEPT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._kept = kept
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[str | None]] = {}

    async def email(self, team: str, user: str) -> str | None:
        key = (team, user)
        cached = self._cache.get(key)
        if cached and cached[0] > self._clock():
            return cached[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            found, ok = await self._lookup(user)
            # A failed lookup is retried soon; an answer is trusted for the whole ttl.
            self._remember(key, (self._clock() + (self._ttl_s if ok else 60.0), found))
            future.set_result(found)
            return found
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved when nobody else was waiting
            raise
        finally:
            del self._pending[key]

    def _remember(self, key: tuple[str, str], entry: tuple[float, str | None]) -> None:
        self._cache.pop(key, None)  # to the end: the dict's order is the order they were known
        self._cache[key] = entry
        if len(self._cache) > self._kept:
            del self._cache[next(iter(self._cache))]

    async def _lookup(self, user: str) -> tuple[str | None, bool]:
        try:
            response = await self._client.users_info(user=user)
        except SlackApiError as exc:
            # Without the scope or for a vanished user, the person can still be linked by hand.
            log.warning("users.info failed for %s: %s", user, slack_error(exc))
            return None, False
        profile = (response.get("user") or {}).get("profile") or {}
        return profile.get("email") or None, True
