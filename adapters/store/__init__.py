"""Persistence of the core: the Store port on SQLAlchemy async, with Alembic migrations."""

from adapters.store.database import SqlStore, open_store, upgrade_database

__all__ = ["SqlStore", "open_store", "upgrade_database"]
