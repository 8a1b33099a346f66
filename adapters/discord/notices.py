"""Budget notices as Discord DMs: the core says who and what; this only delivers.

Discord gives bots no email, so only Discord identities (from links) can be reached here.
"""

from __future__ import annotations

import logging

import discord

from core.identities import chat_user

log = logging.getLogger(__name__)


class DiscordNotifier:
    """Implements the core's Notifier port: a DM to each Discord account among `identities`."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def notify_budget(self, org_id: str, identities: list[str], text: str) -> None:
        told: set[int] = set()
        for identity in identities:
            user = chat_user(identity, "discord")
            if user is None or not user.isdigit() or int(user) in told:
                continue  # another platform's, or linked in several servers: one DM is enough
            told.add(int(user))
            try:
                person = await self._client.fetch_user(int(user))
                await person.send(text, allowed_mentions=discord.AllowedMentions.none())
            except discord.HTTPException as exc:
                # DMs closed, or the account is gone: the other platforms may still reach them.
                log.info("no Discord DM for %s: %s", identity, exc.status)
