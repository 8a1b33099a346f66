"""How answers reach Slack: long answers, the non-streaming fallback, rate limits, failures."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

import pytest

from core.models import ChatMessage, ProviderError, TextDelta, ToolSpec, TurnEnd, Usage
from core.replies import open_fence_at
from tests.fakes.ports.scripted_provider import ScriptedProvider, ScriptedTurn
from tests.fakes.services.slack_api import FakeSlackApi, event_envelope, mention
from tests.harness.slack_harness import SLACK_USERS, slack_app

LONG = "".join(f"Paragraph {i}: server-{i} runs in region eu-{i % 4}.\n\n" for i in range(900))


def words(text: str) -> list[str]:
    return [w for w in text.replace("*", "").replace("_", "").split() if w != "```"]


def answer_by(*pieces: str) -> ScriptedProvider:
    return ScriptedProvider([ScriptedTurn(text=pieces)])


async def ask(h, ts: str, question: str = "Show me a summary of all resources") -> None:
    status, _, _ = await h.send(event_envelope(mention(question, user="UADMIN", ts=ts)))
    assert status == 200
    await h.settle()


async def test_long_stream_continues_in_new_messages_without_repeating(sqlite_url):
    api = FakeSlackApi(SLACK_USERS, stream_limit=9000)  # Slack says msg_too_long past this
    provider = answer_by(*[LONG[i : i + 700] for i in range(0, len(LONG), 700)])
    async with api, slack_app(sqlite_url, api=api, providers=[provider]) as h:
        await ask(h, "1.1")
        messages = h.api.bot_messages("C1", "1.1")
        assert len(messages) >= 5
        assert all(m.streamed and not m.stream_open and len(m.text) <= 9000 for m in messages)
        # Nothing lost, nothing repeated (the loop may drop the answer's trailing blank lines).
        assert "".join(m.text for m in messages).rstrip() == LONG.rstrip()
        assert any(c.method == "chat.appendStream" for c in h.api.calls)
        assert messages[-1].blocks[-1]["type"] == "context_actions"  # feedback on the last part


async def test_long_fallback_answer_splits_into_messages(sqlite_url):
    api = FakeSlackApi(SLACK_USERS, streaming=False, text_limit=2000)
    async with api, slack_app(sqlite_url, api=api, providers=[answer_by(LONG[:20000])]) as h:
        await ask(h, "2.1")
        messages = h.api.bot_messages("C1", "2.1")
        assert len(messages) >= 10
        assert all(len(m.text) <= 2000 and not m.streamed for m in messages)
        assert words("\n".join(m.text for m in messages)) == words(LONG[:20000])
        assert messages[-1].blocks[-1]["type"] == "context_actions"
        # Every part renders its Markdown in markdown blocks; only the last is rateable.
        assert all({b["type"] for b in m.blocks} == {"markdown"} for m in messages[:-1])


async def test_a_long_answer_that_is_not_streamed_fills_markdown_blocks_not_sections(sqlite_url):
    api = FakeSlackApi(SLACK_USERS, streaming=False)
    async with api, slack_app(sqlite_url, api=api, providers=[answer_by(LONG[:30000])]) as h:
        await ask(h, "2.2")
        messages = h.api.bot_messages("C1", "2.2")
        blocks = [b for m in messages for b in m.blocks]
        assert not [b for b in blocks if b["type"] == "section"]
        sizes = [sum(len(b["text"]) for b in m.blocks if b["type"] == "markdown") for m in messages]
        # Three messages where 3,000-character sections took eleven; each within Slack's 12,000.
        assert len(messages) == 3 and all(9000 < n <= 12000 for n in sizes[:-1]), sizes
        assert words("\n".join(b["text"] for b in blocks if b["type"] == "markdown")) == words(
            LONG[:30000]
        )


async def test_a_list_of_resources_is_a_table_block(sqlite_url):
    listing = "**3 servers**:\n" + "".join(f"- `web-{i}` (linode, running)\n" for i in range(3))
    api = FakeSlackApi(SLACK_USERS, streaming=False)
    async with api, slack_app(sqlite_url, api=api, providers=[answer_by(listing)]) as h:
        await ask(h, "2.3")
        [message] = h.api.bot_messages("C1", "2.3")
        [table] = [b for b in message.blocks if b["type"] == "table"]
        rows = [[cell["text"] for cell in row] for row in table["rows"]]
        assert rows == [["Name", "Details"]] + [[f"web-{i}", "linode, running"] for i in range(3)]


CODE = "Intro.\n\n```python\n" + "total = compute(1, 2)  # step\n" * 400 + "```\nDone."


@pytest.mark.parametrize("streaming", [True, False])
async def test_a_long_code_block_is_closed_and_reopened_across_messages(sqlite_url, streaming):
    # Small limits, so the block spans several messages either way (a streamed message
    # that is found too long keeps room for its closing fence).
    api = FakeSlackApi(SLACK_USERS, streaming=streaming, stream_limit=4100, text_limit=3000)
    async with api, slack_app(sqlite_url, api=api, providers=[answer_by(CODE)]) as h:
        await ask(h, "9.1")
        messages = h.api.bot_messages("C1", "9.1")
        assert len(messages) >= 3
        for m in messages:
            assert open_fence_at(m.text) is None, (
                f"a message leaves its block open: {m.text[-60:]!r}"
            )
        assert all(m.text.lstrip().startswith("```python") for m in messages[1:-1])
        assert "".join(messages[-1].text.split("```")[-1:]).strip().endswith("Done.")
        shown = "".join(m.text for m in messages)
        assert shown.count("total = compute(1, 2)") == 400, "nothing lost, nothing repeated"


async def test_fallback_updates_one_message_at_most_about_once_a_second(sqlite_url):
    class Slow:
        name, model = "slow", "slow-1"

        async def turn(
            self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
        ) -> AsyncIterator[TextDelta | TurnEnd]:
            for i in range(25):
                await asyncio.sleep(0.1)
                yield TextDelta(f"word{i} ")
            yield TurnEnd((), Usage("slow", "slow-1", 10, 25))

    api = FakeSlackApi(SLACK_USERS, streaming=False, status_in_channels=False)
    writer = {"update_interval": 1.0}
    async with api, slack_app(sqlite_url, api=api, writer=writer, providers=[Slow()]) as h:
        await ask(h, "3.1")
        [answer] = h.api.bot_messages("C1", "3.1")
        assert words(answer.text) == [f"word{i}" for i in range(25)]
        updates = h.api.calls_of("chat.update")
        assert 2 <= len(updates) <= 5  # 2.5 s of text: the placeholder and ~1 update a second
        first = h.api.calls_of("chat.postMessage")[0].args
        assert "Thinking" in first["text"]  # the placeholder, since status is refused here
        assert answer.blocks[-1]["type"] == "context_actions"


async def test_streaming_refused_mid_answer_falls_back_without_repeating(sqlite_url):
    pieces = [f"part {i} " * 5 + "\n" for i in range(30)]
    async with slack_app(sqlite_url, providers=[answer_by(*pieces)]) as h:
        h.api.fail("chat.appendStream", "internal_error")
        await ask(h, "4.1")
        messages = h.api.bot_messages("C1", "4.1")
        assert messages[0].streamed and not messages[-1].streamed
        assert words("\n".join(m.text for m in messages)) == words("".join(pieces))
        assert messages[-1].blocks[-1]["type"] == "context_actions"


async def test_ratelimited_calls_are_retried_after_retry_after(sqlite_url):
    async with slack_app(sqlite_url, providers=[answer_by("one ", "two ", "three")]) as h:
        h.api.ratelimit("chat.startStream", retry_after=1)
        await ask(h, "5.1")
        starts = h.api.calls_of("chat.startStream")
        assert len(starts) == 2  # the 429, then the retry after a second
        [answer] = h.api.bot_messages("C1", "5.1")
        assert answer.text == "one two three"


async def test_provider_failure_is_told_plainly(sqlite_url):
    busy = ProviderError("busy", "overloaded", provider="s", retry_after_s=30)
    async with slack_app(sqlite_url, providers=[ScriptedProvider([busy])]) as h:
        await ask(h, "6.1")
        [reply] = h.api.bot_messages("C1", "6.1")
        assert "busy" in reply.text and "30 s" in reply.text


@pytest.mark.parametrize("streaming", [True, False])
async def test_an_error_after_partial_text_keeps_the_text_and_says_so_below(sqlite_url, streaming):
    api = FakeSlackApi(SLACK_USERS, streaming=streaming)
    cut = ProviderError("server", "connection reset", provider="s")
    partial = ScriptedTurn(text=["You have 3 servers:  \n", "- web-1  \n", "- web-2 \n\n"])
    provider = ScriptedProvider([replace(partial, error=cut)])
    every_delta = {"stream_interval": 0, "update_interval": 0}  # trailing blanks get shown too
    async with api, slack_app(sqlite_url, api=api, providers=[provider], writer=every_delta) as h:
        await ask(h, "8.1")
        messages = h.api.bot_messages("C1", "8.1")
        shown = "".join(m.text for m in messages)
        assert shown.count("You have 3 servers") == 1 and shown.count("web-2") == 1
        error = "The AI provider failed to answer; try again in a minute."
        assert shown.index("web-2") < shown.index(error), shown
        assert not [b for m in messages for b in m.blocks if b["type"] == "context_actions"]
        assert all(m.streamed == streaming for m in messages)


async def test_rate_limited_user_gets_a_retry_time_and_no_model_call(sqlite_url):
    provider = ScriptedProvider([ScriptedTurn(text=["first answer"])])
    async with slack_app(sqlite_url, rate_limit_per_hour=1, providers=[provider]) as h:
        await ask(h, "7.1")
        await ask(h, "7.2")
        assert len(provider.calls) == 1
        [refusal] = h.api.bot_messages("C1", "7.2")
        assert "first answer" not in refusal.text
        rows = [r async for r in h.rt.store.audit.iter()]
        assert [r.result.value for r in rows] == ["answered", "rate_limited"]
        assert rows[1].retry_after_s
        assert re.search(r"\d+ (s|min|h)\b", refusal.text), refusal.text
