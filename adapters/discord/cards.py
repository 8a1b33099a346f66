"""How an answer's messages look: Components V2 cards where Discord takes them, else plain.

A card is a layout message (IS_COMPONENTS_V2): a container holding the answer as a text display
(up to 4,000 characters a message, twice plain content's 2,000) and the answer's buttons inside
it. Such a message can carry no `content`. Where Discord refuses the flag (an older API, a
proxy, a fake), the first refusal switches this process to plain content messages for good.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from adapters.discord.render import MESSAGE_LIMIT

log = logging.getLogger(__name__)

CARD_TEXT_LIMIT = 4000  # Discord's cap on the text displays of one message, all together
# Said on every send and edit: discord.py adds the client's default only where content is
# given, and a card has none (its text is a component that can mention people too).
NO_PINGS = discord.AllowedMentions.none()

Buttons = list[discord.ui.Item[Any]]


class Layout:
    """Whether answers go out as cards; one per bot, shared by every answer it writes."""

    def __init__(self, cards: bool = True) -> None:
        self.cards = cards

    def refused(self, exc: Exception) -> bool:
        """Whether `exc` is Discord refusing a card; if so, cards are off from now on."""
        if not self.cards or not isinstance(exc, discord.HTTPException) or exc.status != 400:
            return False
        self.cards = False
        log.warning("Discord refused a Components V2 message (%s); answering in plain text", exc)
        return True


def text_limit(cards: bool) -> int:
    return CARD_TEXT_LIMIT if cards else MESSAGE_LIMIT


def card(text: str, buttons: Buttons) -> discord.ui.LayoutView:
    """The answer card: its text, then its buttons, inside one container."""
    view = discord.ui.LayoutView(timeout=None)
    box = discord.ui.Container[discord.ui.LayoutView](discord.ui.TextDisplay(text))
    if buttons:
        box.add_item(discord.ui.ActionRow(*buttons))
    view.add_item(box)
    return view


def button_row(buttons: Buttons) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(button)
    return view


def new_message(cards: bool, text: str, buttons: Buttons) -> dict[str, Any]:
    """Keyword arguments of a `send` that shows `text` with `buttons` (none: no view at all;
    a webhook's send refuses `view=None`)."""
    if cards:
        return {"view": card(text, buttons), "allowed_mentions": NO_PINGS}
    plain = {"content": text, "allowed_mentions": NO_PINGS}
    return {**plain, "view": button_row(buttons)} if buttons else plain


def edited_message(cards: bool, text: str, buttons: Buttons) -> dict[str, Any]:
    """Keyword arguments of an `edit` to `text` with `buttons`; plain `view=None` removes
    buttons the message had (a card's view is replaced whole)."""
    if cards:
        return {"view": card(text, buttons), "allowed_mentions": NO_PINGS}
    view = button_row(buttons) if buttons else None
    return {"content": text, "view": view, "allowed_mentions": NO_PINGS}
