"""A question's record: its audit row, its messages and its cost, written together.

The one write every answer makes before it is final. On PostgreSQL it is one statement (each
part a data-modifying CTE), committed on its own: one round trip, where a transaction of the
five statements took seven. On SQLite it is the same five statements in one lane transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adapters.store.audit_log import append_in as append_audit
from adapters.store.audit_log import audit_row
from adapters.store.conversations import append_in as append_messages
from adapters.store.conversations import conversation_upsert, message_rows_of
from adapters.store.pending import clear_in as clear_pending
from adapters.store.tables import audit_events, messages, pending_questions, usage_records
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


def _at_once(
    conn: Connection,
    record: AuditRecord,
    thread: str | None,
    kept: Sequence[ChatMessage],
    usage: UsageRecord | None,
) -> AuditRecord:
    stored = normalized(record)
    row = sa.insert(audit_events).values(audit_row(stored)).returning(audit_events.c.id).cte("row")
    parts: list[sa.CTE] = []
    question_id = record.metadata.get(QUESTION_ID)
    if question_id:
        cleared = sa.delete(pending_questions).where(pending_questions.c.id == question_id)
        parts.append(cleared.cte("cleared"))
    if thread and record.org_id and record.user_id:
        now = datetime.now(UTC)
        upsert = conversation_upsert(conn, thread, record.org_id, record.user_id, now)
        parts.append(upsert.cte("thread"))
        # One multi-row VALUES: its rows get their ids in the order given, as the history
        # read relies on.
        rows = message_rows_of(thread, kept, record.org_id, record.user_id, now)
        parts.append(sa.insert(messages).values(rows).cte("said"))
    if usage is not None:
        values = usage_row(usage)
        names = [name for name in values if name != "audit_id"]
        literals = [sa.literal(values[name], usage_records.c[name].type) for name in names]
        spent = sa.insert(usage_records).from_select(
            [*names, "audit_id"], sa.select(*literals, row.c.id)
        )
        parts.append(spent.cte("spent"))
    stored.id = conn.execute(sa.select(row.c.id).add_cte(*parts)).scalar_one()
    return stored
