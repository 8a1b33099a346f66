"""A finished answer laid out in Block Kit: Markdown as `markdown` blocks, lists as a table.

A `markdown` block renders the Markdown the core writes as it is (no mrkdwn conversion) and
holds up to 12,000 characters in all per message, four times a `section`. A list of resources
reads better as a `table` block: a Markdown pipe table becomes one, and so does a bullet list
whose every item names a resource in backticks followed by its details in parentheses (the
shape the assistant lists resources in). Slack renders one table per message; any further
table stays Markdown. Pure functions, so Slack's limits are testable without a network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MARKDOWN_LIMIT = 12000  # all markdown blocks of one message together
TABLE_ROWS = 100  # header included
TABLE_CELLS = 20
CELL_LIMIT = 2000  # characters of a raw_text cell we send; long values are cut with "…"
MIN_TABLE_ROWS = 2  # a "list" of one is a sentence

_PIPE_ROW = re.compile(r"^\s*\|(.+)\|\s*$")
_PIPE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_RESOURCE_ITEM = re.compile(r"^\s*[-*]\s+`([^`]+)`\s*\(([^()]*)\)\s*$")


@dataclass(frozen=True, slots=True)
class Table:
    rows: list[list[str]]  # the first is the header
    source: str  # the Markdown it was read from, kept where no table block can show it
    align_right: frozenset[int] = frozenset()


Part = str | Table


def split_tables(markdown: str) -> list[Part]:
    """The answer as Markdown text and tables, in order."""
    lines = markdown.split("\n")
    parts: list[Part] = []
    text: list[str] = []
    i = 0
    while i < len(lines):
        found = _pipe_table(lines, i) or _resource_list(lines, i)
        if found is None:
            text.append(lines[i])
            i += 1
            continue
        table, i = found
        if "\n".join(text).strip():
            parts.append("\n".join(text).strip("\n"))
        text = []
        parts.append(table)
    if "\n".join(text).strip():
        parts.append("\n".join(text).strip("\n"))
    return parts


def _cells(line: str) -> list[str] | None:
    match = _PIPE_ROW.match(line)
    if match is None:
        return None
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", match.group(1))]


def _pipe_table(lines: list[str], start: int) -> tuple[Table, int] | None:
    header = _cells(lines[start])
    if header is None or start + 1 >= len(lines) or not _PIPE_RULE.match(lines[start + 1]):
        return None
    rule = [c.strip() for c in lines[start + 1].strip().strip("|").split("|")]
    right = frozenset(i for i, c in enumerate(rule) if c.endswith(":") and not c.startswith(":"))
    rows = [header]
    end = start + 2
    while end < len(lines) and (row := _cells(lines[end])) is not None:
        rows.append((row + [""] * len(header))[: len(header)])
        end += 1
    if len(rows) < MIN_TABLE_ROWS:
        return None
    return Table(rows, "\n".join(lines[start:end]), right), end


def _resource_list(lines: list[str], start: int) -> tuple[Table, int] | None:
    rows: list[list[str]] = []
    end = start
    while end < len(lines) and (item := _RESOURCE_ITEM.match(lines[end])) is not None:
        rows.append([item.group(1), item.group(2).strip()])
        end += 1
    if len(rows) < MIN_TABLE_ROWS:
        return None
    return Table([["Name", "Details"], *rows], "\n".join(lines[start:end])), end


def _cell(text: str) -> dict[str, str]:
    text = text.replace("\\|", "|").strip() or "–"  # Slack refuses an empty cell
    if len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 1] + "…"
    return {"type": "raw_text", "text": text}


def table_block(table: Table) -> dict[str, Any]:
    """Slack's table block; past its 100 rows or 20 columns the rest is left out, and the
    caller keeps the whole table as Markdown text instead (see `answer_layout`)."""
    width = min(TABLE_CELLS, max(len(r) for r in table.rows))
    rows = [[_cell(c) for c in (row + [""] * width)[:width]] for row in table.rows[:TABLE_ROWS]]
    settings = [
        {"is_wrapped": True, **({"align": "right"} if i in table.align_right else {})}
        for i in range(width)
    ]
    return {"type": "table", "rows": rows, "column_settings": settings}


def fits(table: Table) -> bool:
    return len(table.rows) <= TABLE_ROWS and max(len(r) for r in table.rows) <= TABLE_CELLS


def markdown_block(text: str) -> dict[str, Any]:
    return {"type": "markdown", "text": text}


def answer_layout(markdown: str) -> list[dict[str, Any]]:
    """Blocks for one message's worth of an answer (at most MARKDOWN_LIMIT characters of
    Markdown): its text as markdown blocks, and its first table that fits as a table block."""
    blocks: list[dict[str, Any]] = []
    pending: list[str] = []
    tabled = False
    for part in split_tables(markdown):
        if isinstance(part, Table) and not tabled and fits(part):
            if pending:
                blocks.append(markdown_block("\n\n".join(pending)))
                pending = []
            blocks.append(table_block(part))
            tabled = True
        else:
            pending.append(part if isinstance(part, str) else part.source)
    if pending:
        blocks.append(markdown_block("\n\n".join(pending)))
    return blocks
