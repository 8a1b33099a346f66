"""The process's remembered lookups stay bounded however many people ask (bench/memory.py)."""

from __future__ import annotations

from core.identity import _Recent


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Loads:
    """A loader per key that counts how often the store was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def of(self, key: str):
        async def load() -> str:
            self.asked.append(key)
            return f"value of {key}"

        return load


async def test_identity_lookups_never_exceed_their_cap_and_drop_the_oldest_first() -> None:
    recent, loads = _Recent(3600, Clock(), kept=3), Loads()
    for key in ("a", "b", "c", "d", "e"):
        assert await recent.get(key, loads.of(key)) == f"value of {key}"
        assert len(recent) <= 3
    loads.asked.clear()
    for key in ("c", "d", "e"):  # the newest three are still remembered
        await recent.get(key, loads.of(key))
    assert loads.asked == []
    await recent.get("a", loads.of("a"))  # the oldest was the one let go
    assert loads.asked == ["a"]
    assert len(recent) == 3


async def test_identity_lookups_past_their_ttl_are_dropped_at_the_next_load() -> None:
    clock, loads = Clock(), Loads()
    recent = _Recent(15, clock, kept=100)
    for key in ("a", "b", "c"):
        await recent.get(key, loads.of(key))
    clock.now = 10.0
    await recent.get("d", loads.of("d"))
    assert len(recent) == 4  # none expired yet
    clock.now = 20.0  # a, b and c are 20 s old, d 10 s
    await recent.get("e", loads.of("e"))
    assert len(recent) == 2  # only d and e: held is who asked within the ttl
    loads.asked.clear()
    await recent.get("d", loads.of("d"))
    await recent.get("a", loads.of("a"))
    assert loads.asked == ["a"]


async def test_a_reloaded_lookup_counts_as_new() -> None:
    clock, loads = Clock(), Loads()
    recent = _Recent(15, clock, kept=2)
    await recent.get("a", loads.of("a"))
    clock.now = 5.0
    await recent.get("b", loads.of("b"))
    clock.now = 16.0  # a expired and is loaded again: now the newest, b the oldest
    await recent.get("a", loads.of("a"))
    assert len(recent) == 2
    await recent.get("c", loads.of("c"))  # past the cap: b goes, not a
    loads.asked.clear()
    await recent.get("a", loads.of("a"))
    await recent.get("b", loads.of("b"))
    assert loads.asked == ["b"]
