"""How answers look in Slack: Markdown to mrkdwn, where to cut streamed text, Block Kit payloads.

Pure functions only, so that every rule about Slack's limits is testable without a network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_to_mrkdwn import SlackMarkdownConverter

from core.replies import split_text

# A section block holds at most 3,000 characters; messages are kept under it so that a final
# answer always fits one section next to its feedback buttons.
SECTION_LIMIT = 3000
MESSAGE_LIMIT = 2800  # raw Markdown per message; mrkdwn is never longer than its Markdown by much
STREAM_LIMIT = 11000  # per streamed message; chat.appendStream takes 12,000 at most per call

MIN_PIECE = 16  # below this, a piece is not worth a message of its own
CLOSE_FENCE = "\n```"

FEEDBACK_ACTION = "feedback"
ASK_ACTION_PREFIX = "ask_prompt"

_converter = SlackMarkdownConverter()

# Slack's control sequences: <@U…> and <!channel>, <!here>, <!everyone>, <!subteam^…> ping
# people; <#C…> names a channel; <http…|label> hides a link behind any label.
_CONTROL = re.compile(r"<([@#!])([^<>|]*)(?:\|([^<>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto|ftp):[^<>|]*)(?:\|([^<>]*))?>", re.IGNORECASE)
_BROADCAST = re.compile(r"@(channel|everyone|here)\b", re.IGNORECASE)


def to_mrkdwn(markdown: str) -> str:
    """Slack's own mrkdwn for a Markdown text (bold, links, lists, headings, tables)."""
    if not markdown:
        return ""
    return _converter.convert(markdown)


def plain(text: str) -> str:
    """`text` as words Slack shows and never acts on: no mention, broadcast or hidden link.

    For echoing what someone typed, where Slack would otherwise ping whoever they named.
    Mentions keep their visible name, a labelled link shows its label only (so a label
    cannot pose as another address), then `&`, `<` and `>` are escaped as Slack asks, and a
    bare "@channel" gets a zero-width space so no client setting turns it into a broadcast.
    """
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _CONTROL.sub(_control_name, text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), text)


def _control_name(match: re.Match[str]) -> str:
    kind, target, label = match.groups()
    if kind == "!":
        # <!here> -> @here, <!subteam^S1|@ops> -> @ops, <!date^…|fallback> -> fallback
        return label or "@" + target.split("^")[-1]
    name = (label or target).lstrip(kind)
    return kind + name  # <@U1|ada> -> @ada, <#C1|general> -> #general


def clean_prefix(text: str, room: int) -> int:
    """How much of `text` to send now when only `room` characters fit: up to where
    `split_text` would end its first piece (a paragraph, line or word break; never inside a
    code fence line), so that pieces sent one after another add up to `text` exactly.
    """
    if len(text) <= room:
        return len(text)
    if room <= MIN_PIECE:
        return 0
    lead = len(text) - len(text.lstrip())
    if lead:
        return min(lead, room)  # the leading blank run alone; split_text would drop it
    head = split_text(text, room)[0]
    if head.endswith(CLOSE_FENCE) and not text.startswith(head):
        head = head[: -len(CLOSE_FENCE)]  # the fence split_text closed the block with
    return len(head) if text.startswith(head) and head else min(room, len(text))


# ---- Block Kit ----


def feedback_block(audit_id: int) -> dict[str, Any]:
    """👍/👎 under an answer; the value carries the audit row the press is stored against."""
    return {
        "type": "context_actions",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION,
                "positive_button": {
                    "text": {"type": "plain_text", "text": "👍"},
                    "accessibility_label": "This answer was helpful",
                    "value": f"up:{audit_id}",
                },
                "negative_button": {
                    "text": {"type": "plain_text", "text": "👎"},
                    "accessibility_label": "This answer was not helpful",
                    "value": f"down:{audit_id}",
                },
            }
        ],
    }


def parse_feedback(value: str) -> tuple[int, int] | None:
    """(audit_id, +1|-1) from a feedback button's value, or None if it isn't one of ours."""
    kind, _, audit = value.partition(":")
    # ASCII digits that fit a database integer: `str.isdigit` also takes "²", which `int()`
    # refuses, and an id past 2**63 overflows the query.
    if kind not in {"up", "down"} or not re.fullmatch(r"[0-9]{1,18}", audit):
        return None
    return int(audit), 1 if kind == "up" else -1


def answer_blocks(mrkdwn: str, steps: Sequence[str], audit_id: int | None) -> list[dict[str, Any]]:
    """A finished answer: the tool steps as a context line, the text, and feedback buttons."""
    blocks: list[dict[str, Any]] = []
    if steps:
        blocks.append(steps_block(steps))
    if mrkdwn.strip():
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}})
    if audit_id is not None:
        blocks.append(feedback_block(audit_id))
    return blocks


def steps_block(steps: Sequence[str]) -> dict[str, Any]:
    text = "  ".join(f"› {step}" for step in steps)[:SECTION_LIMIT]
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def placeholder_text(status: str, steps: Sequence[str]) -> str:
    lines = [f"_{status}_"] + [f"› {step}" for step in steps]
    return "\n".join(lines)


def prompt_buttons(prompts: Sequence[str], title: str) -> list[dict[str, Any]]:
    """Suggested prompts as buttons; pressing one asks that question."""
    buttons = [
        {
            "type": "button",
            "action_id": f"{ASK_ACTION_PREFIX}_{i}",
            "text": {"type": "plain_text", "text": _button_label(prompt)},
            "value": prompt[:2000],
        }
        for i, prompt in enumerate(prompts[:25])
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": title}},
        {"type": "actions", "block_id": "suggested_prompts", "elements": buttons},
    ]


def _button_label(prompt: str) -> str:
    return prompt if len(prompt) <= 75 else prompt[:74] + "…"


def assistant_prompts(prompts: Sequence[str]) -> list[dict[str, str]]:
    """The shape assistant.threads.setSuggestedPrompts takes (it shows four at most)."""
    return [{"title": _button_label(p), "message": p} for p in prompts[:4]]


def home_view(usage_text: str, prompts: Sequence[str]) -> dict[str, Any]:
    """The App Home tab: the person's usage this month, and prompts to start from."""
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "StackDock assistant"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": usage_text[:SECTION_LIMIT]}},
            {"type": "divider"},
            *prompt_buttons(prompts, "*Ask me something*"),
        ],
    }
