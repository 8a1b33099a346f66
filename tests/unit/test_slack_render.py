"""Slack rendering rules: mrkdwn conversion, splitting under Slack's limits, Block Kit shapes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack.events import parse_link_args, split_command, strip_bot_mention
from adapters.slack.render import (
    FENCE,
    SECTION_LIMIT,
    answer_blocks,
    assistant_prompts,
    balance_fences,
    home_view,
    message_pieces,
    open_fence_at_end,
    parse_feedback,
    prompt_buttons,
    split_markdown,
    to_mrkdwn,
)


def test_markdown_becomes_mrkdwn():
    out = to_mrkdwn("**Servers**: see [the dashboard](https://example.com) and `web-1`")
    assert out == "*Servers*: see <https://example.com|the dashboard> and `web-1`"


def test_lists_and_headings_become_mrkdwn():
    out = to_mrkdwn("# Problems\n- one\n- two")
    assert out.splitlines() == ["*Problems*", "• one", "• two"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab \n`*#-", max_size=3000), st.integers(min_value=1, max_value=400))
def test_split_pieces_concatenate_back_and_respect_the_limit(text, limit):
    pieces = split_markdown(text, limit)
    assert "".join(pieces) == text
    assert all(len(p) <= limit for p in pieces)
    assert all(pieces) or pieces == [""]


def test_split_prefers_paragraphs_then_lines_then_words():
    text = "alpha beta\n\ngamma delta epsilon\nzeta"
    assert split_markdown(text, 16) == ["alpha beta\n\n", "gamma delta ", "epsilon\nzeta"]
    assert split_markdown("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_code_block_cut_in_two_is_closed_and_reopened():
    text = "Here:\n```\n" + "line\n" * 40 + "```\nafter"
    pieces = balance_fences(split_markdown(text, 60))
    assert len(pieces) > 2
    assert all(not open_fence_at_end(p) for p in pieces)
    assert pieces[1].startswith(FENCE + "\n")


def test_balance_continues_a_block_left_open_before():
    assert balance_fences(["still code\n", "```\nafter"], inside=True) == [
        "```\nstill code\n```",
        "```\n```\nafter",
    ]


def test_long_answer_becomes_messages_that_each_fit_a_section():
    answer = "\n".join(f"- **server-{i}** in `eu-west-{i % 3}`: running" for i in range(400))
    pieces = message_pieces(answer)
    assert len(pieces) > 3
    assert all(len(p) <= SECTION_LIMIT for p in pieces)
    joined = "\n".join(pieces)
    assert all(f"*server-{i}*" in joined for i in range(400))


def test_answer_blocks_hold_steps_text_and_feedback():
    blocks = answer_blocks("*hi*", ["Counted 60 resources"], audit_id=42)
    assert [b["type"] for b in blocks] == ["context", "section", "context_actions"]
    buttons = blocks[2]["elements"][0]
    assert buttons["type"] == "feedback_buttons"
    assert parse_feedback(buttons["positive_button"]["value"]) == (42, 1)
    assert parse_feedback(buttons["negative_button"]["value"]) == (42, -1)
    assert answer_blocks("text", [], audit_id=None) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "text"}}
    ]


def test_feedback_values_from_elsewhere_are_rejected():
    assert parse_feedback("up:") is None
    assert parse_feedback("sideways:3") is None
    assert parse_feedback("up:3; drop table") is None


def test_prompt_buttons_carry_the_question_and_unique_action_ids():
    prompts = ["Which servers need updates?", "x" * 100]
    blocks = prompt_buttons(prompts, "*Try*")
    buttons = blocks[1]["elements"]
    assert [b["value"] for b in buttons] == prompts
    assert len({b["action_id"] for b in buttons}) == 2
    assert len(buttons[1]["text"]["text"]) <= 75


def test_assistant_prompts_are_at_most_four():
    assert len(assistant_prompts([str(i) for i in range(6)])) == 4
    assert assistant_prompts(["Q?"]) == [{"title": "Q?", "message": "Q?"}]


def test_home_view_shows_usage_and_prompts():
    view = home_view("*Your usage*: 3 questions", ["Q1", "Q2"])
    assert view["type"] == "home"
    texts = [b.get("text", {}).get("text") for b in view["blocks"]]
    assert "*Your usage*: 3 questions" in texts
    values = [e["value"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert values == ["Q1", "Q2"]


def test_commands_and_mentions_are_parsed():
    assert split_command("") == ("help", "")
    assert split_command("  ASK  why is it down? ") == ("ask", "why is it down?")
    assert split_command("prompts servers") == ("prompts", "servers")
    assert strip_bot_mention("<@UBOT> how many <@U2> servers?", "UBOT") == "how many <@U2> servers?"
    assert parse_link_args("<@U9|max> <mailto:max@x.example|max@x.example>", "T1") == (
        "slack:T1:U9",
        "max@x.example",
    )
    assert parse_link_args("me@x.example", "T1") == (None, "me@x.example")
    assert parse_link_args("", "T1") == (None, None)
