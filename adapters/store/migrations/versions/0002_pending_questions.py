"""Pending questions: admitted, not yet recorded; what a crash mid-answer leaves to recover.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pending_questions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("boot_id", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("pid_start", sa.BigInteger, nullable=False),
        sa.Column("slot", ID),
        sa.Column("record", sa.JSON, nullable=False),
    )
    op.create_index("ix_pending_questions_opened_at", "pending_questions", ["opened_at"])


def downgrade() -> None:
    op.drop_table("pending_questions")
