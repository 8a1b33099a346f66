"""PostgreSQL goes silent (no RST, no FIN, just nothing): store calls fail within seconds instead
of hanging for minutes, and the same store works again once the server answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adapters.store import SqlStore, open_store
from tests.faults.tcp_proxy import TcpProxy

# Without bounds a silent server holds a call for as long as the kernel keeps the socket
# (20 s and more here); this guard only turns such a hang into a failed assertion.
GUARD_S = 30.0
# A call on a pooled connection: the pre-ping's statement timeout plus the dead connection's
# close. A burst larger than the pool queues for a slot: its calls wait for the first ones to
# fail (3-5 s) and then fail the same way (up to 5 s more), or give up on the pool wait (10 s).
ONE_CALL_S = 5.5
BURST_S = 15.0


async def failure_time(call: Awaitable[object]) -> float:
    """Seconds until `call` raised; fails the test if it returned or outlived the guard."""
    start = time.monotonic()
    with pytest.raises(Exception) as raised:
        await asyncio.wait_for(call, GUARD_S)
    elapsed = time.monotonic() - start
    assert elapsed < GUARD_S, f"still hanging after {elapsed:.1f} s: {raised.value!r}"
    return elapsed


@pytest.fixture
async def proxied_store(pg_url: str) -> AsyncIterator[tuple[TcpProxy, SqlStore]]:
    setup = await open_store(pg_url, upgrade=True)
    await setup.close()
    url = sa.make_url(pg_url)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        store = await open_store(proxied)
        try:
            yield proxy, store
        finally:
            await proxy.restore()  # a store closes politely only on a live connection
            await store.close()


async def test_a_silent_database_fails_a_call_within_seconds(
    proxied_store: tuple[TcpProxy, SqlStore],
) -> None:
    proxy, store = proxied_store
    await store.links.set("slack:T1:U1", "user_1")  # leaves a live connection in the pool

    await proxy.black_hole()
    on_pooled = await failure_time(store.links.get("slack:T1:U1"))
    on_ping = await failure_time(store.ping())

    await proxy.restore()
    after = await store.links.get("slack:T1:U1")

    assert on_pooled < ONE_CALL_S
    assert on_ping < ONE_CALL_S
    assert after == "user_1"


async def test_a_burst_against_a_silent_database_fails_within_seconds(
    proxied_store: tuple[TcpProxy, SqlStore],
) -> None:
    proxy, store = proxied_store
    # More callers than the pool has connections (5 + 5 overflow): some wait for a slot,
    # some open new connections to the silent server, some reuse pooled ones.
    await asyncio.gather(*(store.links.get(f"warm:{n}") for n in range(10)))

    await proxy.black_hole()
    now = datetime.now(UTC)
    calls = [
        store.events.claim(f"evt-{n}", now) if n % 2 else store.audit.asker(n) for n in range(25)
    ]
    times = await asyncio.gather(*(failure_time(call) for call in calls))

    await proxy.restore()
    await store.links.set("slack:T1:U2", "user_2")

    assert max(times) < BURST_S, sorted(round(t, 1) for t in times)
    assert await store.links.get("slack:T1:U2") == "user_2"
