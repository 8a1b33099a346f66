"""What of a thread's stored history may go to the model for the person asking now.

A thread is shared: in a channel anyone may reply in it, and every reply is answered with the
thread's history, which holds the tool results of whoever asked before, looked up with *their*
role. History sent to a model may only hold what the current asker may read, so:

- A tool result is kept only when the current asker's role may read every kind the call could
  have returned (`find_problems` and an all-kinds `count_resources` cover several kinds; a
  project or dock from `get_resource` carries linked resources of any kind). Otherwise its
  content is replaced by a note that it was withheld: the call and its result still pair up
  (every provider rejects a call without its result), and the model calls the tool again, as
  the current asker, whose role the tool applies.
- Filtering by kind rather than dropping every earlier tool result: stored messages do not say
  who asked, and a result the current asker could fetch themselves tells them nothing new;
  keeping it spares a tool round trip in the common case, one person's own thread.
- The people's and the assistant's text stays: it was posted in the thread, where everyone in
  it already reads it. It is scrubbed again, and in a shared channel its network detail is
  masked under the current policy; tool results are re-masked for a shared channel too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from core.access import KINDS, can_read
from core.models import ChatMessage, Principal, ToolCall
from core.problems import PROBLEM_KINDS
from core.redact import redact_for_channel, scrub_text
from core.tools import STRING_CHARS, ArgumentError, check_arguments

WITHHELD = json.dumps(
    {
        "withheld": "This earlier lookup was made for someone whose role may read more than "
        "the person asking now. Look it up again if it is needed; the tools apply this "
        "person's role."
    }
)
_CARRIES_EVERY_KIND = frozenset({"projects", "docks"})  # linked resources, counts per dock


def visible_history(history: Sequence[ChatMessage], principal: Principal) -> list[ChatMessage]:
    """`history` as the model may see it when `principal` asks the next question."""
    calls: dict[str, ToolCall] = {}
    visible: list[ChatMessage] = []
    for message in history:
        if message.role == "tool":
            call = calls.get(message.tool_call_id or "")
            if call is None or not _may_read(call, principal.permissions):
                visible.append(dataclasses.replace(message, content=WITHHELD))
            else:
                visible.append(_redacted_result(message, principal.show_detail))
            continue
        for call in message.tool_calls:
            calls[call.id] = call
        text = str(redact_for_channel(message.content, principal.show_detail))
        visible.append(dataclasses.replace(message, content=text))
    return visible


def _covered_kinds(call: ToolCall) -> frozenset[str] | None:
    """Every kind the call's result could hold; None when the call can't be understood."""
    try:
        args = check_arguments(call.name, call.arguments, max_limit=1_000)
    except (ArgumentError, KeyError):
        return None
    kind = args.get("kind")
    if call.name == "find_problems":
        return frozenset(PROBLEM_KINDS)
    if call.name == "count_resources":
        return frozenset(KINDS) if kind is None else frozenset({kind})
    if call.name == "get_resource" and kind in _CARRIES_EVERY_KIND:
        return frozenset(KINDS)
    return frozenset({kind})


def _may_read(call: ToolCall, permissions: Mapping[str, str]) -> bool:
    kinds = _covered_kinds(call)
    return kinds is not None and all(can_read(kind, permissions) for kind in kinds)


def _redacted_result(message: ChatMessage, show_detail: bool) -> ChatMessage:
    if show_detail:
        # Scrubbed again so that a rule added since it was stored applies to it too.
        return dataclasses.replace(message, content=scrub_text(message.content))
    try:
        content: Any = json.loads(message.content)
    except ValueError:
        return dataclasses.replace(message, content=WITHHELD)
    masked = redact_for_channel(content, False, max_chars=STRING_CHARS)
    compact = json.dumps(masked, separators=(",", ":"), ensure_ascii=False, default=str)
    return dataclasses.replace(message, content=compact)
