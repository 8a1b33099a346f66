"""The first schema: links, bindings, conversations, audit, usage, limits, events, mirror.

Revision ID: 0001
Revises:
Create Date: 2025-11-26

Types are spelled out here rather than imported from adapters.store.columns, so this migration
keeps describing what it created even after the application's types change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(18, 8).with_variant(sa.BigInteger(), "sqlite")  # 1e-8 USD units on SQLite
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identity_links",
        sa.Column("identity", sa.Text, primary_key=True),
        sa.Column("user_ref", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "bindings",
        sa.Column("target", sa.Text, primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("allow_detail", sa.Boolean, nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("conversation_key", sa.Text, nullable=False),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("tool_calls", sa.JSON, nullable=False),
        sa.Column("tool_call_id", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_messages_conversation_key_id", "messages", ["conversation_key", "id"])
    op.create_table(
        "audit_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("timestamp", TIME, nullable=False),
        sa.Column("org_id", sa.Text),
        sa.Column("user_id", sa.Text),
        sa.Column("identity", sa.Text, nullable=False),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("channel", sa.Text),
        sa.Column("is_dm", sa.Boolean, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("question", sa.Text),
        sa.Column("answer", sa.Text),
        sa.Column("tools", sa.JSON, nullable=False),
        sa.Column("provider", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("cost_usd", MONEY),
        sa.Column("latency_ms", sa.Integer),
        sa.Column("error_message", sa.Text),
        sa.Column("retry_after_s", sa.Float),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_timestamp", "audit_events", ["timestamp"])
    op.create_index("ix_audit_events_org_id", "audit_events", ["org_id"])
    op.create_table(
        "audit_feedback",
        sa.Column(
            "audit_id",
            ID,
            sa.ForeignKey("audit_events.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("identity", sa.Text, primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "usage_records",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("timestamp", TIME, nullable=False),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("identity", sa.Text, nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("cache_read_tokens", sa.Integer),
        sa.Column("cache_write_tokens", sa.Integer),
        sa.Column("cost_usd", MONEY),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("audit_id", ID),
    )
    op.create_index("ix_usage_records_org_id_timestamp", "usage_records", ["org_id", "timestamp"])
    op.create_table(
        "rate_limit_hits",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("at", TIME, nullable=False),
    )
    op.create_index("ix_rate_limit_hits_key_at", "rate_limit_hits", ["key", "at"])
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("claimed_at", TIME, nullable=False),
    )
    op.create_index("ix_processed_events_claimed_at", "processed_events", ["claimed_at"])
    op.create_table(
        "mirror_documents",
        sa.Column("table_name", sa.Text, primary_key=True),
        sa.Column("doc_id", sa.Text, primary_key=True),
        sa.Column("org_id", sa.Text),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "sync_state",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "sync_state",
        "mirror_documents",
        "processed_events",
        "rate_limit_hits",
        "usage_records",
        "audit_feedback",
        "audit_events",
        "messages",
        "conversations",
        "bindings",
        "identity_links",
    ):
        op.drop_table(table)
