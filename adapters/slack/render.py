"""How answers look in Slack: Markdown to mrkdwn, where to cut streamed text, Block Kit payloads.

Pure functions only, so that every rule about Slack's limits is testable without a network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_to_mrkdwn import SlackMarkdownConverter

from adapters.slack.layout import answer_layout
from core.replies import split_text

SECTION_LIMIT = 3000  # a section block's text (the App Home tab's usage)
# Raw Markdown per message of an answer that is not streamed: its markdown blocks hold 12,000
# characters in all; the rest is room for a table's Markdown rendered as cells.
MESSAGE_LIMIT = 11000
STREAM_LIMIT = 11000  # per streamed message; chat.appendStream takes 12,000 at most per call
TITLE_LIMIT = 80  # a thread's title, as Slack lists it; sessions take 200

MIN_PIECE = 16  # below this, a piece is not worth a message of its own
CLOSE_FENCE = "\n```"

FEEDBACK_ACTION = "feedback"
ASK_ACTION_PREFIX = "ask_prompt"
STOP_ACTION = "stop_answer"

# Rotated by Slack under the thread while the answer is on its way (ten at most).
LOADING_MESSAGES = (
    "Reading your organisation's inventory…",
    "Checking servers and web services…",
    "Looking at domains and databases…",
    "Looking for problems…",
)

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


def answer_blocks(
    markdown: str, steps: Sequence[str], audit_id: int | None
) -> list[dict[str, Any]]:
    """A finished answer: the tool steps as a context line, the text (Markdown, with a list of
    resources as a table), and feedback buttons."""
    blocks: list[dict[str, Any]] = []
    if steps:
        blocks.append(steps_block(steps))
    if markdown.strip():
        blocks.extend(answer_layout(markdown))
    if audit_id is not None:
        blocks.append(feedback_block(audit_id))
    return blocks


def steps_block(steps: Sequence[str]) -> dict[str, Any]:
    text = "  ".join(f"› {step}" for step in steps)[:SECTION_LIMIT]
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def stop_blocks(thread_ts: str) -> list[dict[str, Any]]:
    """Our own Stop, where Slack shows no agent session with its native one."""
    button = {
        "type": "button",
        "action_id": STOP_ACTION,
        "text": {"type": "plain_text", "text": "Stop"},
        "style": "danger",
        "value": thread_ts,
    }
    return [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "_Answering…_"}]},
        {"type": "actions", "block_id": "stop", "elements": [button]},
    ]


def thread_title(question: str) -> str:
    """A thread's title: the question's first line, cut at a word."""
    line = " ".join(question.split("\n", 1)[0].split()) or "Question"
    if len(line) <= TITLE_LIMIT:
        return line
    return line[: TITLE_LIMIT - 1].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def task_chunk(task_id: str, title: str, status: str, output: str | None = None) -> dict[str, Any]:
    """A tool step as a task update of a stream: in_progress, then complete or error."""
    chunk = {"type": "task_update", "id": task_id, "title": title[:200], "status": status}
    if output:
        chunk["output"] = output[:1000]
    return chunk


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
