"""Convex is unreachable: the syncer backs off and keeps the last good copy, and the bot goes on
answering from it, telling the model (and the metrics) how old the data is."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

from adapters.stackdock.convex import Backoff, ConvexExport, ConvexSync
from adapters.stackdock.demo import load_demo
from adapters.store import open_store
from core.metrics import MIRROR_AGE_SECONDS, REGISTRY
from core.models import Final
from tests.fakes.services.convex_api import DEPLOY_KEY, FakeConvex
from tests.fakes.services.openai_server import FakeOpenAI, Reply
from tests.faults.support import ask, fault_runtime, reply_text


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def test_answers_from_the_last_mirror_with_its_age(sqlite_url: str) -> None:
    store = await open_store(sqlite_url, upgrade=True)
    try:
        async with FakeConvex(page_size=500) as convex:
            for table, docs in load_demo(datetime.now(UTC)).tables.items():
                for doc in docs:
                    convex.put(table, doc)
            api = ConvexExport(convex.url, DEPLOY_KEY)
            # Read when the test runs, not when the module is collected minutes earlier.
            two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
            await ConvexSync(api, store.mirror, clock=lambda: two_hours_ago).sync_once()
            await api.aclose()
        saved = await store.mirror.load()

        # Convex is gone: the syncer fails, backs off, and leaves the copy as it was.
        down = ConvexExport(dead_url(), DEPLOY_KEY)
        stop = asyncio.Event()
        syncer = asyncio.create_task(
            ConvexSync(down, store.mirror).run(stop, poll_s=0.05, backoff=Backoff(base_s=0.01))
        )
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(syncer, 5)
        await down.aclose()
        assert await store.mirror.load() == saved
    finally:
        await store.close()

    async with FakeOpenAI() as model:
        model.push(Reply(text=["You have ", "6 servers."]))
        settings = {
            "convex_url": dead_url(),
            "convex_deploy_key": DEPLOY_KEY,
            "ai_provider": "openai",
            "openai_api_key": "sk-test-fault-0123456789abcdef",
            "openai_base_url": model.base_url,
            "ai_max_retries": 0,
        }
        async with fault_runtime(sqlite_url, **settings) as rt:
            events = await ask(rt, "How many servers do I have?")
            age = REGISTRY.get_sample_value(MIRROR_AGE_SECONDS._name)
    assert isinstance(events[-1], Final) and reply_text(events) == "You have 6 servers."
    system = model.requests[0].body["messages"][0]["content"]
    assert "last synced from StackDock 2 hours ago" in system
    assert age is not None and 7100 < age < 7400
