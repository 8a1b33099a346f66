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
  it already reads it. Everything was scrubbed before it was stored, so it is not scrubbed
  again here (that would cost milliseconds per question); in a shared channel, text and tool
  results are masked again under the current detail policy, which a binding may have changed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from core.access import KINDS, can_read
from core.models import ChatMessage, Principal, ToolCall
from core.problems import PROBLEM_KINDS
from core.redact import is_network_key, mask_network_detail
from core.tools import ArgumentError, check_arguments

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
    calls = [call for message in history for call in message.tool_calls]
    withheld = {call.id for call in calls if not _may_read(call, principal.permissions)}
    known = {call.id for call in calls}
    visible: list[ChatMessage] = []
    for message in history:
        if message.role == "tool":
            if message.tool_call_id in withheld or message.tool_call_id not in known:
                visible.append(dataclasses.replace(message, content=WITHHELD))
            else:
                visible.append(_redacted_result(message, principal.show_detail))
            continue
        if any(call.id in withheld for call in message.tool_calls):
            # A withheld call's arguments may name what its result showed (a dock, say).
            bare = tuple(_bare(c) if c.id in withheld else c for c in message.tool_calls)
            message = dataclasses.replace(message, tool_calls=bare)
        if not principal.show_detail:
            text = mask_network_detail(message.content, hostnames=False)
            message = dataclasses.replace(message, content=text)
        visible.append(message)
    return visible


def _bare(call: ToolCall) -> ToolCall:
    kind = call.arguments.get("kind")
    return ToolCall(call.id, call.name, {"kind": kind} if kind in KINDS else {})


def _covered_kinds(call: ToolCall) -> frozenset[str] | None:
    """Every kind the call's result could hold; None when the call can't be understood."""
    try:
        args = check_arguments(call.name, call.arguments, max_limit=1_000)
    except (ArgumentError, KeyError):
        return None
    kind: str | None = args.get("kind")
    if call.name == "find_problems":
        return frozenset(PROBLEM_KINDS)
    if kind is None:  # count_resources over every kind the earlier asker could read
        return frozenset(KINDS)
    if call.name == "get_resource" and kind in _CARRIES_EVERY_KIND:
        return frozenset(KINDS)
    return frozenset({kind})


def _may_read(call: ToolCall, permissions: Mapping[str, str]) -> bool:
    kinds = _covered_kinds(call)
    return kinds is not None and all(can_read(kind, permissions) for kind in kinds)


def _redacted_result(message: ChatMessage, show_detail: bool) -> ChatMessage:
    if show_detail:
        return message
    try:
        content: Any = json.loads(message.content)
    except ValueError:
        return dataclasses.replace(message, content=WITHHELD)
    compact = json.dumps(_masked(content), separators=(",", ":"), ensure_ascii=False, default=str)
    return dataclasses.replace(message, content=compact)


def _masked(value: Any, key: str = "") -> Any:
    """A tool result with network detail masked as `redact_for_channel` masks it."""
    if isinstance(value, str):
        return mask_network_detail(value, hostnames=is_network_key(key))
    if isinstance(value, dict):
        return {k: _masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    return value
