"""Messages in Discord: mentions open threads, threads and DMs continue, the rest is ignored.

The real discord.py client runs against the fake REST API and gateway on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import discord
import pytest

from adapters.discord.cards import CARD_TEXT_LIMIT
from adapters.discord.render import messages
from core.models import ChatMessage, ProviderError, TextDelta, ToolCall, ToolSpec, TurnEnd, Usage
from core.ports import Provider
from tests.fakes.services.discord_api import (
    CONTENT_LIMIT,
    buttons_of,
    is_card,
    slash_command,
    string_option,
    text_of,
)
from tests.harness.discord_world import DiscordWorld, discord_world


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[DiscordWorld]:
    async with discord_world(sqlite_url) as w:
        w.edit_interval = 0.25  # quicker tests; the pacing tests use the real interval
        await w.start_bot()
        yield w


MakeWorld = Callable[..., Awaitable[DiscordWorld]]


@pytest.fixture
async def world_with(sqlite_url: str) -> AsyncIterator[MakeWorld]:
    """Worlds whose model is the one given, passed in the way bot/wiring.py takes providers.

    `edit_interval=1.0` is the bot's own default (about one edit a second), for the pacing tests.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def make(model: Provider, *, edit_interval: float = 0.25) -> DiscordWorld:
            w = await stack.enter_async_context(discord_world(sqlite_url, providers=[model]))
            w.edit_interval = edit_interval
            await w.start_bot()
            return w

        yield make


@dataclass
class PacedProvider:
    """A model that streams `pieces` with a pause between them, as a slow real one would."""

    pieces: Sequence[str]
    gap_s: float = 0.0
    name: str = "paced"
    model: str = "paced-1"

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        for piece in self.pieces:
            await asyncio.sleep(self.gap_s)
            yield TextDelta(piece)
        yield TurnEnd((), Usage(self.name, self.model, 10, 10))


@dataclass
class EchoToolProvider:
    """Calls get_resource, then says exactly what the tool returned (to see redaction)."""

    kind: str
    name_: str
    name: str = "echo"
    model: str = "echo-1"

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        usage = Usage(self.name, self.model, 1, 1)
        if messages[-1].role != "tool":
            call = ToolCall("c1", "get_resource", {"kind": self.kind, "id_or_name": self.name_})
            yield TurnEnd((call,), usage, "tool_use")
            return
        yield TextDelta(messages[-1].content)
        yield TurnEnd((), usage)


def sent_payloads(world: DiscordWorld) -> list[dict]:
    """Bodies of every REST call that put text on Discord."""
    return [
        c.body
        for c in world.fake.calls
        if c.method in ("POST", "PATCH")
        and isinstance(c.body, dict)
        and any(k in c.body or k in (c.body.get("data") or {}) for k in ("content", "components"))
    ]


async def audit_rows(world: DiscordWorld) -> list:
    return [r async for r in world.rt.store.audit.iter()]


async def test_a_mention_starts_a_thread_on_the_message_and_answers_there(
    world: DiscordWorld,
) -> None:
    fake, channel = world.fake, world.guild.channel_id
    asked = await fake.post_message(
        channel, world.people["admin"], "How many servers do I have?", mention_bot=True
    )
    thread_id = asked["id"]  # Discord gives a thread started on a message that message's id
    shown = await world.wait_answered(thread_id)
    assert fake.calls_to("POST", rf"/channels/{channel}/typing")
    assert fake.calls_to("POST", rf"/channels/{channel}/messages/{asked['id']}/threads")
    assert fake.calls_to("POST", rf"/channels/{thread_id}/typing")
    assert not world.bot_messages(channel), "the answer belongs in the thread"
    assert "8" in text_of(shown[-1]) and "server" in text_of(shown[-1])
    audit = await audit_rows(world)
    assert [(r.identity, r.platform, r.result.value) for r in audit] == [
        (world.identity("admin"), "discord", "answered")
    ]
    assert buttons_of(shown[-1]) == [
        f"sd:feedback:{audit[0].id}:up",
        f"sd:feedback:{audit[0].id}:down",
    ]


async def test_the_answer_streams_by_edits_at_most_about_once_a_second(
    world_with: MakeWorld,
) -> None:
    pieces = [f"Part {i} of the answer.\n" for i in range(12)]  # the core lets out whole lines
    world = await world_with(PacedProvider(pieces, gap_s=0.2), edit_interval=1.0)
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "Explain my setup", mention_bot=True
    )
    shown = await world.wait_answered(asked["id"])
    assert text_of(shown[-1]) == "".join(pieces).strip()
    sends = world.fake.calls_to("POST", rf"/channels/{asked['id']}/messages")
    edits = world.fake.calls_to("PATCH", rf"/channels/{asked['id']}/messages/\d+")
    assert len(sends) == 1, "one message, edited as the answer grows"
    assert len(text_of(sends[0].body)) < len(text_of(shown[-1])), "it showed a partial answer"
    assert len(edits) >= 2, "~2.4 s of streaming shows at least one draft and the final"
    times = [sends[0].at] + [e.at for e in edits]
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(times))


async def test_a_429_retry_after_is_waited_out_and_the_answer_still_lands(
    world_with: MakeWorld,
) -> None:
    pieces = [f"Chunk {i}.\n" for i in range(8)]
    world = await world_with(PacedProvider(pieces, gap_s=0.15), edit_interval=1.0)
    world.fake.rate_limit("PATCH", r"/channels/\d+/messages/\d+", retry_after=1.5)
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "Explain", mention_bot=True
    )
    shown = await world.wait_answered(asked["id"])
    assert text_of(shown[-1]) == "".join(pieces).strip()
    edits = world.fake.calls_to("PATCH", rf"/channels/{asked['id']}/messages/\d+")
    assert edits[0].status == 429 and edits[1].status == 200
    assert edits[1].at - edits[0].at >= 1.5
    assert all(e.status == 200 for e in edits[1:])


async def test_later_messages_in_the_thread_are_answered_without_a_mention(
    world: DiscordWorld,
) -> None:
    fake = world.fake
    asked = await fake.post_message(
        world.guild.channel_id,
        world.people["admin"],
        "How many servers do I have?",
        mention_bot=True,
    )
    thread_id = asked["id"]
    await world.wait_answered(thread_id)
    await fake.post_message(thread_id, world.people["admin"], "List my domains")
    await fake.wait_for(lambda: len(world.bot_messages(thread_id)) == 2, what="a second answer")
    shown = await world.wait_answered(thread_id)
    assert "domain" in text_of(shown[-1]).lower()
    assert len(fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")) == 1
    history = await world.rt.store.conversations.history(f"discord:thread:{thread_id}", 10)
    assert [m.content for m in history if m.role == "user"] == [
        "How many servers do I have?",
        "List my domains",
    ]


async def test_a_dm_is_answered_in_the_dm_with_the_detail_a_channel_masks(
    world_with: MakeWorld,
) -> None:
    world = await world_with(EchoToolProvider("servers", "acme-web-1"))
    fake = world.fake
    dm = fake.dm_channel(world.people["admin"])
    await fake.post_message(dm, world.people["admin"], "Where is acme-web-1?")
    in_dm = await world.wait_answered(dm)
    assert "203.0.113.10" in text_of(in_dm[-1])

    asked = await fake.post_message(
        world.guild.channel_id, world.people["admin"], "Where is acme-web-1?", mention_bot=True
    )
    in_channel = await world.wait_answered(asked["id"])
    assert "acme-web-1" in text_of(in_channel[-1])
    assert "203.0.113.10" not in text_of(in_channel[-1])
    assert [r.identity for r in await audit_rows(world)] == [
        world.identity("admin", dm=True),
        world.identity("admin"),
    ]


async def test_bots_itself_system_messages_and_edits_are_ignored(world: DiscordWorld) -> None:
    fake, channel = world.fake, world.guild.channel_id
    other_bot = fake.user(fake.new_id(), "otherbot", bot=True)
    await fake.post_message(channel, other_bot, "List my servers", mention_bot=True)
    await fake.post_message(channel, fake.bot, "List my servers", mention_bot=True)
    await fake.post_message(
        channel,
        world.people["admin"],
        "List my servers",
        mention_bot=True,
        type=7,  # a join
    )
    await fake.post_message(
        channel, world.people["admin"], "List my servers", mention_bot=True, webhook_id="1"
    )
    edited = fake.message_payload(
        channel,
        world.people["admin"],
        f"<@{fake.bot['id']}> List my servers",
        mentions=[fake.bot],
    )
    await fake.dispatch("MESSAGE_UPDATE", {**edited, "edited_timestamp": edited["timestamp"]})
    await fake.post_message(channel, world.people["admin"], "List my servers")  # no mention
    # Events arrive in order, so once this one is answered the others have been seen.
    last = await fake.post_message(
        channel, world.people["admin"], "List my servers", mention_bot=True
    )
    await world.wait_answered(last["id"])
    threads = fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")
    assert [c.path.split("/")[-2] for c in threads] == [last["id"]]
    assert len(await audit_rows(world)) == 1


def long_answer() -> str:
    prose = " ".join(f"server{i}" for i in range(200))
    code = "```python\n" + "\n".join(f"print('row {i:04d}')" for i in range(100)) + "\n```"
    text = prose + "\n\n" + code + "\n\n" + " ".join(f"domain{i}" for i in range(400))
    text = text[: text.rfind(" ", 0, 5000)]
    assert 4900 < len(text) <= 5000 and text.count("```") == 2
    return text


@pytest.mark.parametrize(
    ("cards", "limit", "pieces"), [(True, CARD_TEXT_LIMIT, 2), (False, CONTENT_LIMIT, 3)]
)
async def test_a_5000_character_answer_is_split_without_breaking_code_or_words(
    world_with: MakeWorld, cards: bool, limit: int, pieces: int
) -> None:
    text = long_answer()
    world = await world_with(PacedProvider([text[i : i + 500] for i in range(0, len(text), 500)]))
    world.fake.components_v2 = cards  # without V2, the first card is refused: plain from then on
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "Everything, please", mention_bot=True
    )
    shown = await world.wait_answered(asked["id"])
    assert len(shown) == len(messages(text, limit)) == pieces
    assert all(is_card(m) == cards for m in shown)
    assert all(len(text_of(m)) <= limit for m in shown)
    assert all(text_of(m).count("```") % 2 == 0 for m in shown)
    refused = [c for c in world.fake.calls if c.status == 400]
    assert len(refused) == (0 if cards else 1), "Discord said 50035 only to the first card"
    said = "\n".join(text_of(m) for m in shown)
    assert [w for w in said.split() if "```" not in w] == [
        w for w in text.split() if "```" not in w
    ]
    assert buttons_of(shown[-1]) and not any(buttons_of(m) for m in shown[:-1])


async def test_an_everyone_injection_pings_nobody(world_with: MakeWorld) -> None:
    role, member = "223456789012345678", "323456789012345678"
    world = await world_with(PacedProvider([f"@everyone @here <@&{role}> <@{member}> hi"]))
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "say @everyone", mention_bot=True
    )
    shown = await world.wait_answered(asked["id"])
    payloads = sent_payloads(world)
    assert payloads and all(p["allowed_mentions"] == {"parse": []} for p in payloads)
    content = text_of(shown[-1])
    assert not re.search(r"@(everyone|here)|<@[&!]?\d", content), content
    assert "hi" in content


async def test_an_unknown_person_is_told_how_to_link_without_a_thread(world: DiscordWorld) -> None:
    fake, channel = world.fake, world.guild.channel_id
    asked = await fake.post_message(
        channel, world.people["stranger"], "List my servers", mention_bot=True
    )
    reply = await fake.wait_for(lambda: world.bot_messages(channel), what="a reply")
    assert "link" in text_of(reply[0])
    assert world.identity("stranger") in text_of(reply[0])
    sent = fake.calls_to("POST", rf"/channels/{channel}/messages")
    assert str(sent[0].body["message_reference"]["message_id"]) == asked["id"]
    assert not fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads")
    assert [r.reason for r in await audit_rows(world)] == ["unknown_user"]


async def test_tool_steps_are_shown_while_working_and_gone_from_the_answer(
    world_with: MakeWorld,
) -> None:
    @dataclass
    class SlowTools(EchoToolProvider):
        async def turn(self, system, messages, tools):  # type: ignore[override]
            if messages[-1].role == "tool":
                await asyncio.sleep(0.8)  # thinking over the result, the step on screen
            async for event in super().turn(system, messages, tools):
                yield event

    world = await world_with(SlowTools("servers", "acme-web-1"))
    fake = world.fake
    asked = await fake.post_message(
        world.guild.channel_id, world.people["admin"], "Where is acme-web-1?", mention_bot=True
    )
    shown = await world.wait_answered(asked["id"])
    first = text_of(fake.calls_to("POST", rf"/channels/{asked['id']}/messages")[0].body)
    assert first.startswith("-# › ") and "acme-web-1" in first
    assert "-# ›" not in text_of(shown[-1])
    assert json.loads(text_of(shown[-1]))["item"]["name"] == "acme-web-1"


async def test_a_slow_answer_does_not_hold_up_anyone_else(world_with: MakeWorld) -> None:
    @dataclass
    class SlowOnlyForAudits(PacedProvider):
        async def turn(self, system, messages, tools):  # type: ignore[override]
            gap = 0.6 if "audit" in messages[-1].content else 0.0
            async for event in PacedProvider(self.pieces, gap).turn(system, messages, tools):
                yield event

    world = await world_with(SlowOnlyForAudits(["one.\n", "two.\n", "three.\n", "four."]))
    fake, channel = world.fake, world.guild.channel_id
    slow = await fake.post_message(
        channel, world.people["admin"], "Explain audits", mention_bot=True
    )
    await fake.wait_for(lambda: world.bot_messages(slow["id"]), what="the slow answer to start")
    quick = await fake.post_message(channel, world.people["developer"], "Hi", mention_bot=True)
    await world.wait_answered(quick["id"])
    going = buttons_of(world.bot_messages(slow["id"])[-1])
    assert going == [f"sd:stop:discord:thread:{slow['id']}"], "the slow one is still going"
    shown = await world.wait_answered(slow["id"])
    assert text_of(shown[-1]) == "one.\ntwo.\nthree.\nfour."


async def test_a_provider_failure_mid_answer_keeps_the_partial_text_and_says_so_below(
    world_with: MakeWorld,
) -> None:
    # The one reply model (core/replies.py): what was shown stays, the failure is said below
    # it, so an answer cut short never passes for a whole one (nor vanishes once read).
    @dataclass
    class FailsMidway(PacedProvider):
        async def turn(self, system, messages, tools):  # type: ignore[override]
            yield TextDelta("The answer is coming.\n")
            await asyncio.sleep(0.3)  # long enough for the partial text to be on screen
            raise ProviderError("server", "upstream 502", provider=self.name)

    world = await world_with(FailsMidway([]))
    asked = await world.fake.post_message(
        world.guild.channel_id, world.people["admin"], "Anything", mention_bot=True
    )
    shown = await world.fake.wait_for(
        lambda: [m for m in world.bot_messages(asked["id"]) if "try again" in text_of(m)],
        what="the failure shown",
    )
    first = world.fake.calls_to("POST", rf"/channels/{asked['id']}/messages")[0]
    assert text_of(first.body) == "The answer is coming.", "the partial answer was shown first"
    assert len(world.bot_messages(asked["id"])) == 1
    partial, _, failure = text_of(shown[0]).partition("\n\n")
    assert partial == "The answer is coming." and "try again" in failure
    assert not buttons_of(shown[0]), "an answer cut short offers no rating, nor Stop"
    assert [r.result.value for r in await audit_rows(world)] == ["failed"]


async def test_help_by_mention_is_answered_by_the_core_and_audited(world: DiscordWorld) -> None:
    channel = world.guild.channel_id
    asked = await world.fake.post_message(
        channel, world.people["stranger"], "help", mention_bot=True
    )
    shown = await world.wait_answered(asked["id"])
    assert text_of(shown[-1]) == world.rt.service.help_text()
    [row] = await audit_rows(world)
    assert (row.action, row.identity, row.result.value) == (
        "ai.help",
        world.identity("stranger"),
        "answered",
    )


async def test_the_fake_refuses_what_discord_refuses(world: DiscordWorld) -> None:
    # The split test's "no 400" means something only if the fake really says 50035.
    channel = world.bot.get_channel(int(world.guild.channel_id))
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("x" * (CONTENT_LIMIT + 1))
    assert refused.value.status == 400 and refused.value.code == 50035
    assert (await channel.send("x" * CONTENT_LIMIT)).content == "x" * CONTENT_LIMIT


async def test_a_thread_is_still_followed_after_a_restart(world: DiscordWorld) -> None:
    fake = world.fake
    asked = await fake.post_message(
        world.guild.channel_id, world.people["admin"], "List my domains", mention_bot=True
    )
    await world.wait_answered(asked["id"])
    await world.stop_bot()
    await world.start_bot()
    await fake.post_message(asked["id"], world.people["admin"], "How many servers do I have?")
    await fake.wait_for(lambda: len(world.bot_messages(asked["id"])) == 2, what="an answer")
    assert "8" in text_of((await world.wait_answered(asked["id"]))[-1])


async def test_a_persons_thread_is_followed_once_the_bot_holds_a_conversation_there(
    world: DiscordWorld,
) -> None:
    # Which threads are followed is the core's rule (AssistantService.engaged), the same on
    # every platform: not who made the thread, but whether the bot is in a conversation there.
    fake, admin = world.fake, world.people["admin"]
    thread_id = await fake.start_thread(world.guild.channel_id, admin, "ops chat")
    await fake.wait_for(lambda: world.bot.get_channel(int(thread_id)), what="the thread cached")
    await fake.post_message(thread_id, admin, "Which servers need updates?")  # no one asked us
    ask = slash_command("ask", [string_option("question", "List my domains")])
    await fake.interact(admin, thread_id, type=2, data=ask)
    await world.wait_answered(thread_id)
    await fake.post_message(thread_id, admin, "How many servers do I have?")
    await fake.wait_for(lambda: len(world.bot_messages(thread_id)) == 3, what="a second answer")
    assert "8" in text_of((await world.wait_answered(thread_id))[-1])
    assert [r.question for r in await audit_rows(world)] == [
        "List my domains",
        "How many servers do I have?",
    ]


async def test_a_thread_without_a_conversation_needs_a_mention_even_if_the_bot_made_it(
    world: DiscordWorld,
) -> None:
    fake, admin = world.fake, world.people["admin"]
    thread_id = await fake.start_thread(world.guild.channel_id, fake.bot, "an old thread")
    await fake.wait_for(lambda: world.bot.get_channel(int(thread_id)), what="the thread cached")
    await fake.post_message(thread_id, admin, "Which servers need updates?")
    await fake.post_message(thread_id, admin, "List my domains", mention_bot=True)
    shown = await world.wait_answered(thread_id)
    assert len(shown) == 1 and "domain" in text_of(shown[0]).lower()
    assert [r.question for r in await audit_rows(world)] == ["List my domains"]


async def test_without_thread_permission_the_answer_comes_in_the_channel(
    world: DiscordWorld,
) -> None:
    fake, channel = world.fake, world.guild.channel_id
    fake.forbid("POST", r"/channels/\d+/messages/\d+/threads")
    await fake.post_message(channel, world.people["admin"], "List my domains", mention_bot=True)
    shown = await world.wait_answered(channel)
    assert "domain" in text_of(shown[-1]).lower()


async def test_draining_finishes_answers_under_way_and_takes_no_new_ones(
    world_with: MakeWorld,
) -> None:
    world = await world_with(PacedProvider(["one.\n", "two.\n", "three."], gap_s=0.3))
    fake, channel = world.fake, world.guild.channel_id
    first = await fake.post_message(channel, world.people["admin"], "Explain", mention_bot=True)
    await fake.wait_for(lambda: world.bot_messages(first["id"]), what="the answer to start")
    assert world.bot.answers_under_way == 1
    draining = asyncio.create_task(world.bot.drain(10))
    await asyncio.sleep(0)
    late = await fake.post_message(channel, world.people["admin"], "And?", mention_bot=True)
    assert await draining == 0
    assert world.bot.answers_under_way == 0, "the late question never became a task"
    assert text_of(world.bot_messages(first["id"])[-1]) == "one.\ntwo.\nthree."
    assert not world.bot_messages(late["id"]), "nothing new starts while draining"
    assert len(await audit_rows(world)) == 1
