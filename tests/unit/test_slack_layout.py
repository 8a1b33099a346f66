"""Answers laid out as Slack blocks: Markdown blocks, and lists of resources as one table."""

from __future__ import annotations

from adapters.slack.layout import (
    CELL_LIMIT,
    TABLE_ROWS,
    Table,
    answer_layout,
    split_tables,
    table_block,
)
from adapters.slack.render import thread_title

SERVERS = """**3 servers**:
- `acme-web-1` (digitalocean, running)
- `acme-web-2` (digitalocean, running)
- `acme-vpn` (linode, stopped)

Two are running."""


def cells(block: dict) -> list[list[str]]:
    return [[cell["text"] for cell in row] for row in block["rows"]]


def test_a_list_of_resources_becomes_a_table_between_its_text():
    blocks = answer_layout(SERVERS)
    assert [b["type"] for b in blocks] == ["markdown", "table", "markdown"]
    assert blocks[0]["text"] == "**3 servers**:"
    assert cells(blocks[1]) == [
        ["Name", "Details"],
        ["acme-web-1", "digitalocean, running"],
        ["acme-web-2", "digitalocean, running"],
        ["acme-vpn", "linode, stopped"],
    ]
    assert blocks[2]["text"] == "Two are running."


def test_a_pipe_table_keeps_its_header_and_right_aligned_columns():
    text = "| Kind | Count |\n|:--|--:|\n| servers | 8 |\n| domains | 6 |"
    (block,) = answer_layout(text)
    assert cells(block) == [["Kind", "Count"], ["servers", "8"], ["domains", "6"]]
    assert block["column_settings"][1] == {"is_wrapped": True, "align": "right"}
    assert "align" not in block["column_settings"][0]


def test_only_the_first_table_is_a_block_the_next_stays_markdown():
    twice = SERVERS + "\n\n" + "- `a` (x)\n- `b` (y)"
    blocks = answer_layout(twice)
    assert [b["type"] for b in blocks].count("table") == 1
    assert blocks[-1]["type"] == "markdown" and "- `a` (x)" in blocks[-1]["text"]


def test_a_table_past_slacks_rows_stays_markdown_and_one_item_is_no_table():
    many = "\n".join(f"- `host-{i}` (linode, running)" for i in range(TABLE_ROWS + 5))
    assert [b["type"] for b in answer_layout(many)] == ["markdown"]
    assert [b["type"] for b in answer_layout("- `only` (linode, running)")] == ["markdown"]
    assert all(isinstance(p, str) for p in split_tables("plain | text\nno table here"))


def test_cells_are_never_empty_nor_longer_than_slack_takes():
    block = table_block(Table([["Name", ""], ["x" * (CELL_LIMIT + 50), "y"]], ""))
    texts = [c for row in cells(block) for c in row]
    assert all(texts) and max(map(len, texts)) == CELL_LIMIT


def test_thread_titles_are_one_short_line():
    assert thread_title("Any critical issues?\nthanks") == "Any critical issues?"
    long = thread_title("word " * 40)
    assert len(long) <= 80 and long.endswith("…") and "  " not in long
