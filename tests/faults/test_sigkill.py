"""A worker killed with SIGKILL while answering: every committed question survives whole, none
is half-recorded (an audit row without its messages or cost, or the reverse), and the next
process appends to an audit chain that still verifies."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import sqlalchemy as sa

from adapters.store import open_store
from adapters.store.tables import audit_events, messages, usage_records
from core.audit import verify_chain_stream
from tests.fakes.openai_server import FakeOpenAI, Reply

ROOT = Path(__file__).resolve().parents[2]

# Answers `count` questions, 8 at a time, printing a line as each one is recorded.
WORKER = """
import asyncio, sys
from bot.settings import Settings
from bot.wiring import runtime
from core.models import Inbound
from adapters.stackdock.demo import DEMO_ADMIN_USER_ID

async def main(prefix, count):
    async with runtime(Settings(_env_file=None)) as rt:
        gate = asyncio.Semaphore(8)
        async def one(n):
            async with gate:
                inbound = Inbound(identity=DEMO_ADMIN_USER_ID, text=f"question {n}",
                                  conversation_key=f"{prefix}:{n}")
                async for event in rt.assistant.handle(inbound):
                    pass
                print("recorded", n, flush=True)
        await asyncio.gather(*(one(n) for n in range(count)))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def start_worker(
    db_url: str, model: FakeOpenAI, prefix: str, count: int
) -> asyncio.subprocess.Process:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "ANTHROPIC"))},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": db_url,
        "AI_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-kill-0123456789abcdef",
        "OPENAI_BASE_URL": model.base_url,
        "AI_MAX_RETRIES": "0",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, prefix, str(count),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def consistency(db_url: str) -> tuple[int, int, int, bool]:
    """(answered rows, conversations with exactly their 2 messages, usage rows, chain ok)."""
    store = await open_store(db_url)
    try:
        async with store.engine.connect() as conn:
            answered = await conn.scalar(
                sa.select(sa.func.count()).where(audit_events.c.result == "answered")
            )
            per_key = sa.select(messages.c.conversation_key, sa.func.count().label("n")).group_by(
                messages.c.conversation_key
            )
            sizes = [row.n for row in await conn.execute(per_key)]
            orphans = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(usage_records)
                .where(usage_records.c.audit_id.not_in(sa.select(audit_events.c.id)))
            )
            usage = await conn.scalar(sa.select(sa.func.count()).select_from(usage_records))
        assert orphans == 0
        assert set(sizes) <= {2}, f"a conversation with a partial exchange: {sizes}"
        chain = await verify_chain_stream(store.audit.iter())
        return answered or 0, len(sizes), usage or 0, chain.ok
    finally:
        await store.close()


async def test_sigkill_mid_answer_leaves_nothing_half_recorded(pg_url: str) -> None:
    setup = await open_store(pg_url, upgrade=True)
    await setup.close()
    async with FakeOpenAI() as model:
        # Slow streams, so that at any instant several answers are in flight.
        model.push(*[Reply(text=["Answer ", "of ", "the ", "bot."], chunk_delay_s=0.03)] * 200)
        worker = await start_worker(pg_url, model, "killed", 200)
        assert worker.stdout is not None
        recorded = 0
        while recorded < 12:  # bounded: each line arrives within the timeout or the test fails
            line = await asyncio.wait_for(worker.stdout.readline(), 30)
            assert line, (await worker.stderr.read()).decode()  # type: ignore[union-attr]
            recorded += 1
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        answered, conversations, usage, chain_ok = await consistency(pg_url)
        assert answered >= recorded and answered < 200
        assert answered == conversations == usage and chain_ok

        # The next process picks up where the dead one stopped.
        model.script.clear()
        model.push(*[Reply(text=["Fine."])] * 5)
        again = await start_worker(pg_url, model, "after", 5)
        out, err = await asyncio.wait_for(again.communicate(), 30)
    assert again.returncode == 0, err.decode()
    assert out.decode().count("recorded") == 5
    after = await consistency(pg_url)
    assert after == (answered + 5, conversations + 5, usage + 5, True)
