"""Answers as Discord messages (through the core's one splitter), and kept from pinging anyone."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord.render import MESSAGE_LIMIT, messages, neutralise_mentions, tool_line
from core.models import ToolStep
from core.replies import split_text

FENCE_LINE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def fences_balanced(chunk: str) -> bool:
    return len(FENCE_LINE.findall(chunk)) % 2 == 0


def words(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


def test_a_short_answer_is_one_message_unchanged() -> None:
    assert messages("All 12 servers are up.") == ["All 12 servers are up."]


def test_a_5000_character_answer_splits_into_three_messages_without_breaking_words() -> None:
    text = words(700)[:5000].rsplit(" ", 1)[0]
    assert 4900 < len(text) <= 5000
    chunks = messages(text)
    assert len(chunks) == 3
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_a_paragraph_break_is_preferred_to_a_line_break() -> None:
    text = "a" * 1200 + "\n\n" + "b" * 300 + "\n" + "c" * 900
    assert messages(text) == ["a" * 1200, "b" * 300 + "\n" + "c" * 900]


def test_a_clean_break_too_early_in_the_message_gives_way_to_a_fuller_one() -> None:
    text = "a" * 400 + "\n\n" + " ".join(["word"] * 500)
    chunks = messages(text)
    assert len(chunks[0]) > MESSAGE_LIMIT // 2
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)


def test_a_code_block_cut_in_two_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"server-{i:04d}  10.0.0.{i % 250}  running" for i in range(120))
    text = "Here are your servers:\n\n```text\n" + code + "\n```\nThat is all."
    chunks = messages(text)
    assert len(chunks) >= 2
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert all(fences_balanced(c) for c in chunks)
    assert chunks[0].endswith("\n```")
    assert chunks[1].startswith("```text\n")
    kept = [line for c in chunks for line in c.splitlines() if line.startswith("server-")]
    assert kept == code.splitlines()


def test_prose_before_a_code_block_is_cut_before_the_block_rather_than_inside_it() -> None:
    prose = words(250)
    block = "```sql\n" + "\n".join(f"SELECT {i};" for i in range(60)) + "\n```"
    assert len(prose) + len(block) > MESSAGE_LIMIT
    chunks = messages(prose + "\n" + block)
    assert chunks == [prose, block]


def test_a_word_longer_than_a_message_is_cut_hard_and_nothing_is_lost() -> None:
    text = "x" * 4500
    chunks = messages(text)
    assert [len(c) for c in chunks] == [1996, 1996, 508]
    assert "".join(chunks) == text


def test_mentions_are_neutralised_but_emails_and_words_are_not() -> None:
    text = "@everyone @here <@123456789012345678> <@!123456789012345678> <@&223456789012345678>"
    out = neutralise_mentions(text + " ops@example.com")
    assert "@everyone" not in out and "@here" not in out
    assert "<@1" not in out and "<@!" not in out and "<@&" not in out
    assert out.replace("\u200b", "") == text + " ops@example.com"


def test_neutralised_mentions_still_fit_the_message_limit() -> None:
    # Each neutralised mention grows by a zero-width space; splitting must count those.
    text = "@everyone " * (MESSAGE_LIMIT // 10)
    assert len(text) == MESSAGE_LIMIT
    chunks = messages(text)
    assert len(chunks) == 2 and all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert not any("@everyone" in c for c in chunks)


def test_an_empty_answer_is_still_one_message() -> None:
    assert messages("  \n ") == ["…"]


def test_a_tool_step_is_one_quiet_line() -> None:
    line = tool_line(ToolStep("list_resources", {"kind": "servers"}, "Looked up 12 servers"))
    assert line == "-# › Looked up 12 servers"
    failed = tool_line(ToolStep("get_resource", {}, "No such server", is_error=True))
    assert failed == "-# ⚠ No such server"


prose = st.text(alphabet="abcdefghij \n", min_size=1, max_size=120)
code_block = st.builds(
    lambda lang, body: f"\n```{lang}\n{body}\n```\n",
    st.sampled_from(["", "python", "sql"]),
    st.text(alphabet="klmnop =\n", min_size=1, max_size=400),
)
piece = st.one_of(prose, code_block)


@settings(max_examples=200, deadline=None)
@given(st.lists(piece, min_size=1, max_size=120), st.integers(min_value=60, max_value=2000))
def test_every_chunk_fits_and_keeps_its_code_fences_balanced(pieces: list[str], limit: int) -> None:
    text = "".join(pieces)
    chunks = split_text(text, limit)
    assert all(len(c) <= limit for c in chunks)
    assert all(c.strip() for c in chunks)
    assert all(fences_balanced(c) for c in chunks)

    # Every word survives, in order, apart from the fences that were added.
    def plain(s: str) -> list[str]:
        return [w for w in s.split() if not w.startswith(("```", "~~~"))]

    assert plain("\n".join(chunks)) == plain(text) or any(len(w) > limit // 2 for w in text.split())
