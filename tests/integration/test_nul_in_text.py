"""A NUL in a question or in what the model writes is dropped, not stored: PostgreSQL refuses it
in a text column, so it would leave the question with no audit row (on SQLite and PostgreSQL,
through the real pipeline)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

from adapters.stackdock.demo import DEMO_USERS, load_demo
from adapters.store import open_store
from bot.wiring import build_assistant, build_service, utc_now
from core.models import (
    ChatMessage,
    Final,
    Inbound,
    TextDelta,
    ToolCall,
    ToolSpec,
    TurnEnd,
    Usage,
)
from core.stackdock.mirror import InMemoryMirror
from tests.store_contract import collect


class NulModel:
    """A model whose answer holds NUL characters (a prompt injection can make one say so)."""

    name, model = "nul", "nul-1"

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        yield TextDelta("You have\x00 8 servers.\x00")
        yield TurnEnd((), Usage(self.name, self.model, 10, 5, cost_usd=Decimal("0.0001")))


async def test_a_nul_is_dropped_and_the_question_is_recorded(db_url):
    store = await open_store(db_url, upgrade=True)
    try:
        loaded = load_demo(utc_now())
        mirror = InMemoryMirror(loaded.tables, loaded.as_of)
        service = build_service(build_assistant(store=store, mirror=mirror, providers=[NulModel()]))
        asked = Inbound(
            identity=f"email:{DEMO_USERS['admin']}",
            text="How many\x00 servers?",
            platform="console",
            is_dm=True,
            conversation_key="nul-thread",
        )
        events = [event async for event in service.answer(asked)]
        final = events[-1]
        assert isinstance(final, Final) and final.text == "You have 8 servers."
        (row,) = await collect(store.audit.iter())
        assert (row.question, row.answer) == ("How many servers?", "You have 8 servers.")
        said = [m.content for m in await store.conversations.history("nul-thread", 10)]
        assert said == ["How many servers?", "You have 8 servers."]
    finally:
        await store.close()


class NestedNulModel:
    """A tool call whose arguments hold a NUL and a secret deep inside, then an answer."""

    name, model = "nul", "nul-1"

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        usage = Usage(self.name, self.model, 10, 5, cost_usd=Decimal("0.0001"))
        if messages[-1].role == "user":
            arguments = {
                "kind": "servers",
                "filters": {"names": ["web\x001", f"password={SECRET}"]},
            }
            yield TurnEnd((ToolCall("c1", "list_resources", arguments),), usage, "tool_use")
            return
        yield TextDelta("Done.")
        yield TurnEnd((), usage)


SECRET = "Hunter2-deep-in-the-arguments"


async def test_nested_tool_arguments_and_half_surrogates_are_stored_clean(db_url):
    store = await open_store(db_url, upgrade=True)
    try:
        loaded = load_demo(utc_now())
        mirror = InMemoryMirror(loaded.tables, loaded.as_of)
        assistant = build_assistant(store=store, mirror=mirror, providers=[NestedNulModel()])
        service = build_service(assistant)
        asked = Inbound(
            identity=f"email:{DEMO_USERS['admin']}",
            text="List servers \ud800 please",  # half a UTF-16 pair, as a JSON escape gives
            platform="console",
            is_dm=True,
            conversation_key="nested-thread",
        )
        events = [event async for event in service.answer(asked)]
        assert isinstance(events[-1], Final) and events[-1].text == "Done."
        (row,) = await collect(store.audit.iter())
        assert row.question == "List servers \ufffd please"
        said = await store.conversations.history("nested-thread", 10)
        (call,) = [c for m in said for c in m.tool_calls]
        names = call.arguments["filters"]["names"]
        assert names[0] == "web1" and SECRET not in names[1]
    finally:
        await store.close()
