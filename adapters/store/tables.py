"""The schema, as SQLAlchemy Core tables. Migrations under migrations/versions create it;
tests/integration checks that the two never drift apart."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.store.columns import Id, Money, UtcDateTime

metadata = sa.MetaData()

identity_links = sa.Table(
    "identity_links",
    metadata,
    sa.Column("identity", sa.Text, primary_key=True),
    sa.Column("user_ref", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # The org whose binding vouched for a link made in chat; NULL for an operator's link.
    sa.Column("org_id", sa.Text, nullable=True),
)

bindings = sa.Table(
    "bindings",
    metadata,
    sa.Column("target", sa.Text, primary_key=True),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("allow_detail", sa.Boolean, nullable=False),
    sa.Column("instructions", sa.Text, nullable=False, server_default=""),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("conversation_key", sa.Text, nullable=False),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("tool_calls", sa.JSON, nullable=False),
    sa.Column("tool_call_id", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_messages_conversation_key_id", "conversation_key", "id"),
)

# Plain JSON, not JSONB, for audit columns: JSONB rewrites numbers (1e16 comes back as an
# integer), which would change the canonical payload and break the hash of an intact row.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("timestamp", UtcDateTime, nullable=False),
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
    sa.Column("cost_usd", Money),
    sa.Column("latency_ms", sa.Integer),
    sa.Column("error_message", sa.Text),
    sa.Column("retry_after_s", sa.Float),
    sa.Column("metadata", sa.JSON, nullable=False),
    # Filled in by the sealer, off the answer path: the row's place in the chain, and its links.
    sa.Column("seq", sa.BigInteger),
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("hash", sa.String(64)),
    sa.Index("ix_audit_events_timestamp", "timestamp"),
    sa.Index("ix_audit_events_org_id", "org_id"),
    sa.Index("ux_audit_events_seq", "seq", unique=True),
    # The sealer's work list stays small however long the trail grows.
    sa.Index(
        "ix_audit_events_unsealed",
        "id",
        postgresql_where=sa.text("seq IS NULL"),
        sqlite_where=sa.text("seq IS NULL"),
    ),
)

# Kept beside the chain, not in it: a thumbs-up added later must not change a sealed row.
audit_feedback = sa.Table(
    "audit_feedback",
    metadata,
    sa.Column(
        "audit_id", Id, sa.ForeignKey("audit_events.id"), primary_key=True, autoincrement=False
    ),
    sa.Column("identity", sa.Text, primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

usage_records = sa.Table(
    "usage_records",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("identity", sa.Text, nullable=False),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("cache_read_tokens", sa.Integer),
    sa.Column("cache_write_tokens", sa.Integer),
    sa.Column("cost_usd", Money),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("audit_id", Id),
    sa.Index("ix_usage_records_org_id_timestamp", "org_id", "timestamp"),
)

rate_limit_hits = sa.Table(
    "rate_limit_hits",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_rate_limit_hits_key_at", "key", "at"),
)

processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("claimed_at", UtcDateTime, nullable=False),
    sa.Index("ix_processed_events_claimed_at", "claimed_at"),
)

mirror_documents = sa.Table(
    "mirror_documents",
    metadata,
    sa.Column("table_name", sa.Text, primary_key=True),
    sa.Column("doc_id", sa.Text, primary_key=True),
    sa.Column("org_id", sa.Text),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

sync_state = sa.Table(
    "sync_state",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Questions admitted and not yet recorded. Each row is deleted in the transaction that writes
# its audit row; one left over belongs to a process that died mid-answer, and is recorded as
# interrupted by the next one (adapters/store/pending.py).
pending_questions = sa.Table(
    "pending_questions",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # the QUESTION_ID in the audit row's metadata
    sa.Column("opened_at", UtcDateTime, nullable=False),
    # The answering process: the host and its boot, and the pid with its start time (a pid
    # alone is reused; with its start time it names one process).
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("boot_id", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("pid_start", sa.BigInteger, nullable=False),
    sa.Column("slot", Id),  # the rate_limit_hits row it holds, given back if it is interrupted
    # The audit row as admitted: identity, org, channel, event, the question scrubbed (or
    # only its hash, when content is not stored); never more than its audit row will hold.
    sa.Column("record", sa.JSON, nullable=False),
    sa.Index("ix_pending_questions_opened_at", "opened_at"),
)

# Alerts (core/alerts.py): channels subscribed, one row per problem episode in a channel, and
# the outbox of messages detection wrote and delivery posts (adapters/store/alerts.py).
alert_subscriptions = sa.Table(
    "alert_subscriptions",
    metadata,
    sa.Column("target", sa.Text, primary_key=True),  # slack:TEAM:CHANNEL, discord:GUILD:CHANNEL
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("min_severity", sa.Text, nullable=False),
    sa.Column("digest_at", sa.Text),  # HH:MM in ALERTS_TZ
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("last_digest_at", UtcDateTime),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("problem_key", sa.Text, nullable=False),  # kind:resource id:reason
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("resource_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # open | resolved
    sa.Column("resolved_at", UtcDateTime),
    sa.Column("announced", sa.Boolean, nullable=False),
    sa.Column("post_id", Id),  # the alert_outbox row of its top-level message
    sa.Column("muted_until", UtcDateTime),
    sa.Column("muted_by", sa.Text),
    sa.Column("changes", sa.Integer, nullable=False),
    sa.Index("ix_alerts_target_problem_key", "target", "problem_key"),
    sa.Index("ix_alerts_post_id", "post_id"),
)

alert_outbox = sa.Table(
    "alert_outbox",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # post | update | reply | notice
    # Names the message for good (problem identity and transition): written twice, kept once.
    sa.Column("dedupe", sa.Text, nullable=False, unique=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("alert_id", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False),
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_until", UtcDateTime),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("delivered_at", UtcDateTime),
    sa.Column("message_ref", sa.Text),  # the platform's message id, once posted
    sa.Column("error", sa.Text),
    sa.Index("ix_alert_outbox_waiting", "delivered_at", "platform", "target", "id"),
)
