"""The composition root: every object of the bot is built here, from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.settings import Settings, SettingsError
from core.assistant import Assistant, AssistantConfig
from core.commands import ChatCommands
from core.identity import IdentityResolver
from core.limits import LimitPolicy, Limits
from core.ports import Provider
from core.providers.offline import OfflineProvider
from core.stackdock.demo import load_demo
from core.stackdock.mirror import InMemoryMirror
from core.stackdock.snapshot import load_snapshot
from core.store.database import SqlStore, open_store

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    store: SqlStore
    mirror: InMemoryMirror
    assistant: Assistant
    commands: ChatCommands


def build_provider(name: str, settings: Settings, *, primary: bool) -> Provider:
    model = settings.ai_model if primary else None
    if name == "offline":
        return OfflineProvider()
    if name == "openai":
        from core.providers.openai import DEFAULT_MODELS, OpenAIProvider

        if settings.openai_api_key is None:
            raise SettingsError("OPENAI_API_KEY: required when the openai provider is used")
        return OpenAIProvider(
            model=model or DEFAULT_MODELS["openai"],
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout_s=settings.ai_timeout_s,
            max_retries=settings.ai_max_retries,
        )
    if name == "anthropic":
        from core.providers.anthropic import DEFAULT_MODELS, AnthropicProvider

        if settings.anthropic_api_key is None:
            raise SettingsError("ANTHROPIC_API_KEY: required when the anthropic provider is used")
        return AnthropicProvider(
            model=model or DEFAULT_MODELS["anthropic"],
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            timeout_s=settings.ai_timeout_s,
            max_retries=settings.ai_max_retries,
        )
    raise SettingsError(f"AI_PROVIDER: unknown provider {name!r}")


def build_providers(settings: Settings) -> list[Provider]:
    primary = settings.resolved_provider()
    providers = [build_provider(primary, settings, primary=True)]
    fallback = settings.ai_fallback_provider
    if fallback and fallback != primary:
        providers.append(build_provider(fallback, settings, primary=False))
    return providers


async def load_mirror(settings: Settings, mirror: InMemoryMirror) -> None:
    """Fills the mirror from the configured snapshot, or the bundled demo."""
    now = utc_now()
    if settings.stackdock_snapshot is None:
        loaded = await asyncio.to_thread(load_demo, now)
    else:
        path = settings.stackdock_snapshot
        if not path.exists():
            raise SettingsError(f"STACKDOCK_SNAPSHOT: no such file or directory: {path}")
        loaded = await asyncio.to_thread(load_snapshot, path)
    for problem in loaded.problems:
        log.warning("snapshot: %s", problem)
    mirror.replace(loaded.tables, loaded.as_of)


def limit_policy(settings: Settings) -> LimitPolicy:
    return LimitPolicy(
        per_user_per_hour=settings.rate_limit_per_hour,
        per_org_per_hour=settings.org_rate_limit_per_hour,
        org_budget_usd=settings.org_monthly_budget_usd,
    )


async def build_runtime(settings: Settings) -> Runtime:
    providers = build_providers(settings)  # settings errors surface before any I/O
    store = await open_store(
        settings.database_url, upgrade=settings.database_url.startswith("sqlite")
    )
    try:
        mirror = InMemoryMirror()
        await load_mirror(settings, mirror)
        assistant = Assistant(
            store=store,
            mirror=mirror,
            providers=providers,
            identity=IdentityResolver(mirror, store),
            limits=Limits(store, limit_policy(settings), utc_now),
            clock=utc_now,
            config=AssistantConfig(store_content=settings.audit_store_content),
        )
    except BaseException:
        await store.close()
        raise
    return Runtime(
        settings=settings,
        store=store,
        mirror=mirror,
        assistant=assistant,
        commands=ChatCommands(assistant, utc_now),
    )


@contextlib.asynccontextmanager
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    built = await build_runtime(settings)
    try:
        yield built
    finally:
        await built.store.close()
