"""`/readyz` behind a black-holed PostgreSQL (no reset, no reply, just silence): every probe
gets its 503 within a second, probes do not pile up, and readiness returns with the database."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import sqlalchemy as sa

from adapters.store import open_store
from bot.http import health_app
from bot.serving import listening
from tests.faults.support import fault_runtime
from tests.faults.tcp_proxy import TcpProxy

PROBE_DEADLINE_S = 1.0  # what a load balancer's readiness probe typically allows


async def probe(session: aiohttp.ClientSession, port: int) -> tuple[int, float]:
    started = time.monotonic()
    async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
        await resp.read()
        return resp.status, time.monotonic() - started


async def test_readyz_says_503_within_a_second_while_the_database_is_silent(pg_url: str) -> None:
    setup = await open_store(pg_url, upgrade=True)
    await setup.close()
    url = sa.make_url(pg_url)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        async with (
            fault_runtime(proxied, ai_provider="offline") as rt,
            listening(health_app(rt), "127.0.0.1", 0) as listener,
            aiohttp.ClientSession() as session,
        ):
            before = await probe(session, listener.port)
            await proxy.black_hole()
            during = [await probe(session, listener.port) for _ in range(3)]
            # Probes at once, as several load balancers would send them.
            during += await asyncio.gather(*(probe(session, listener.port) for _ in range(5)))
            await proxy.restore()
            after = None
            for _ in range(50):  # the held ping lands first; readiness follows within seconds
                after = await probe(session, listener.port)
                if after[0] == 200:
                    break
                await asyncio.sleep(0.1)

    assert before[0] == 200
    assert [status for status, _ in during] == [503] * 8
    slowest = max(took for _, took in during)
    assert slowest < PROBE_DEADLINE_S, f"a probe took {slowest:.2f} s"
    assert after is not None and after[0] == 200
