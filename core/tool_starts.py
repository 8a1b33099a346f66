"""Tool calls announced as they start, so a chat can show a step in progress before its result.

The tool loop reports a step when it has ended (a ToolStep with what it found); a tool runner
wrapped here also says when each call begins, as a Status naming the step it belongs to. The
words are built from the call alone, scrubbed, since the arguments are the model's output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from core.models import Status, ToolResult, ToolSpec, tool_step_key
from core.ports import ToolRunner
from core.redact import scrub_text

_VERBS = {
    "list_resources": "Listing",
    "count_resources": "Counting",
    "get_resource": "Looking up",
    "find_problems": "Looking for problems",
}


def starting_text(name: str, arguments: Mapping[str, Any]) -> str:
    """ "Listing servers…", "Looking up acme-web-1…", or the tool's name for one not known."""
    verb = _VERBS.get(name, f"Running {name.replace('_', ' ')}")
    what = arguments.get("id_or_name") or arguments.get("kind")
    detail = f" {scrub_text(' '.join(str(what).split()))[:80]}" if what else ""
    if name == "find_problems":
        detail = ""
    return f"{verb}{detail}…"


class AnnouncingTools:
    """A ToolRunner that tells `announce` about each call before running it."""

    def __init__(self, inner: ToolRunner, announce: Callable[[Status], None]) -> None:
        self._inner = inner
        self._announce = announce

    def specs(self) -> Sequence[ToolSpec]:
        return self._inner.specs()

    async def call(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        self._announce(Status(starting_text(name, arguments), step=tool_step_key(name, arguments)))
        return await self._inner.call(name, arguments)
