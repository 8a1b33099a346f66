"""A worker killed with SIGKILL while answering: every committed question survives whole, none
is half-recorded (an audit row without its messages or cost, or the reverse), the next process
appends to an audit chain that still verifies, and every question the dead one had admitted is
in that chain, recorded as interrupted, its rate-limit slot given back and its event free to be
answered when the platform delivers it again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from adapters.store import open_store
from adapters.store.tables import audit_events, messages, usage_records
from core.audit import verify_chain_stream
from core.models import AuditRecord, Outcome
from tests.fakes.services.openai_server import Fail, FakeOpenAI, Reply

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).parent / "stackdock-assistant"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]

# Answers `count` questions, `parallel` at a time. With an event prefix each question is a
# platform event, claimed first as the Slack and Discord adapters claim theirs. Prints a line
# when a question's answer starts streaming (events only) and when it is recorded.
WORKER = """
import asyncio, sys
from bot.settings import Settings
from bot.wiring import runtime
from core.models import ErrorReply, Final, Inbound, TextDelta
from adapters.stackdock.demo import DEMO_ADMIN_USER_ID

async def main(prefix, count, parallel, events):
    async with runtime(Settings(_env_file=None)) as rt:
        gate = asyncio.Semaphore(parallel)
        async def one(n):
            async with gate:
                event_id = f"{events}:{n}" if events else None
                if event_id and not await rt.service.claim_event(event_id):
                    print("refused", n, flush=True)
                    return
                inbound = Inbound(identity=DEMO_ADMIN_USER_ID, text=f"question {n}",
                                  platform="console", is_dm=True,
                                  conversation_key=f"{prefix}:{n}", event_id=event_id)
                streaming, outcome = False, None
                async for event in rt.service.answer(inbound):
                    if events and isinstance(event, TextDelta) and not streaming:
                        streaming = True
                        print("streaming", n, flush=True)
                    if isinstance(event, Final | ErrorReply):
                        outcome = event.outcome
                print("recorded", n, outcome, flush=True)
        await asyncio.gather(*(one(n) for n in range(count)))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
"""


def worker_env(db_url: str, model: FakeOpenAI, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "ANTHROPIC"))},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": db_url,
        "AI_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-kill-0123456789abcdef",
        "OPENAI_BASE_URL": model.base_url,
        "AI_MAX_RETRIES": "0",
        **extra,
    }


async def start_worker(
    db_url: str,
    model: FakeOpenAI,
    prefix: str,
    count: int,
    *,
    parallel: int = 8,
    events: str = "",
    **env: str,
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, prefix, str(count), str(parallel), events,
        cwd=ROOT, env=worker_env(db_url, model, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def read_until(worker: asyncio.subprocess.Process, word: str, count: int) -> set[int]:
    """The question numbers of the first `count` lines starting with `word`."""
    assert worker.stdout is not None and worker.stderr is not None
    seen: set[int] = set()
    while len(seen) < count:  # bounded: each line arrives within the timeout or the test fails
        line = await asyncio.wait_for(worker.stdout.readline(), 30)
        assert line, (await worker.stderr.read()).decode()
        said, number, *_ = line.decode().split()
        if said == word:
            seen.add(int(number))
    return seen


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


async def audit_rows(db_url: str) -> list[AuditRecord]:
    store = await open_store(db_url)
    try:
        return [row async for row in store.audit.iter()]
    finally:
        await store.close()


def audit_verify(db_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The auditor's own check, as the real command runs it."""
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run(
        [*CLI, "audit", "verify"], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


async def test_sigkill_mid_answer_leaves_nothing_half_recorded(pg_url: str, tmp_path) -> None:
    setup = await open_store(pg_url, upgrade=True)
    await setup.close()
    async with FakeOpenAI() as model:
        # Slow streams, so that at any instant several answers are in flight.
        model.push(*[Reply(text=["Answer ", "of ", "the ", "bot."], chunk_delay_s=0.03)] * 200)
        worker = await start_worker(pg_url, model, "killed", 200)
        recorded = len(await read_until(worker, "recorded", 12))
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
    # The questions the dead worker had under way are in the chain too, not lost.
    rows = await audit_rows(pg_url)
    interrupted = [r for r in rows if r.reason == "interrupted"]
    assert interrupted, "the killed worker had answers in flight; none is in the chain"
    assert len(rows) == answered + 5 + len(interrupted)
    assert audit_verify(pg_url, tmp_path).returncode == 0


async def test_sigkill_mid_answer_is_recorded_as_interrupted_after_restart(
    db_url: str, tmp_path
) -> None:
    setup = await open_store(db_url, upgrade=True)
    await setup.close()
    asked = 10
    limit = {"RATE_LIMIT_PER_HOUR": str(asked)}  # each admitted question holds the last slots
    async with FakeOpenAI() as model:
        # Every answer starts streaming, then the model goes quiet: all ten are mid-answer.
        # Two lines, because the last line of a stream waits for what follows it (a line that
        # could open a text-form tool call, or a secret cut in two, is never shown early).
        lines = ["Looking at your servers.\n", "One moment.\n"]
        model.push(*[Fail("stall", text=lines)] * asked)
        worker = await start_worker(
            db_url, model, "killed", asked, parallel=asked, events="Ev", **limit
        )
        assert await read_until(worker, "streaming", asked) == set(range(asked))
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        assert await audit_rows(db_url) == [], "nothing was recorded before the kill"

        # Restarted, the platform delivers the same ten events again.
        model.script.clear()
        model.push(*[Reply(text=["Fine."])] * asked)
        again = await start_worker(
            db_url, model, "redelivered", asked, parallel=asked, events="Ev", **limit
        )
        out, err = await asyncio.wait_for(again.communicate(), 60)
    assert again.returncode == 0, err.decode()
    lines = [line for line in out.decode().splitlines() if not line.startswith("streaming")]
    # Answered, not refused as already handled, nor over a limit the lost answers had spent.
    assert sorted(lines) == sorted(f"recorded {n} answered" for n in range(asked)), lines

    rows = await audit_rows(db_url)
    interrupted = [r for r in rows if r.reason == "interrupted"]
    assert sorted(r.question or "" for r in interrupted) == sorted(
        f"question {n}" for n in range(asked)
    )
    for row in interrupted:
        assert row.result == Outcome.FAILED and row.org_id and row.user_id
        assert row.metadata["event_id"] == f"Ev:{row.question.split()[-1]}"  # type: ignore[union-attr]
    assert rows[:asked] == interrupted, "recorded at start-up, before any new question"
    assert [r.result for r in rows[asked:]] == [Outcome.ANSWERED] * asked
    verified = audit_verify(db_url, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{2 * asked} rows verified" in verified.stdout
