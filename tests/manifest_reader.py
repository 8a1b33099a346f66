"""Reads slack-app-manifest.yml without a YAML library (the project has none).

Only the block style the manifest is written in: `key: value`, nested mappings by indent,
lists of scalars or of mappings (`- key: value`), `#` comments, quoted and plain scalars,
true/false. Anything else raises, so a manifest edited past this subset fails its test
loudly instead of being half-read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_LINE = re.compile(r"^(?P<indent> *)(?P<dash>- )?(?P<rest>.*)$")
_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w.-]*):(?: (?P<value>.*))?$")


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    if text in {"true", "false"}:
        return text == "true"
    if text.startswith(("'", "{", "[", "&", "*", "|", ">")):
        raise ValueError(f"not in the manifest's YAML subset: {text!r}")
    return text


def _lines(text: str) -> list[tuple[int, bool, str]]:
    out = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _LINE.match(raw)
        if match is None:
            raise ValueError(f"the manifest reader does not know this line: {raw!r}")
        out.append((len(match["indent"]), bool(match["dash"]), match["rest"]))
    return out


def _block(lines: list[tuple[int, bool, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1]:
        return _list(lines, i, indent)
    return _mapping(lines, i, indent)


def _mapping(lines: list[tuple[int, bool, str]], i: int, indent: int) -> tuple[dict, int]:
    result: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent and not lines[i][1]:
        match = _KEY.match(lines[i][2])
        if match is None:
            raise ValueError(f"not a `key: value` line: {lines[i][2]!r}")
        key, value = match["key"], match["value"]
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        i += 1
        if value is not None and value.strip():
            result[key] = _scalar(value)
        elif i < len(lines) and lines[i][0] > indent:
            result[key], i = _block(lines, i, lines[i][0])
        elif i < len(lines) and lines[i][0] == indent and lines[i][1]:
            result[key], i = _list(lines, i, indent)  # a list at its key's own indent
        else:
            result[key] = None
    if i < len(lines) and lines[i][0] > indent:
        raise ValueError(f"unexpected indent at {lines[i][2]!r}")
    return result, i


def _list(lines: list[tuple[int, bool, str]], i: int, indent: int) -> tuple[list, int]:
    result: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and lines[i][1]:
        rest = lines[i][2]
        if _KEY.match(rest):  # "- key: value" opens a mapping whose keys sit 2 further in
            item_lines = [(indent + 2, False, rest)]
            i += 1
            while i < len(lines) and lines[i][0] > indent:
                item_lines.append(lines[i])
                i += 1
            item, used = _mapping(item_lines, 0, indent + 2)
            if used != len(item_lines):
                raise ValueError(f"unreadable list item near {rest!r}")
            result.append(item)
        else:
            result.append(_scalar(rest))
            i += 1
    return result, i


def read_manifest(path: Path) -> dict[str, Any]:
    lines = _lines(path.read_text(encoding="utf-8"))
    manifest, used = _mapping(lines, 0, 0)
    if used != len(lines):
        raise ValueError(f"unreadable manifest line: {lines[used][2]!r}")
    return manifest
