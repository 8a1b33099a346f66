"""Answers never ping anyone: mention and broadcast syntax in model output is made inert.

A model can be asked (or tricked by StackDock data or channel instructions) to write Slack's
`<!channel>`, `<@U123>` or Discord's `@everyone`, `<@123>`; posted as is, the bot would ping on
someone's behalf. A zero-width space after the opening `<` or `@` keeps the text readable and
makes every platform show it as text. A Markdown link whose label is itself an address other
than its target is shown with its real target, so a label can't pose as another site.
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
# Slack control sequences (<@U…>, <!here>, <#C…>, <https://…|label>) and Discord's
# (<@123>, <@!123>, <@&role>, <#123>): all open with "<" then one of these.
_CONTROL = re.compile(r"<(?=[@!#]|(?:https?|mailto|ftp):)", re.IGNORECASE)
_BROADCAST = re.compile(r"@(?=(?:channel|everyone|here)\b)", re.IGNORECASE)
_MARKDOWN_LINK = re.compile(r"\[([^\]\n]{1,300})\]\(([^)\s]{1,2000})\)")
_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)+\.[a-z]{2,}\b", re.I)


def defang(text: str) -> str:
    """`text` with every mention, broadcast and look-alike link made harmless."""
    if "<" in text:
        text = _CONTROL.sub("<" + ZWSP, text)
    if "@" in text:
        text = _BROADCAST.sub("@" + ZWSP, text)
    if "](" in text:
        text = _MARKDOWN_LINK.sub(_honest_link, text)
    return text


def _honest_link(match: re.Match[str]) -> str:
    label, target = match.groups()
    if _ADDRESS.search(label) and label.strip().rstrip("/") not in target:
        return f"[{target}]({target})"
    return match.group(0)
