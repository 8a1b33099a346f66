"""Budget notices as Slack DMs: the core says who and what; this only delivers."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.identities import chat_user, identity_email

log = logging.getLogger(__name__)


class SlackNotifier:
    """Implements the core's Notifier port: a DM to each Slack person among `identities`.

    Slack identities are DMed as they are; `email:` identities are looked up in the workspace,
    since Slack vouches for its members' emails. One person is told once, however named.
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def notify_budget(self, org_id: str, identities: list[str], text: str) -> None:
        told: set[str] = set()
        for identity in identities:
            try:
                user = chat_user(identity, "slack") or await self._by_email(identity)
                if user is None or user in told:
                    continue
                told.add(user)
                dm = await self._client.conversations_open(users=user)
                await self._client.chat_postMessage(channel=dm["channel"]["id"], text=text)
            except SlackApiError as exc:
                # Not in this workspace (users_not_found) is normal: they may live on Discord.
                log.info("no Slack DM for %s: %s", identity, exc.response.get("error"))

    async def _by_email(self, identity: str) -> str | None:
        email = identity_email(identity)
        if email is None:
            return None
        found = await self._client.users_lookupByEmail(email=email)
        return str(found["user"]["id"])
