"""Per-channel instructions: a binding may carry the org's words for the assistant there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A server default, so that bindings made before this revision read as "no instructions".
    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("instructions", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.drop_column("instructions")
