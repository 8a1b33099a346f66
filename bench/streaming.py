"""Latency the bot adds between a provider's first token and the first text event it streams.

Run from the repository root:  .venv/bin/python -m bench.streaming [--runs 300]

For each SDK, a fake server on 127.0.0.1 (in the same process and event loop) streams a reply
whose first text chunk is timestamped just before it is written; the provider adapter's first
TextDelta and the first TextDelta out of `run_tool_loop` are timestamped as they appear.
Three figures per provider:
- total: server write -> loop's first TextDelta (loopback TCP, the SDK's HTTP client and SSE
  parsing, our adapter and our loop): everything between the provider and an adapter;
- to adapter: server write -> our provider adapter's first TextDelta (mostly the SDK);
- tool loop: adapter's TextDelta -> loop's TextDelta (our code alone).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Sequence

from adapters.llm.anthropic import AnthropicProvider
from adapters.llm.openai import OpenAIProvider
from core.models import ChatMessage, TextDelta, ToolSpec, TurnEnd
from core.ports import Provider
from core.providers.loop import run_tool_loop
from tests.fakes.ports.tool_runner import FakeToolRunner
from tests.fakes.services.anthropic_server import FakeAnthropic
from tests.fakes.services.model_server import ModelServer, Reply
from tests.fakes.services.openai_server import FakeOpenAI

QUESTION = [ChatMessage(role="user", content="What's the status of my infrastructure?")]
REPLY = Reply(text=["All ", "twelve ", "servers ", "are ", "up."], chunk_delay_s=0.002)


class Stopwatch:
    """Wraps a provider to note when its first TextDelta leaves the adapter."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.first_delta_at: float | None = None

    async def turn(
        self, system: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[TextDelta | TurnEnd]:
        async for event in self.inner.turn(system, messages, tools):
            if isinstance(event, TextDelta) and self.first_delta_at is None:
                self.first_delta_at = time.perf_counter()
            yield event


async def measure(
    server: ModelServer, provider: Provider, runs: int
) -> tuple[list[float], list[float], list[float]]:
    totals: list[float] = []
    to_adapter: list[float] = []
    loop_only: list[float] = []
    tools = FakeToolRunner()
    for run in range(runs + 20):
        server.push(REPLY)
        watch = Stopwatch(provider)
        first_out: float | None = None
        async for event in run_tool_loop([watch], "You are StackDock.", QUESTION, tools):
            if isinstance(event, TextDelta) and first_out is None:
                first_out = time.perf_counter()
        if run < 20:
            continue  # warm-up: connection pool, imports, first-call caches
        assert first_out is not None and watch.first_delta_at is not None
        sent = server.first_token_at[-1]
        totals.append((first_out - sent) * 1000)
        to_adapter.append((watch.first_delta_at - sent) * 1000)
        loop_only.append((first_out - watch.first_delta_at) * 1000)
    return totals, to_adapter, loop_only


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def main(runs: int) -> None:
    print(f"$ .venv/bin/python -m bench.streaming --runs {runs}")
    print("first provider token -> first TextDelta out of run_tool_loop, milliseconds")
    print(f"{'provider':<10} {'measure':<28} {'p50':>7} {'p99':>7}")
    async with FakeOpenAI() as openai_fake, FakeAnthropic() as anthropic_fake:
        cases = [
            (
                openai_fake,
                OpenAIProvider(
                    model="gpt-5.4-mini", api_key="bench", base_url=openai_fake.base_url
                ),
            ),
            (
                anthropic_fake,
                AnthropicProvider(
                    model="claude-sonnet-5", api_key="bench", base_url=anthropic_fake.base_url
                ),
            ),
        ]
        for server, provider in cases:
            totals, to_adapter, loop_only = await measure(server, provider, runs)
            for label, values in (
                ("total", totals),
                ("to adapter (SDK + adapter)", to_adapter),
                ("tool loop", loop_only),
            ):
                print(
                    f"{provider.name:<10} {label:<28} "
                    f"{percentile(values, 50):>7.3f} {percentile(values, 99):>7.3f}"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    asyncio.run(main(parser.parse_args().runs))
