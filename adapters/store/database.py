"""The SQL store: engines, migrations, and the repositories behind the Store port."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.store.alerts import SqlAlertRepo
from adapters.store.audit_log import SqlAuditRepo
from adapters.store.audit_sealer import ChainSealer
from adapters.store.bindings import SqlBindingRepo
from adapters.store.conversations import SqlConversationRepo
from adapters.store.events import SqlEventRepo
from adapters.store.exchange import record_exchange_in
from adapters.store.links import SqlLinkRepo
from adapters.store.locks import KeyedLocks
from adapters.store.markers import SqlMarkerRepo
from adapters.store.mirror_repo import SqlMirrorRepo
from adapters.store.pending import SqlPendingRepo
from adapters.store.rate_limits import SqlRateLimitRepo
from adapters.store.units import Units, prepare_sqlite
from adapters.store.usage_log import SqlUsageRepo
from core.models import AuditRecord, ChatMessage, UsageRecord

MIGRATIONS = Path(__file__).parent / "migrations"
# A PostgreSQL server that goes silent (a dead route, a frozen VM: no RST) would otherwise hold
# every store call for minutes, while the person asking sees only "Thinking…". Bounded, the
# call fails in seconds and the question takes the "temporarily unavailable" path. Each bound
# is a thousand times what a healthy server needs for the store's short statements. A call on
# a pooled connection may take COMMAND_TIMEOUT_S for the pre-ping plus SQLAlchemy's 2 s
# attempt at closing the dead connection politely.
CONNECT_TIMEOUT_S = 3.0  # TCP, TLS and authentication of a new connection
COMMAND_TIMEOUT_S = 3.0  # one statement, advisory-lock waits included
# Waiting for a pooled connection while all are busy: under a burst on a healthy server the
# chain lock can hold slots for seconds, so this is longer than the statement bound.
POOL_TIMEOUT_S = 10.0
# Migrations may rewrite big tables and wait on another process's migration lock.
MIGRATION_COMMAND_TIMEOUT_S = 600.0

# Two processes running `db upgrade` at once take turns instead of racing on the DDL.
_MIGRATION_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def create_engine(url: str, *, command_timeout_s: float = COMMAND_TIMEOUT_S) -> AsyncEngine:
    """An async engine for `url`, tuned for its database."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", prepare_sqlite)
        return engine
    connect_args: dict[str, Any] = {}
    asyncpg = parsed.get_driver_name() == "asyncpg"
    if asyncpg:
        connect_args = {"timeout": CONNECT_TIMEOUT_S, "command_timeout": command_timeout_s}
    engine = create_async_engine(
        url,
        # A failed statement's error names no values: they are questions, answers and
        # people, and the error goes to the log and to the row's error message.
        hide_parameters=True,
        connect_args=connect_args,
        # asyncpg's pre-ping is three round trips (BEGIN, ";", ROLLBACK) on every checkout,
        # more than most store calls themselves; there a local check replaces it.
        pool_pre_ping=not asyncpg,
        # Small per process: several workers share the server's max_connections (100 by default).
        pool_size=5,
        max_overflow=5,
        pool_recycle=1800,
        pool_timeout=POOL_TIMEOUT_S,
    )
    if asyncpg:
        event.listen(engine.sync_engine.pool, "checkout", _drop_if_closed)
    return engine


def _drop_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A failover or a server's idle timeout closes the socket, which asyncpg notices by
    itself: such a connection is replaced before use, with no round trip. A server gone
    silent (no FIN, no RST) is caught by the statement timeout instead, and a disconnect
    error invalidates the whole pool, so only calls already under way fail."""
    if dbapi_connection._connection.is_closed():
        raise sa.exc.DisconnectionError("connection closed by the server")


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(_MIGRATION_LOCK, {"key": "stackdock-assistant:migrations"})
    command.upgrade(_alembic_config(connection), "head")


async def _upgrade_with(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def upgrade_database(url: str) -> None:
    """Runs the Alembic migrations to head, in one transaction; a no-op when already there."""
    engine = create_engine(url, command_timeout_s=MIGRATION_COMMAND_TIMEOUT_S)
    try:
        await _upgrade_with(engine)
    finally:
        await engine.dispose()


class SqlStore:
    """The Store port on SQLAlchemy async: SQLite for one process, PostgreSQL for many."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._locks = locks = KeyedLocks(engine)
        self._units = units = Units(engine)
        self.links = SqlLinkRepo(engine, units)
        self.bindings = SqlBindingRepo(engine, units)
        self.conversations = SqlConversationRepo(engine, units)
        self.audit = SqlAuditRepo(engine, locks, ChainSealer(self._seal))
        self._sealer = self.audit.sealer
        self.usage = SqlUsageRepo(engine, units)
        self.rate_limits = SqlRateLimitRepo(units)
        self.events = SqlEventRepo(engine, units)
        self.mirror = SqlMirrorRepo(engine)
        self.markers = SqlMarkerRepo(engine, units)
        self.pending = SqlPendingRepo(engine, units, self._sealer)
        self.alerts = SqlAlertRepo(engine, locks, self._sealer)

    async def _seal(self) -> int:
        return await self.audit.seal()

    async def record_exchange(
        self,
        record: AuditRecord,
        *,
        conversation_key: str | None = None,
        messages: Sequence[ChatMessage] = (),
        usage: UsageRecord | None = None,
    ) -> AuditRecord:
        # One transaction, and no global lock: the row, its messages and its cost land
        # together or not at all, and the sealer chains the row once it is committed.
        # One statement on PostgreSQL, so no BEGIN and COMMIT; one transaction on SQLite.
        stored = await self._units.write_each(
            record_exchange_in, record, conversation_key, list(messages), usage
        )
        self._sealer.nudge()
        return stored

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self._sealer.close()
        await self._units.close()
        await self.engine.dispose()


async def open_store(url: str, *, upgrade: bool = False) -> SqlStore:
    """A store on `url`; with upgrade=True the schema is migrated to head first."""
    sqlite = sa.make_url(url).get_backend_name() == "sqlite"
    if upgrade and not sqlite:
        # On an engine of its own: the serving engine's statement timeout is too short for DDL.
        await upgrade_database(url)
    engine = create_engine(url)
    try:
        if upgrade and sqlite:
            # On the serving engine itself: an in-memory database lives and dies with it.
            await _upgrade_with(engine)
        return SqlStore(engine)
    except BaseException:
        await engine.dispose()
        raise
