"""Conversation history, kept per thread so a follow-up question has its context."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.dialects import per_dialect
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


def _upsert(table_insert: Any) -> Any:
    head = table_insert(conversations).values(
        key=sa.bindparam("key", type_=sa.Text),
        org_id=sa.bindparam("org_id", type_=sa.Text),
        user_id=sa.bindparam("user_id", type_=sa.Text),
        created_at=sa.bindparam("now", type_=conversations.c.created_at.type),
        updated_at=sa.bindparam("now", type_=conversations.c.updated_at.type),
    )
    return head.on_conflict_do_update(
        index_elements=["key"], set_={"updated_at": head.excluded.updated_at}
    )


# Built once, with parameters: a statement built per call costs more in SQLAlchemy than the
# database takes to run it.
_UPSERT = per_dialect(_upsert)
_SAID = sa.insert(message_rows)
_FIELDS = ("role", "content", "tool_calls", "tool_call_id", "name")
_key = sa.bindparam("key", type_=sa.Text)
_newest = sa.select(*(message_rows.c[f] for f in _FIELDS)).order_by(message_rows.c.id.desc())
_HISTORY = _newest.where(message_rows.c.conversation_key == _key).limit(sa.bindparam("limit"))
_HISTORY_IN_ORG = _HISTORY.where(message_rows.c.org_id == sa.bindparam("org_id", type_=sa.Text))


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
    thread = {"key": key, "org_id": org_id, "user_id": user_id, "now": now}
    conn.execute(_UPSERT[conn.dialect.name], thread)
    # Both drivers insert an executemany's rows in order, so ids follow the given order.
    conn.execute(_SAID, message_rows_of(key, messages, org_id, user_id, now))


def history_in(conn: Connection, key: str, limit: int, org_id: str | None) -> list[ChatMessage]:
    stmt, params = _HISTORY, {"key": key, "limit": limit}
    if org_id is not None:
        stmt, params = _HISTORY_IN_ORG, params | {"org_id": org_id}
    rows = conn.execute(stmt, params).all()
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
