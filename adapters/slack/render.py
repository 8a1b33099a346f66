"""How answers look in Slack: Markdown to mrkdwn, splitting long text, and Block Kit payloads.

Pure functions only, so that every rule about Slack's limits is testable without a network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_to_mrkdwn import SlackMarkdownConverter

# A section block holds at most 3,000 characters; messages are kept under it so that a final
# answer always fits one section next to its feedback buttons.
SECTION_LIMIT = 3000
MESSAGE_LIMIT = 2800  # raw Markdown per message; mrkdwn is never longer than its Markdown by much
STREAM_LIMIT = 11000  # per streamed message; chat.appendStream takes 12,000 at most per call

FEEDBACK_ACTION = "feedback"
ASK_ACTION_PREFIX = "ask_prompt"
FENCE = "```"

_converter = SlackMarkdownConverter()
_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def to_mrkdwn(markdown: str) -> str:
    """Slack's own mrkdwn for a Markdown text (bold, links, lists, headings, tables)."""
    if not markdown:
        return ""
    return _converter.convert(markdown)


def open_fence_at_end(text: str) -> bool:
    """True when `text` ends inside a ``` code block."""
    return text.count(FENCE) % 2 == 1


def split_markdown(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cuts `text` into pieces of at most `limit` characters that concatenate back to `text`.

    Cuts fall on a paragraph break when one is near, else a line break, else a space, so that
    a word or a link is not cut in half; only a single line longer than `limit` is cut hard.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = _best_cut(window)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _best_cut(window: str) -> int:
    floor = len(window) // 2  # a cut in the first half would make too many small messages
    for marker in ("\n\n", "\n", " "):
        at = window.rfind(marker, floor)
        if at != -1:
            return at + len(marker)
    return len(window)


def balance_fences(pieces: Sequence[str], inside: bool = False) -> list[str]:
    """Closes a code block at the end of a piece and reopens it in the next, so both render.

    `inside` says whether the text before the first piece left a code block open.
    """
    out: list[str] = []
    for piece in pieces:
        shown = (FENCE + "\n" + piece) if inside else piece
        inside = inside != open_fence_at_end(piece)
        if inside:
            shown += ("" if shown.endswith("\n") else "\n") + FENCE
        out.append(shown)
    return out


def message_pieces(markdown: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A long Markdown answer as mrkdwn message texts, in order, none over Slack's limits."""
    return [to_mrkdwn(piece) for piece in balance_fences(split_markdown(markdown, limit))]


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
    if kind not in {"up", "down"} or not audit.isdigit():
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
