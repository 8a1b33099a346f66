"""Budget notices as Slack DMs: the core says who and what; this finds them in Slack."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.ports import Mirror

log = logging.getLogger(__name__)


class SlackNotifier:
    """Implements the core's Notifier port with a DM to each StackDock user found by email."""

    def __init__(self, client: AsyncWebClient, mirror: Mirror) -> None:
        self._client = client
        self._mirror = mirror

    async def notify_budget(self, org_id: str, user_ids: list[str], text: str) -> None:
        for user_id in user_ids:
            email = (self._mirror.user(user_id) or {}).get("email")
            if not email:
                continue
            try:
                found = await self._client.users_lookupByEmail(email=str(email))
                dm = await self._client.conversations_open(users=found["user"]["id"])
                await self._client.chat_postMessage(channel=dm["channel"]["id"], text=text)
            except SlackApiError as exc:
                # Not in this workspace (users_not_found) is normal: they may live on Discord.
                log.info("no Slack DM for user %s: %s", user_id, exc.response.get("error"))
