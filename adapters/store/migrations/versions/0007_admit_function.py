"""PostgreSQL: a question's admission (per-key lock, window count, hit, pending question) as
one function, so that it costs one round trip instead of four (BEGIN, lock, CTE, COMMIT).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# In READ COMMITTED each statement of a VOLATILE function takes a new snapshot, so the count
# after the lock sees every hit committed by whoever held the lock before: the window is exact,
# as it was with the lock and the count in separate round trips. A single SQL statement could
# not do this: its one snapshot is taken before the lock is granted.
ADMIT = """
CREATE OR REPLACE FUNCTION stackdock_admit(
    p_lock text, p_key text, p_limit bigint, p_start timestamptz, p_now timestamptz,
    p_prune_every bigint, p_pending_id text, p_opened_at timestamptz, p_host text,
    p_boot_id text, p_pid integer, p_pid_start bigint, p_record json,
    OUT o_count bigint, OUT o_oldest timestamptz, OUT o_slot bigint
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_lock, 0));
    SELECT count(*), min(h.at) INTO o_count, o_oldest
        FROM rate_limit_hits h WHERE h.key = p_key AND h.at > p_start;
    o_slot := NULL;
    IF o_count < p_limit THEN
        INSERT INTO rate_limit_hits (key, at) VALUES (p_key, p_now) RETURNING id INTO o_slot;
        IF p_pending_id IS NOT NULL THEN
            INSERT INTO pending_questions
                (id, opened_at, host, boot_id, pid, pid_start, slot, record)
                VALUES (p_pending_id, p_opened_at, p_host, p_boot_id, p_pid, p_pid_start,
                        o_slot, p_record);
        END IF;
    END IF;
    IF o_count % p_prune_every = 0 THEN
        DELETE FROM rate_limit_hits h WHERE h.key = p_key AND h.at <= p_start;
    END IF;
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
            "timestamptz, bigint, text, timestamptz, text, text, integer, bigint, json)"
        )
