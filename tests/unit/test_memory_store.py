"""MemoryStore passes the same behavioural checks as the SQL store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from core.ports import Store
from tests.fakes.ports.memory_store import MemoryStore
from tests.store_contract import CHECKS, audit_record, collect


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
async def test_memory_store_contract(check: Callable[[Store], Awaitable[None]]) -> None:
    await check(MemoryStore())


async def test_stored_audit_rows_are_copies() -> None:
    store = MemoryStore()
    returned = await store.audit.append(audit_record(1, tools=["a"]))
    returned.tools.append("tampered")
    (row,) = await collect(store.audit.iter())
    row.answer = "tampered"
    (again,) = await collect(store.audit.iter())
    assert again.tools == ["a"] and again.answer == "answer 1"


async def test_ping_fails_once_closed() -> None:
    store = MemoryStore()
    await store.ping()
    await store.close()
    with pytest.raises(RuntimeError):
        await store.ping()
