"""The one reply model: how events fold into what a person sees, and the one splitter."""

from __future__ import annotations

from core.models import ErrorReply, Final, Outcome, Status, TextDelta, ToolStep
from core.replies import Change, ReplyDraft, fold, open_fence_at, split_text


def test_statuses_are_progress_not_a_decision():
    draft = ReplyDraft()
    assert draft.add(Status("Looking up servers…")) is Change.STATUS
    assert draft.status == "Looking up servers…"
    assert not draft.decided and not draft.done


def test_a_refusal_before_anything_shown_is_a_refusal():
    draft = ReplyDraft()
    draft.add(Status("Thinking…"))
    draft.add(ErrorReply("You can't ask here.", Outcome.DENIED, "unbound_channel"))
    assert draft.decided and draft.refused and draft.done
    assert draft.outcome is Outcome.DENIED
    assert draft.text == "You can't ask here."


def test_an_error_after_partial_text_keeps_the_text_and_says_it_was_cut_short():
    draft = ReplyDraft()
    draft.add(TextDelta("You have 3 servers"))
    draft.add(ErrorReply("The AI provider failed to answer.", Outcome.FAILED, "provider_server"))
    assert not draft.refused, "part of the answer was shown: it is no refusal"
    assert draft.text == "You have 3 servers\n\nThe AI provider failed to answer."
    assert not draft.rateable


def test_a_tool_step_alone_means_the_core_is_answering():
    draft = ReplyDraft()
    assert draft.add(ToolStep("list_resources", {}, "Looked up 3 servers")) is Change.STEP
    assert draft.decided and not draft.refused


def test_final_text_is_used_only_when_nothing_streamed():
    streamed, whole = ReplyDraft(), ReplyDraft()
    streamed.add(TextDelta("streamed "))
    streamed.add(TextDelta("text"))
    streamed.add(Final("final text", audit_id=7))
    whole.add(Final("final text", audit_id=None))
    assert streamed.text == "streamed text" and streamed.rateable and streamed.audit_id == 7
    assert whole.text == "final text" and not whole.rateable


def test_refresh_is_due_by_interval_and_always_at_the_end():
    draft = ReplyDraft(refresh_every_s=1.0)
    assert draft.refresh_due(0.0)
    draft.refreshed(0.0)
    assert not draft.refresh_due(0.5)
    assert draft.refresh_due(1.0)
    draft.add(Final("done", None))
    assert draft.refresh_due(0.1)


async def test_fold_reports_every_change_in_order():
    async def events():
        for event in (Status("Thinking…"), TextDelta("a"), Final("a", 1)):
            yield event

    seen: list[Change] = []

    async def record(_draft: ReplyDraft, change: Change) -> None:
        seen.append(change)

    draft = await fold(events(), ReplyDraft(), record)
    assert seen == [Change.STATUS, Change.TEXT, Change.END]
    assert draft.text == "a"


def test_split_keeps_every_piece_within_the_limit_and_fences_balanced():
    code = "```python\n" + "value = compute(1, 2)\n" * 300 + "```"
    text = "Intro paragraph.\n\n" + code + "\n\nAfter the code."
    pieces = split_text(text, 500)
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece) <= 500
        assert open_fence_at(piece) is None, f"a piece leaves a code block open: {piece[-40:]!r}"
    assert pieces[1].startswith("```python\n"), "a cut code block reopens with its language"
    rejoined = "".join(p.replace("```python\n", "").replace("\n```", "") for p in pieces)
    assert rejoined.count("value = compute(1, 2)") == 300


def test_a_fence_mid_sentence_is_text_not_a_block():
    assert open_fence_at("Use ``` to start code, then write it.") is None
    assert open_fence_at("```sh\nls\n") == "```sh"


def test_short_text_is_one_piece_and_a_long_word_is_cut():
    assert split_text("  hello  ", 100) == ["hello"]
    pieces = split_text("x" * 250, 100)
    assert all(len(p) <= 100 for p in pieces) and "".join(pieces) == "x" * 250
