"""Tool calls a model wrote as text instead of in the API's tool-call field.

Small local models often answer a question with the call itself, as text the server passes on as
content: a fenced ```json {"name": ..., "arguments": ...}``` block, the bare JSON object,
`<tool_call>…</tool_call>` tags (Qwen and Hermes templates), or `functions.NAME:{…}`. Such text is
never shown to a person: `TextCallFilter` holds back, while a turn streams, whatever could still
turn out to be such a call, and lets ordinary prose through at once.

A call naming one of OUR tools is taken loosely (extra "type"/"id" keys, no arguments key). A call
naming a tool we don't have is still a call, so the tool runner's error (which lists the real
tools) lets the model correct itself, but only when it is unmistakably one, since JSON an answer
holds must stay readable: inside `<tool_call>` tags, after `functions.`, or an object (bare or
fenced) whose only keys are a name and its arguments, the name shaped like a tool's
(`_TOOL_NAME`) and the arguments a JSON object. Text that opens like a call but is broken is
hidden and not run: half a call is no answer either.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from core.models import ToolCall

_TAG_OPEN, _TAG_CLOSE = "<tool_call>", "</tool_call>"
_FENCE = "```"
_PREFIX = "functions."
# Fences that may hold a call; a fence of any other language is plain text.
_CALL_FENCES = frozenset({"", "json", "tool_call", "tool_code", "tool"})
_NAME_KEYS = ("name", "tool", "tool_name")
_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
_OTHER_KEYS = frozenset({"type", "id"})
# Past this, held text is not a call a model would write: let the person read it.
_MAX_HELD = 16_000

# Where something at a line start could open a call; `<tool_call>` may open one anywhere.
_OPENER = re.compile(r"(?m)^[ \t]*(?:```|\{|\[|functions\.)|<tool_call>")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
# A name a model could have meant as a tool's: the API's own limits, so that a made-up call
# stored in the history is one every provider accepts back.
_TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
_NAMED = re.compile(r'"(?:name|tool|tool_name)"\s*:\s*"([^"]+)"')
_PREFIXED_NAME = re.compile(r"^\s*functions\.([A-Za-z_][A-Za-z0-9_\-]*)")
_SEPARATOR = re.compile(r"[ \t]*:?[ \t]*")
# How a call opens, whatever it names: held text that starts so but is no valid call is hidden.
_CALL_START = re.compile(
    r'\s*\[?\s*\{\s*"(?:name|tool|tool_name)"\s*:\s*"[A-Za-z_][A-Za-z0-9_\-]{0,63}"\s*,'
    r'\s*"(?:arguments|parameters|args|input)"\s*:'
    r"|\s*functions\.[A-Za-z_][A-Za-z0-9_\-]*[ \t]*:?[ \t]*\{"
)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class _Segment:
    """What the text from an opener turned out to be, up to `end`."""

    kind: str  # "open" (undecided yet), "call", "hidden" (a broken call) or "text"
    end: int = 0
    calls: tuple[ToolCall, ...] = ()


@dataclass
class TextCallFilter:
    """One turn's text in, the part a person may read out; the calls found are kept aside."""

    tool_names: Collection[str]
    text: str = ""
    shown: int = 0  # text[:shown] has been decided (released or taken as a call)
    visible: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    after_call: bool = False  # prose that follows a removed call starts a new paragraph
    _scans: dict[int, _Scan] = field(default_factory=dict)

    def feed(self, piece: str) -> str:
        """The text that can be shown now; what might still be a call is held back."""
        self.text += piece
        return self._release(final=False)

    def finish(self, *, cut_off: bool = False) -> str:
        """The rest of the turn's readable text. A call left unfinished by a turn that was cut
        off is dropped: half a call is no answer."""
        return self._release(final=True, cut_off=cut_off)

    @property
    def visible_text(self) -> str:
        return "".join(self.visible)

    def _release(self, *, final: bool, cut_off: bool = False) -> str:
        out: list[str] = []
        while self.shown < len(self.text):
            match = _OPENER.search(self.text, self.shown)
            if match is None:
                # At the end, trailing whitespace is dropped; before it, lines that could still
                # open a call wait, with the line break before them.
                held = len(self.text) - len(self.text.rstrip()) if final else _held_tail(self.text)
                end = max(self.shown, len(self.text) - held)
                self._emit(out, self.text[self.shown : end])
                self.shown = len(self.text) if final else end
                break
            start = match.start()
            before = self.text[self.shown : start]
            # A turn that was cut off is judged as if it went on: what is unfinished stays so.
            segment = _segment(
                self.text, start, self.tool_names, final=final and not cut_off, scans=self._scans
            )
            if segment.kind == "open":
                if not final and len(self.text) - start <= _MAX_HELD:
                    # The line break before a call goes with it, so it waits too.
                    self._emit(out, before.rstrip())
                    self.shown += len(before.rstrip())
                    break
                if final and cut_off:
                    self._emit(out, before.rstrip())
                    self.shown = len(self.text)  # half a call is no answer
                    break
                segment = _unfinished(self.text, start, self.tool_names)
            decided = self.text[start : segment.end]
            if segment.kind == "text" and not _names_a_tool(decided, self.tool_names):
                self._emit(out, before)
                self._emit(out, decided)
                self.shown = max(segment.end, start + 1)
                continue
            # A call, or one that cannot be run (broken arguments): never prose.
            self.calls.extend(segment.calls)
            self._emit(out, before.rstrip())
            self.after_call = True
            end = segment.end
            while end < len(self.text) and self.text[end].isspace():
                end += 1
            self.shown = end
        released = "".join(out)
        self.visible.append(released)
        return released

    def _emit(self, out: list[str], piece: str) -> None:
        if self.after_call:
            piece = piece.lstrip()
            if not piece:
                return
            if any(p.strip() for p in (*self.visible, *out)):
                piece = "\n\n" + piece
            self.after_call = False
        out.append(piece)


def _names_a_tool(text: str, tools: Collection[str]) -> bool:
    """Whether held text is shaped like a call to one of our tools, though not a valid one."""
    head = text[:400]
    named = _NAMED.search(head) or _PREFIXED_NAME.search(head)
    return named is not None and named.group(1) in tools


def _unfinished(text: str, start: int, tools: Collection[str]) -> _Segment:
    """The rest of the text from an opener that never closed: hidden when it reads as a call."""
    body = text[start:].lstrip()
    marked = body.startswith(_TAG_OPEN)
    if marked:
        body = body[len(_TAG_OPEN) :]
    elif body.startswith(_FENCE):
        body = body[body.find("\n") + 1 :] if "\n" in body else ""
    call_like = (marked and _payload(body)) or _names_a_tool(body, tools) or _CALL_START.match(body)
    return _Segment("hidden" if call_like else "text", len(text))


def _held_tail(text: str) -> int:
    """How many characters at the end of `text` must wait: a last line that could still open a
    call (or is blank), with the whitespace before it, or the start of a `<tool_call>` tag."""
    line_start = text.rfind("\n") + 1
    # The last line without its indent, copied only when short enough to open a call: this
    # runs on every piece of a streamed answer, whose last line grows with it.
    opens = line_start
    while opens < len(text) and text[opens] in " \t":
        opens += 1
    rest = len(text) - opens
    if rest == 0 or (
        rest <= len(_PREFIX)
        and (_FENCE.startswith(text[opens:]) or _PREFIX.startswith(text[opens:]))
    ):
        return len(text) - len(text[:line_start].rstrip()) if line_start else len(text)
    # The longest tail that could open the tag first; only a tail starting with "<" can.
    start = text.find("<", max(len(text) - (len(_TAG_OPEN) - 1), 0))
    while start != -1:
        if _TAG_OPEN.startswith(text[start:]):
            return len(text) - len(text[:start].rstrip())
        start = text.find("<", start + 1)
    return 0


def _segment(
    text: str, start: int, tools: Collection[str], *, final: bool, scans: dict[int, _Scan]
) -> _Segment:
    body = text[start:].lstrip(" \t")
    offset = len(text) - len(body)
    if body.startswith(_TAG_OPEN):
        return _tagged(text, offset, tools, final)
    if body.startswith(_FENCE):
        return _fenced(text, offset, tools, final)
    if body.startswith(_PREFIX):
        return _prefixed(text, offset, scans)
    return _bare(text, offset, tools, scans)


def _decided(end: int, body: str, tools: Collection[str], *, marked: bool = False) -> _Segment:
    """What a closed segment's `body` is; `marked`: it was inside `<tool_call>` tags."""
    calls = parse_calls(body, tools, marked=marked)
    if calls:
        return _Segment("call", end, calls)
    hidden = (marked and _payload(body)) or _names_a_tool(body, tools) or _broken_call(body)
    return _Segment("hidden" if hidden else "text", end)


def _payload(body: str) -> bool:
    """Whether what follows a `<tool_call>` tag is a call's payload, not prose that names the tag."""
    return body.lstrip().startswith(("{", "[", _PREFIX))


def _broken_call(body: str) -> bool:
    """Whether `body`, no call we can run, opens like one and holds nothing else: its JSON is
    broken, or it is only a name and arguments that are not an object."""
    if not _CALL_START.match(body):
        return False
    try:
        value = json.loads(body)
    except ValueError:
        return True
    values = value if isinstance(value, list) else [value]
    # The opening matched a name and an arguments key: any other key makes it data.
    return all(isinstance(item, dict) and len(item) == 2 for item in values)


def _tagged(text: str, start: int, tools: Collection[str], final: bool) -> _Segment:
    inner = start + len(_TAG_OPEN)
    close = text.find(_TAG_CLOSE, inner)
    if close < 0:
        if not final:
            return _Segment("open")
        return _decided(len(text), text[inner:], tools, marked=True)
    return _decided(close + len(_TAG_CLOSE), text[inner:close], tools, marked=True)


def _fenced(text: str, start: int, tools: Collection[str], final: bool) -> _Segment:
    line_end = text.find("\n", start)
    if line_end < 0:
        if not final:
            return _Segment("open")
        line_end = len(text)
    language = text[start + len(_FENCE) : line_end].strip().lower()
    if language not in _CALL_FENCES:
        return _Segment("text", line_end)  # the opening line; its body is read as usual
    close = text.find(_FENCE, line_end)
    if close < 0:
        if not final:
            return _Segment("open")
        return _decided(len(text), text[line_end:], tools)
    return _decided(close + len(_FENCE), text[line_end:close], tools)


def _prefixed(text: str, start: int, scans: dict[int, _Scan] | None = None) -> _Segment:
    at = start + len(_PREFIX)
    name = _IDENTIFIER.match(text, at)
    if name is None:
        return _Segment("open") if at >= len(text) else _Segment("text", at)
    separator = _SEPARATOR.match(text, name.end())
    brace = separator.end() if separator else name.end()
    if brace >= len(text):
        return _Segment("open")  # the name or the colon may go on
    if text[brace] != "{":
        return _Segment("text", brace)
    end = json_value_end(text, brace, scans)
    if end is None:
        return _Segment("open")
    if end < 0:
        return _Segment("text", brace + 1)
    arguments = _json_object(text[brace:end])
    if not _TOOL_NAME.fullmatch(name.group()):
        return _Segment("text", end)
    if arguments is None:
        return _Segment("hidden", end)  # a call, with arguments that are not valid JSON
    return _Segment("call", end, (ToolCall(new_call_id(), name.group(), arguments),))


def _bare(text: str, start: int, tools: Collection[str], scans: dict[int, _Scan]) -> _Segment:
    end = json_value_end(text, start, scans)
    if end is None:
        return _Segment("open")
    if end < 0:
        return _Segment("text", start + 1)
    return _decided(end, text[start:end], tools)


@dataclass
class _Scan:
    """How far one JSON value has been read: a value streamed in pieces is read once, not again
    from its start with every piece."""

    position: int
    allowed: str  # what may follow the opening bracket: a call's key or object, not prose
    depth: int = 0
    in_string: bool = False
    escaped: bool = False
    result: int | None = None


def json_value_end(text: str, start: int, scans: dict[int, _Scan] | None = None) -> int | None:
    """Index after the JSON object (or list of objects) opening at `start`; None while it is
    incomplete, -1 when what follows the bracket cannot be one. `scans` keeps the reading of
    values still open between calls."""
    scan = scans.get(start) if scans is not None else None
    if scan is None:
        scan = _Scan(start, '"}' if text[start] == "{" else "{]")
        if scans is not None:
            scans[start] = scan
    if scan.result is not None:
        return scan.result
    for index in range(scan.position, len(text)):
        char = text[index]
        if scan.in_string:
            if scan.escaped:
                scan.escaped = False
            elif char == "\\":
                scan.escaped = True
            elif char == '"':
                scan.in_string = False
            continue
        if scan.allowed and index > start and not char.isspace():
            if char not in scan.allowed:
                scan.result = -1
                return -1
            scan.allowed = ""
        if char == '"':
            scan.in_string = True
        elif char in "{[":
            scan.depth += 1
        elif char in "}]":
            scan.depth -= 1
            if scan.depth == 0:
                scan.result = index + 1
                return scan.result
    scan.position = len(text)
    return None


def parse_calls(
    text: str, tools: Collection[str], *, marked: bool = False
) -> tuple[ToolCall, ...] | None:
    """The calls in `text` (one object, several, a list, or `functions.NAME:{…}`); None unless
    all of it is calls. A call to a tool not in `tools` must be strictly shaped (only a name and
    object arguments) unless `marked`: the text was inside `<tool_call>` tags."""
    body = text.strip()
    if body.startswith(_PREFIX):
        segment = _prefixed(body, 0)
        whole = segment.kind == "call" and not body[segment.end :].strip()
        return segment.calls if whole else None
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    while position < len(body):
        try:
            value, position = decoder.raw_decode(body, position)
        except ValueError:
            return None
        values.extend(value if isinstance(value, list) else [value])
        while position < len(body) and body[position] in " \t\r\n,;":
            position += 1
    calls = [_call(value, tools, marked) for value in values]
    if not calls or any(call is None for call in calls):
        return None
    return tuple(call for call in calls if call is not None)


def _call(value: Any, tools: Collection[str], marked: bool) -> ToolCall | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):  # OpenAI's own shape, written out
        outer = set(value) - {"function"} - _OTHER_KEYS
        return None if outer else _call(value["function"], tools, marked)
    names = [key for key in _NAME_KEYS if key in value]
    given = [key for key in _ARGUMENT_KEYS if key in value]
    if len(names) != 1 or len(given) > 1:
        return None
    name = value[names[0]]
    if not isinstance(name, str):
        return None
    ours = name in tools
    if not ours and not _TOOL_NAME.fullmatch(name):
        return None
    # A made-up name outside tags is a call only in the strict shape: an answer's own JSON
    # stays readable.
    strict = not (ours or marked)
    if strict and not given:
        return None
    if set(value) - {names[0], *given} - (set() if strict else _OTHER_KEYS):
        return None  # data that happens to have a "name", not a call
    arguments: Any = value[given[0]] if given else {}
    if isinstance(arguments, str):
        arguments = _json_object(arguments) if arguments.strip() else {}
    if not isinstance(arguments, dict):
        return None
    return ToolCall(new_call_id(), name, arguments)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
