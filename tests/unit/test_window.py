"""Context windows and history trimming."""

from __future__ import annotations

from core.models import ChatMessage, ToolCall
from core.providers.window import (
    DEFAULT_WINDOW,
    context_window,
    estimate_tokens,
    fit_history,
    message_tokens,
)


def user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def assistant(text: str, *calls: ToolCall) -> ChatMessage:
    return ChatMessage(role="assistant", content=text, tool_calls=calls)


def tool(call_id: str, text: str) -> ChatMessage:
    return ChatMessage(role="tool", content=text, tool_call_id=call_id, name="list_resources")


def test_known_models_use_their_published_window() -> None:
    assert context_window("gpt-4o-mini") == 128_000
    assert context_window("claude-sonnet-5") == 1_000_000


def test_unknown_models_fall_back_by_family_then_to_a_small_default() -> None:
    assert context_window("llama3.1:8b") == 8_192
    assert context_window("my-proxy/claude-in-house-2") == 200_000
    assert context_window("totally-unknown-model") == DEFAULT_WINDOW


def test_estimate_is_about_four_characters_per_token() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("abcde") == 2


def test_everything_fits_in_a_large_window() -> None:
    history = [user("a"), assistant("b"), user("c"), assistant("d")]
    question = user("e")
    assert fit_history("sys", history, question, window_tokens=10_000, reserve_tokens=100) == [
        *history,
        question,
    ]


def test_oldest_history_is_dropped_first() -> None:
    old, recent = user("x" * 400), assistant("y" * 40)
    history = [old, assistant("z" * 400), user("w" * 40), recent]
    question = user("q" * 40)
    budget = sum(message_tokens(m) for m in [history[2], recent, question]) + estimate_tokens("s")
    fitted = fit_history("s", history, question, window_tokens=budget + 50, reserve_tokens=50)
    assert fitted == [history[2], recent, question]


def test_system_prompt_and_reserve_count_against_the_window() -> None:
    history = [user("a" * 40), assistant("b" * 40)]
    question = user("q")
    roomy = fit_history("", history, question, window_tokens=1_000, reserve_tokens=0)
    crowded = fit_history("s" * 3_600, history, question, window_tokens=1_000, reserve_tokens=90)
    assert roomy == [*history, question]
    assert crowded == [question]


def test_the_question_is_kept_even_when_it_alone_is_too_long() -> None:
    question = user("q" * 10_000)
    assert fit_history("sys", [user("a")], question, window_tokens=100, reserve_tokens=50) == [
        question
    ]


def test_tool_results_are_dropped_with_their_call() -> None:
    call_a, call_b = (
        ToolCall("c1", "list_resources", {"kind": "servers"}),
        ToolCall("c2", "find_problems", {}),
    )
    asked = assistant("", call_a, call_b)
    results = [tool("c1", "r" * 400), tool("c2", "r" * 400)]
    history = [
        user("how many servers?"),
        asked,
        *results,
        assistant("three"),
        user("thanks"),
        assistant("ok"),
    ]
    question = user("and domains?")
    tail = [user("thanks"), assistant("ok")]
    window = sum(message_tokens(m) for m in [*tail, question]) + 60
    fitted = fit_history("", history, question, window_tokens=window, reserve_tokens=0)
    assert fitted == [*tail, question]
    assert not any(m.role == "tool" for m in fitted)


def test_a_tool_group_is_kept_whole_when_it_fits() -> None:
    call = ToolCall("c1", "count_resources", {})
    history = [user("count"), assistant("", call), tool("c1", "{}"), assistant("12")]
    question = user("more")
    fitted = fit_history("", history, question, window_tokens=10_000, reserve_tokens=0)
    assert fitted == [*history, question]


def test_orphan_tool_results_and_unanswered_calls_are_never_sent() -> None:
    # The history limit cut the conversation mid-group: a result without its call, and a
    # call whose result was never stored.
    orphan = tool("gone", "{}")
    unanswered = assistant("", ToolCall("c9", "find_problems", {}))
    history = [orphan, user("hi"), assistant("hello"), user("problems?"), unanswered]
    question = user("again?")
    fitted = fit_history("", history, question, window_tokens=10_000, reserve_tokens=0)
    assert fitted == [user("hi"), assistant("hello"), user("problems?"), question]


def test_trimmed_history_never_opens_with_the_assistant() -> None:
    history = [user("u" * 400), assistant("a" * 40), user("b"), assistant("c")]
    question = user("q")
    window = sum(message_tokens(m) for m in [history[1], *history[2:], question])
    fitted = fit_history("", history, question, window_tokens=window, reserve_tokens=0)
    assert fitted[0].role == "user"
    assert fitted == [user("b"), assistant("c"), question]
