"""A link made in chat counts only for the org whose binding vouched for it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Links made before this revision keep NULL: they count for every org of their user, as
    # they always did; new chat links are scoped.
    with op.batch_alter_table("identity_links") as batch:
        batch.add_column(sa.Column("org_id", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_links") as batch:
        batch.drop_column("org_id")
