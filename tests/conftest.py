"""Fixtures shared by every layer of the suite: throwaway databases on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


async def _pg_execute(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """Creates a PostgreSQL database, yields its SQLAlchemy URL, and drops it afterwards.

    Outside CI an unreachable server skips the test, saying so; in CI it fails, because the
    PostgreSQL paths must be proven there.
    """
    name = f"sda_test_{uuid.uuid4().hex[:12]}"
    try:
        await _pg_execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # asyncpg's own errors and OSError alike mean "no server"
        if running_in_ci():
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable outside CI, skipping: {exc}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        await _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request, tmp_path) -> AsyncIterator[str]:
    """Runs a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
        return
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture(autouse=True)
def _own_audit_spool(tmp_path, monkeypatch) -> None:
    """Each test keeps its own spool: a row kept by one test must never land in another's
    database. Settings objects and CLI subprocesses both read this variable."""
    monkeypatch.setenv("AUDIT_SPOOL_PATH", str(tmp_path / "audit-spool.jsonl"))
