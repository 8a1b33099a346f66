"""Alerts: channel subscriptions, alert states, and the outbox of alert messages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_subscriptions",
        sa.Column("target", sa.Text, primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("min_severity", sa.Text, nullable=False),
        sa.Column("digest_at", sa.Text),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("last_digest_at", TIME),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("problem_key", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("resource_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("resolved_at", TIME),
        sa.Column("announced", sa.Boolean, nullable=False),
        sa.Column("post_id", ID),
        sa.Column("muted_until", TIME),
        sa.Column("muted_by", sa.Text),
        sa.Column("changes", sa.Integer, nullable=False),
    )
    op.create_index("ix_alerts_target_problem_key", "alerts", ["target", "problem_key"])
    op.create_index("ix_alerts_post_id", "alerts", ["post_id"])
    op.create_table(
        "alert_outbox",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("dedupe", sa.Text, nullable=False, unique=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("alert_id", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("not_before", TIME, nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_until", TIME),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("delivered_at", TIME),
        sa.Column("message_ref", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index(
        "ix_alert_outbox_waiting",
        "alert_outbox",
        ["delivered_at", "platform", "target", "id"],
    )


def downgrade() -> None:
    for table in ("alert_outbox", "alerts", "alert_subscriptions"):
        op.drop_table(table)
