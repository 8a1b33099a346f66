"""PostgreSQL becomes unreachable mid-run: questions get "temporarily unavailable", `/readyz`
says 503, and once the database is back the same process answers again, with no restart."""

from __future__ import annotations

import aiohttp
import sqlalchemy as sa
from aiohttp import web

from adapters.store import open_store
from bot.http import add_health_routes
from core.assistant import UNAVAILABLE_TEXT
from core.models import ErrorReply, Final, Outcome
from tests.faults.support import ask, audit_rows, fault_runtime, reply_text
from tests.faults.tcp_proxy import TcpProxy


async def readyz(port: int) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/readyz") as resp,
    ):
        return resp.status


async def test_database_unreachable_then_recovered_without_restart(pg_url: str) -> None:
    setup = await open_store(pg_url, upgrade=True)
    await setup.close()
    url = sa.make_url(pg_url)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        async with fault_runtime(proxied, ai_provider="offline") as rt:
            app = web.Application()
            add_health_routes(app, rt)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            try:
                before = await ask(rt, "How many servers do I have?")
                assert await readyz(port) == 200

                await proxy.cut()
                during = await ask(rt, "Asked while the database is down")
                assert await readyz(port) == 503

                kept = rt.assistant.spool.pending()

                await proxy.restore()
                replayed = await rt.assistant.spool.replay(rt.store)
                after = await ask(rt, "Asked after it came back")
                assert await readyz(port) == 200
                rows = await audit_rows(rt)
            finally:
                await runner.cleanup()

    assert isinstance(before[-1], Final)
    assert isinstance(during[-1], ErrorReply) and reply_text(during) == UNAVAILABLE_TEXT
    assert isinstance(after[-1], Final)
    # The row of the question asked during the outage waited on disk and landed once the
    # database was back: nothing lost, and the chain still in order.
    assert (kept, replayed) == (1, 1)
    assert [(r.question, r.result) for r in rows] == [
        ("How many servers do I have?", Outcome.ANSWERED),
        ("Asked while the database is down", Outcome.FAILED),
        ("Asked after it came back", Outcome.ANSWERED),
    ]
    assert rows[1].metadata.get("spooled") is True
