"""Slack rendering rules: mrkdwn, where streamed text is cut, echoes that ping nobody, Block Kit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack.events import parse_link_args, split_command, strip_bot_mention
from adapters.slack.render import (
    answer_blocks,
    assistant_prompts,
    clean_prefix,
    home_view,
    parse_feedback,
    plain,
    prompt_buttons,
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
def test_streamed_pieces_add_up_to_the_text_and_respect_the_room(text, room):
    pieces, rest = [], text
    while rest:
        size = clean_prefix(rest, room) or min(room, len(rest))
        pieces.append(rest[:size])
        rest = rest[size:]
    assert "".join(pieces) == text
    assert all(0 < len(p) <= room for p in pieces)


def test_stream_cuts_fall_where_split_text_would_cut():
    text = "alpha beta gamma\n\ndelta epsilon zeta eta theta"
    assert text[: clean_prefix(text, 30)] == "alpha beta gamma"
    code = "```sh\n" + "echo one two three\n" * 10 + "```"
    cut = clean_prefix(code, 60)
    assert 0 < cut <= 60 and code[:cut].endswith(("three", "three\n"))
    assert clean_prefix("short", 60) == 5
    assert clean_prefix("x" * 100, 10) == 0, "too little room is no piece at all"


def test_echo_pings_nobody_and_hides_no_link():
    typed = (
        "<!channel> <!here|here> <!everyone> <@U123|max> <@U456> <!subteam^S1|@ops> "
        "<#C9|general> <https://evil.example/x|https://stackdock.example> <https://a.example> "
        "@here a & b"
    )
    shown = plain(typed)
    assert "<" not in shown and ">" not in shown, "no control sequence survives"
    assert "evil.example" not in shown, "a link's hidden target is dropped"
    assert "@max" in shown and "#general" in shown and "@ops" in shown
    assert "https://a.example" in shown and "a &amp; b" in shown
    assert "@here" not in shown and "@channel" not in shown and "@everyone" not in shown


def test_answer_blocks_hold_steps_text_and_feedback():
    blocks = answer_blocks("**hi**", ["Counted 60 resources"], audit_id=42)
    assert [b["type"] for b in blocks] == ["context", "markdown", "context_actions"]
    assert blocks[1]["text"] == "**hi**"  # Markdown as the core wrote it, not mrkdwn
    buttons = blocks[2]["elements"][0]
    assert buttons["type"] == "feedback_buttons"
    assert parse_feedback(buttons["positive_button"]["value"]) == (42, 1)
    assert parse_feedback(buttons["negative_button"]["value"]) == (42, -1)
    assert answer_blocks("text", [], audit_id=None) == [{"type": "markdown", "text": "text"}]


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
    assert parse_link_args("<@U9|max> <mailto:max@x.example|max@x.example>") == (
        "U9",
        "max@x.example",
    )
    assert parse_link_args("me@x.example") == (None, "me@x.example")
    assert parse_link_args("") == (None, None)
