"""Identity resolution's remembered lookups: fast, and forgotten when this process changes them."""

from __future__ import annotations

from adapters.stackdock.demo import DEMO_USERS
from core.identity import IdentityResolver
from core.models import Inbound, Refusal
from tests.fakes.ports.memory_store import MemoryStore


class CountingLinks:
    def __init__(self, inner) -> None:
        self.inner, self.gets = inner, 0

    async def vouched(self, identity):
        self.gets += 1
        return await self.inner.vouched(identity)

    def __getattr__(self, name):
        return getattr(self.inner, name)


async def test_links_are_remembered_then_forgotten_on_change(demo_mirror):
    store = MemoryStore()
    store.links = CountingLinks(store.links)
    resolver = IdentityResolver(demo_mirror, store, cache_ttl_s=3600)
    asker = Inbound(
        identity="discord:G1:7", text="hi", platform="discord", is_dm=True, workspace="@me"
    )

    assert isinstance(await resolver.resolve(asker), Refusal)
    await store.links.set("discord:G1:7", DEMO_USERS["admin"])
    # Remembered: a second question costs no lookup and still sees the old answer.
    assert isinstance(await resolver.resolve(asker), Refusal)
    assert store.links.gets == 1
    resolver.forget("discord:G1:7")
    principal = await resolver.resolve(asker)
    assert not isinstance(principal, Refusal) and principal.email == DEMO_USERS["admin"]
    assert store.links.gets == 2


async def test_a_zero_ttl_always_reads_the_store(demo_mirror):
    store = MemoryStore()
    store.links = CountingLinks(store.links)
    resolver = IdentityResolver(demo_mirror, store, cache_ttl_s=0)
    asker = Inbound(
        identity="discord:G1:8", text="hi", platform="discord", is_dm=True, workspace="@me"
    )
    await resolver.resolve(asker)
    await store.links.set("discord:G1:8", DEMO_USERS["admin"])
    assert not isinstance(await resolver.resolve(asker), Refusal)
    assert store.links.gets == 2
