"""PostgreSQL: the admission reads the org's spend too, so that the budget and the window cost
one round trip between them instead of two.

The spend is read before the key's lock is taken: it is a plain read (a budget is not exact
under concurrent answers anyway, as their costs land when they finish), and it must not
lengthen the time the lock is held. 0007's function stays for workers not yet upgraded.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADMIT = """
CREATE OR REPLACE FUNCTION stackdock_admit(
    p_lock text, p_key text, p_limit bigint, p_start timestamptz, p_now timestamptz,
    p_prune_every bigint, p_pending_id text, p_opened_at timestamptz, p_host text,
    p_boot_id text, p_pid integer, p_pid_start bigint, p_record json,
    p_org text, p_since timestamptz, p_budget numeric,
    OUT o_count bigint, OUT o_oldest timestamptz, OUT o_slot bigint, OUT o_spent numeric
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    o_spent := NULL;
    IF p_budget IS NOT NULL THEN
        SELECT coalesce(sum(u.cost_usd), 0) INTO o_spent
            FROM usage_records u WHERE u.org_id = p_org AND u."timestamp" >= p_since;
        IF o_spent >= p_budget THEN
            o_count := 0;
            o_slot := NULL;
            RETURN;
        END IF;
    END IF;
    SELECT a.o_count, a.o_oldest, a.o_slot INTO o_count, o_oldest, o_slot
        FROM stackdock_admit(p_lock, p_key, p_limit, p_start, p_now, p_prune_every,
                             p_pending_id, p_opened_at, p_host, p_boot_id, p_pid,
                             p_pid_start, p_record) a;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ADMIT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS stackdock_admit(text, text, bigint, timestamptz, "
            "timestamptz, bigint, text, timestamptz, text, text, integer, bigint, json, "
            "text, timestamptz, numeric)"
        )
