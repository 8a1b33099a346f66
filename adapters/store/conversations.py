"""Conversation history, kept per thread so a follow-up question has its context."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import insert
from adapters.store.tables import conversations
from adapters.store.tables import messages as message_rows
from adapters.store.units import Units
from core.models import ChatMessage, ToolCall


def _tool_calls_json(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    return [{"id": c.id, "name": c.name, "arguments": dict(c.arguments)} for c in calls]


def _message(row: sa.Row[Any]) -> ChatMessage:
    calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in row.tool_calls)
    return ChatMessage(row.role, row.content, calls, row.tool_call_id, row.name)


def message_rows_of(
    key: str, messages: Sequence[ChatMessage], org_id: str, user_id: str, now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "conversation_key": key,
            "org_id": org_id,
            "user_id": user_id,
            "role": m.role,
            "content": m.content,
            "tool_calls": _tool_calls_json(m.tool_calls),
            "tool_call_id": m.tool_call_id,
            "name": m.name,
            "created_at": now,
        }
        for m in messages
    ]


def conversation_upsert(
    conn: Connection, key: str, org_id: str, user_id: str, now: datetime
) -> sa.Insert:
    head = insert(conn, conversations).values(
        key=key, org_id=org_id, user_id=user_id, created_at=now, updated_at=now
    )
    return head.on_conflict_do_update(index_elements=["key"], set_={"updated_at": now})


def append_in(
    conn: Connection,
    key: str,
    messages: Sequence[ChatMessage],
    org_id: str,
    user_id: str,
) -> None:
    """Adds messages to a conversation inside the caller's transaction."""
    if not messages:
        return
    now = datetime.now(UTC)
    conn.execute(conversation_upsert(conn, key, org_id, user_id, now))
    # Both drivers insert an executemany's rows in order, so ids follow the given order.
    conn.execute(sa.insert(message_rows), message_rows_of(key, messages, org_id, user_id, now))


def history_in(conn: Connection, key: str, limit: int, org_id: str | None) -> list[ChatMessage]:
    stmt = sa.select(message_rows).where(message_rows.c.conversation_key == key)
    if org_id is not None:
        stmt = stmt.where(message_rows.c.org_id == org_id)
    rows = conn.execute(stmt.order_by(message_rows.c.id.desc()).limit(limit)).all()
    return [_message(row) for row in reversed(rows)]


class SqlConversationRepo:
    def __init__(self, engine: AsyncEngine, units: Units) -> None:
        self._engine = engine
        self._units = units

    async def history(self, key: str, limit: int, org_id: str | None = None) -> list[ChatMessage]:
        if limit <= 0:
            return []
        return await self._units.read(history_in, key, limit, org_id)

    async def append(
        self, key: str, messages: Sequence[ChatMessage], *, org_id: str, user_id: str
    ) -> None:
        if not messages:
            return
        await self._units.write(append_in, key, messages, org_id, user_id)
