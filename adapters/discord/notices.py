"""Budget notices as Discord DMs. Discord gives bots no email, so people are found through
their links (`link` / `/stackdock link`): each linked Discord account of a user is told once."""

from __future__ import annotations

import logging

import discord

from core.ports import Mirror, Store

log = logging.getLogger(__name__)


class DiscordNotifier:
    """Implements the core's Notifier port for the Discord bot."""

    def __init__(self, client: discord.Client, store: Store, mirror: Mirror) -> None:
        self._client = client
        self._store = store
        self._mirror = mirror

    async def notify_budget(self, org_id: str, user_ids: list[str], text: str) -> None:
        wanted = set(user_ids)
        told: set[int] = set()
        for identity, user_ref in await self._store.links.all():
            if not identity.startswith("discord:"):
                continue
            user = (
                self._mirror.user_by_email(user_ref)
                if "@" in user_ref
                else self._mirror.user(user_ref)
            )
            discord_id = identity.rsplit(":", 1)[-1]
            if user is None or str(user["_id"]) not in wanted or not discord_id.isdigit():
                continue
            if int(discord_id) in told:
                continue  # linked in several servers: one DM is enough
            told.add(int(discord_id))
            try:
                person = await self._client.fetch_user(int(discord_id))
                await person.send(text, allowed_mentions=discord.AllowedMentions.none())
            except discord.HTTPException as exc:
                # DMs closed, or the account is gone: the other platforms may still reach them.
                log.info("no Discord DM for user %s: %s", user["_id"], exc.status)
