"""A question's record: its audit row, its messages and its cost, written together.

The one write every answer makes before it is final. On PostgreSQL it is one statement (each
part a data-modifying CTE), committed on its own: one round trip, where a transaction of the
five statements took seven. On SQLite it is the same five statements in one lane transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from adapters.store.audit_log import append_in as append_audit
from adapters.store.audit_log import audit_row
from adapters.store.conversations import append_in as append_messages
from adapters.store.conversations import message_rows_of
from adapters.store.pending import clear_in as clear_pending
from adapters.store.tables import (
    audit_events,
    conversations,
    messages,
    pending_questions,
    usage_records,
)
from adapters.store.usage_log import record_in as record_usage
from adapters.store.usage_log import usage_row
from core.audit import normalized
from core.models import AuditRecord, ChatMessage, UsageRecord
from core.ports import QUESTION_ID


def record_exchange_in(
    conn: Connection,
    record: AuditRecord,
    conversation_key: str | None,
    kept: Sequence[ChatMessage],
    usage: UsageRecord | None,
) -> AuditRecord:
    """Writes the exchange; returns the audit row as stored (with its id, not yet sealed)."""
    thread = conversation_key if kept and record.org_id and record.user_id else None
    if conn.dialect.name == "postgresql":
        return _at_once(conn, record, thread, kept, usage)
    stored = append_audit(conn, record)
    clear_pending(conn, record)  # the question is recorded: nothing to recover
    if thread and record.org_id and record.user_id:
        append_messages(conn, thread, kept, record.org_id, record.user_id)
    if usage is not None:
        record_usage(conn, dataclasses.replace(usage, audit_id=stored.id))
    return stored


def _bound(table: sa.Table, names: Sequence[str], prefix: str) -> dict[str, sa.BindParameter[Any]]:
    return {name: sa.bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in names}


_MESSAGE_FIELDS = ("role", "content", "tool_calls", "tool_call_id", "name")
_AUDIT_COLUMNS = tuple(f.name for f in dataclasses.fields(AuditRecord) if f.name != "id")
_USAGE_COLUMNS = tuple(c.name for c in usage_records.c if c.name not in ("id", "audit_id"))


def _exchange_statement() -> sa.Select[Any]:
    """The whole record as one statement with every value a parameter, built once: its
    compiled form is cached and PostgreSQL keeps it prepared. A part that does not apply is
    switched off by its parameters (no pending id, `has_thread`/`has_usage` false, no
    messages), so the text never changes."""
    row = (
        sa.insert(audit_events)
        .values(_bound(audit_events, _AUDIT_COLUMNS, "a_"))
        .returning(audit_events.c.id)
        .cte("row")
    )
    question_id = sa.bindparam("question_id", type_=pending_questions.c.id.type)
    cleared = sa.delete(pending_questions).where(pending_questions.c.id == question_id)
    key = sa.bindparam("thread", type_=sa.Text)
    org_id, user_id = sa.bindparam("org_id", type_=sa.Text), sa.bindparam("user_id", type_=sa.Text)
    now = sa.bindparam("now", type_=conversations.c.updated_at.type)
    head = pg.insert(conversations).from_select(
        ["key", "org_id", "user_id", "created_at", "updated_at"],
        sa.select(key, org_id, user_id, now, now).where(
            sa.bindparam("has_thread", type_=sa.Boolean)
        ),
    )
    head = head.on_conflict_do_update(
        index_elements=["key"], set_={"updated_at": head.excluded.updated_at}
    )
    # One JSON array of the messages, unpacked in order: ids follow the order given, as the
    # history read relies on, and the statement is the same whatever the count.
    said = (
        sa.func.json_array_elements(sa.bindparam("said", type_=pg.JSON))
        .table_valued(sa.column("value", pg.JSON), with_ordinality="n")
        .render_derived(name="said_rows")
    )
    value = said.c.value
    fields = [value[f] if f == "tool_calls" else value[f].astext for f in _MESSAGE_FIELDS]
    said_insert = sa.insert(messages).from_select(
        ["conversation_key", "org_id", "user_id", *_MESSAGE_FIELDS, "created_at"],
        sa.select(key, org_id, user_id, *fields, now).select_from(said).order_by(said.c.n),
    )
    usage = _bound(usage_records, _USAGE_COLUMNS, "u_")
    spent = sa.insert(usage_records).from_select(
        [*_USAGE_COLUMNS, "audit_id"],
        sa.select(*usage.values(), row.c.id).where(sa.bindparam("has_usage", type_=sa.Boolean)),
    )
    parts = (
        cleared.cte("cleared"),
        head.cte("thread"),
        said_insert.cte("said"),
        spent.cte("spent"),
    )
    return sa.select(row.c.id).add_cte(*parts)


_EXCHANGE = _exchange_statement()


def _at_once(
    conn: Connection,
    record: AuditRecord,
    thread: str | None,
    kept: Sequence[ChatMessage],
    usage: UsageRecord | None,
) -> AuditRecord:
    stored = normalized(record)
    params: dict[str, Any] = {f"a_{k}": v for k, v in audit_row(stored).items()}
    params["question_id"] = record.metadata.get(QUESTION_ID)
    said: list[dict[str, Any]] = []
    if thread and record.org_id and record.user_id:
        now = datetime.now(UTC)
        said = [
            {f: row[f] for f in _MESSAGE_FIELDS}
            for row in message_rows_of(thread, kept, record.org_id, record.user_id, now)
        ]
        params |= {"has_thread": True, "thread": thread, "now": now}
    else:
        params |= {"has_thread": False, "thread": None, "now": None}
    params |= {"org_id": record.org_id, "user_id": record.user_id, "said": said}
    values = usage_row(usage) if usage is not None else dict.fromkeys(_USAGE_COLUMNS)
    params |= {f"u_{k}": values[k] for k in _USAGE_COLUMNS}
    params["has_usage"] = usage is not None
    stored.id = conn.execute(_EXCHANGE, params).scalar_one()
    return stored
