"""The composition root: every object of the bot is built here, from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from adapters.charts.usage_chart import MatplotlibCharts
from adapters.spool.audit_spool import AuditSpool
from adapters.stackdock.demo import load_demo
from adapters.stackdock.snapshot import SnapshotLoad
from adapters.stackdock.sources import SnapshotSource, StoreFollower, every
from adapters.store.database import SqlStore, open_store
from bot.settings import Settings, SettingsError, refused_database_url
from core.assistant import Assistant, AssistantConfig
from core.budget_notices import BudgetNotices, LogNotifier, Notifiers
from core.identity import IdentityResolver
from core.limits import LimitPolicy, Limits
from core.metrics import MIRROR_AGE_SECONDS
from core.ports import AuditSpool as AuditSpoolPort
from core.ports import ChartRenderer, Mirror, Notifier, Provider, Store
from core.providers.offline import OfflineProvider
from core.service import AssistantService
from core.stackdock.mirror import InMemoryMirror

if TYPE_CHECKING:
    # Imported where built, so that commands without a platform never load its SDK.
    from aiohttp import web
    from slack_sdk.web.async_client import AsyncWebClient

    from adapters.discord.client import StackDockBot
    from adapters.slack.app import SlackBot

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


ReadyCheck = Callable[[], Awaitable[str | None]]  # a problem that makes /readyz say 503


@dataclass
class Runtime:
    settings: Settings
    store: SqlStore
    mirror: InMemoryMirror
    assistant: Assistant
    service: AssistantService  # the driving port: all a chat adapter may use
    spool: AuditSpool  # where the assistant keeps audit rows while the database is down
    refresher: SnapshotSource | StoreFollower | None = None
    # Who hears about budgets: a log line always; a platform adds its DM notifier on start.
    notifiers: Notifiers = field(default_factory=lambda: Notifiers(LogNotifier()))
    # What /readyz checks besides the database and the mirror; a platform adds its connection.
    ready_checks: list[ReadyCheck] = field(default_factory=list)
    # Work running for as long as the runtime is open (alert delivery, detection).
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    detecting: bool = False  # whether this process runs alert detection already

    def keep(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Runs `work` until the runtime closes."""
        self.tasks.append(asyncio.create_task(work, name=name))


def build_provider(name: str, settings: Settings, *, primary: bool) -> Provider:
    if name == "offline":
        return OfflineProvider()
    provider_class: Callable[..., Provider]
    if name == "openai":
        from adapters.llm.openai import OpenAIProvider

        provider_class = OpenAIProvider
    elif name == "anthropic":
        from adapters.llm.anthropic import AnthropicProvider

        provider_class = AnthropicProvider
    else:
        raise SettingsError(f"AI_PROVIDER: unknown provider {name!r}")
    key: SecretStr | None = getattr(settings, f"{name}_api_key")
    if key is None:
        raise SettingsError(f"{name.upper()}_API_KEY: required when the {name} provider is used")
    return provider_class(
        # None lets the provider choose: its default model, or for an OpenAI-compatible
        # server the one it serves (never a paid OpenAI model's name).
        model=settings.ai_model if primary else None,
        api_key=key.get_secret_value(),
        base_url=getattr(settings, f"{name}_base_url"),
        timeout_s=settings.ai_timeout_s,
        max_retries=settings.ai_max_retries,
        max_tokens=settings.ai_max_output_tokens,
    )


def build_providers(settings: Settings) -> list[Provider]:
    primary = settings.resolved_provider()
    providers = [build_provider(primary, settings, primary=True)]
    fallback = settings.ai_fallback_provider
    if fallback and fallback != primary:
        providers.append(build_provider(fallback, settings, primary=False))
    return providers


def snapshot_source(settings: Settings) -> SnapshotSource | None:
    """The configured snapshot, watched for changes; None for live sync or the bundled demo."""
    if settings.convex_url or settings.stackdock_snapshot is None:
        return None
    path = settings.stackdock_snapshot
    if not path.exists():
        raise SettingsError(f"STACKDOCK_SNAPSHOT: no such file or directory: {path}")
    return SnapshotSource(path)


async def load_mirror(
    settings: Settings, mirror: InMemoryMirror, store: SqlStore | None = None
) -> SnapshotSource | StoreFollower | None:
    """Fills the mirror from its source; returns what can refresh it later, if anything.

    With CONVEX_URL set, the data is the store's copy that `sync` keeps current, so bot processes
    never call Convex themselves. Before the first sync the mirror stays empty and `/readyz`
    says so. Without a store the copy is read through a short-lived one (the admin commands).
    """
    if settings.convex_url:
        if store is None:
            own = await open_store(settings.database_url)
            try:
                await StoreFollower(own.mirror, mirror).refresh()
            finally:
                await own.close()
            return None
        follower = StoreFollower(store.mirror, mirror)
        if not await follower.refresh():
            log.warning(
                "no StackDock data in the database yet: is `stackdock-assistant sync` running?"
            )
        return follower
    source = snapshot_source(settings)
    if source is None:
        loaded = await asyncio.to_thread(load_demo, utc_now())
        for problem in loaded.problems:
            log.warning("snapshot: %s", problem)
    else:
        loaded = await source.load()
    mirror.replace(loaded.tables, loaded.as_of)
    return source


async def follow_mirror(
    settings: Settings, mirror: InMemoryMirror, refresher: SnapshotSource | StoreFollower | None
) -> None:
    """Keeps the mirror current for as long as the process runs (a task; cancel to stop)."""
    if isinstance(refresher, StoreFollower):
        await every(settings.mirror_refresh_s, refresher.refresh, "mirror refresh from the store")
    elif isinstance(refresher, SnapshotSource):

        async def apply(loaded: SnapshotLoad) -> None:
            mirror.replace(loaded.tables, loaded.as_of)

        await every(
            settings.mirror_refresh_s,
            lambda: refresher.reload_if_changed(apply),
            "snapshot reload",
        )


def _mirror_age(mirror: InMemoryMirror) -> float:
    as_of = mirror.as_of
    return (utc_now() - as_of).total_seconds() if as_of is not None else float("nan")


def limit_policy(settings: Settings) -> LimitPolicy:
    return LimitPolicy(
        per_user_per_hour=settings.rate_limit_per_hour,
        per_org_per_hour=settings.org_rate_limit_per_hour,
        role_per_hour=dict(settings.role_rate_limits),
        org_budget_usd=settings.org_monthly_budget_usd,
        org_budgets_usd=dict(settings.org_budgets_usd),
    )


def build_assistant(
    *,
    store: Store,
    mirror: Mirror,
    providers: Sequence[Provider],
    clock: Callable[[], datetime] = utc_now,
    policy: LimitPolicy | None = None,
    config: AssistantConfig | None = None,
    spool: AuditSpoolPort | None = None,
    notifier: Notifier | None = None,
) -> Assistant:
    """The question pipeline from its parts; production, tests and bench/ all build it here."""
    notices = BudgetNotices(store, mirror, notifier) if notifier is not None else None
    return Assistant(
        store=store,
        mirror=mirror,
        providers=providers,
        identity=IdentityResolver(mirror, store),
        limits=Limits(store, policy if policy is not None else LimitPolicy(), clock, notices),
        clock=clock,
        config=config if config is not None else AssistantConfig(),
        spool=spool,
    )


def build_service(
    assistant: Assistant,
    *,
    clock: Callable[[], datetime] = utc_now,
    charts: ChartRenderer | None = None,
    alerts_tz: tzinfo = UTC,
) -> AssistantService:
    """The driving port over a pipeline: what every chat adapter is given."""
    return AssistantService(assistant, clock, charts, alerts_tz=alerts_tz)


async def build_runtime(
    settings: Settings,
    *,
    providers: Sequence[Provider] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Runtime:
    """Everything a process serves from, built from settings; tests pass their own providers
    and clock instead of the ones the settings name."""
    if providers is None:
        providers = build_providers(settings)  # settings errors surface before any I/O
    store = await open_store(
        settings.database_url, upgrade=settings.database_url.startswith("sqlite")
    )
    try:
        mirror = InMemoryMirror()
        refresher = await load_mirror(settings, mirror, store)
        # Computed at scrape time, so the gauge ages between refreshes as the data does.
        MIRROR_AGE_SECONDS.set_function(lambda: _mirror_age(mirror))
        notifiers = Notifiers(LogNotifier())
        spool = AuditSpool(settings.audit_spool_path)
        assistant = build_assistant(
            store=store,
            mirror=mirror,
            providers=providers,
            clock=clock,
            policy=limit_policy(settings),
            config=AssistantConfig(
                store_content=settings.audit_store_content,
                context_window=settings.ai_context_window,
                answer_timeout_s=settings.ai_answer_timeout_s,
                max_answer_tokens=settings.ai_max_output_tokens,
            ),
            spool=spool,
            notifier=notifiers,
        )
    except BaseException:
        await store.close()
        raise
    return Runtime(
        settings=settings,
        store=store,
        mirror=mirror,
        assistant=assistant,
        service=build_service(
            assistant, clock=clock, charts=MatplotlibCharts(), alerts_tz=settings.alerts_zone()
        ),
        spool=spool,
        refresher=refresher,
        notifiers=notifiers,
    )


@contextlib.asynccontextmanager
async def runtime(
    settings: Settings,
    *,
    providers: Sequence[Provider] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> AsyncIterator[Runtime]:
    """A built runtime whose mirror follows its source in the background while it is open."""
    built = await build_runtime(settings, providers=providers, clock=clock)
    tasks = [
        asyncio.create_task(follow_mirror(settings, built.mirror, built.refresher)),
        asyncio.create_task(replay_spool(built)),
        asyncio.create_task(
            every(RECOVER_EVERY_S, built.assistant.recover_interrupted, "interrupted questions")
        ),
    ]
    try:
        await catch_up(built)
        yield built
    finally:
        tasks.extend(built.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await built.store.close()


@dataclass
class SlackApp:
    """The Slack bot and the web app serving it: health, and `/slack/events` in HTTP mode."""

    bot: SlackBot
    web: web.Application


def share_session(client: AsyncWebClient, app: web.Application) -> None:
    """One pooled HTTP session for every Web API call of the process, closed with the web app
    (after the answers under way are drained, see bot/serving.py). Without one the SDK opens
    a new session, and a new TCP connection, for each call."""
    if client.session is not None and not client.session.closed:
        return  # the caller brought its own, and closes it
    import aiohttp

    # The SDK's own per-call timeout, kept: a session's timeout replaces it.
    client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))

    async def close(_app: web.Application) -> None:
        if client.session is not None:
            await client.session.close()

    app.on_cleanup.append(close)


def build_slack_app(
    rt: Runtime,
    *,
    client: AsyncWebClient,
    signing_secret: str | None,
    events_over_http: bool = True,
    writer_options: dict[str, Any] | None = None,
) -> SlackApp:
    """A Slack app from a runtime: `slack`, the test harness and bench/ all serve this one."""
    from adapters.slack.app import SlackBot
    from adapters.slack.notices import SlackNotifier
    from adapters.slack.transport import EVENTS_PATH, events_endpoint
    from bot.http import health_app

    bot = SlackBot(
        service=rt.service,
        client=client,
        signing_secret=signing_secret or "",
        writer_options=writer_options,
    )
    app = health_app(rt)
    share_session(client, app)
    rt.notifiers.add(SlackNotifier(client))
    from adapters.slack.alerts import SlackAlertSink
    from bot.alerts import start_alerts

    start_alerts(rt, SlackAlertSink(client))
    if events_over_http:
        endpoint = events_endpoint(bot.app, bot.tasks, signing_secret=signing_secret)
        app.router.add_post(EVENTS_PATH, endpoint)
    return SlackApp(bot, app)


def build_discord_bot(
    rt: Runtime,
    *,
    api_url: str | None = None,
    gateway_url: str | None = None,
    edit_interval: float = 1.0,
    sync_commands: bool = True,
    **options: Any,
) -> StackDockBot:
    """A Discord bot from a runtime, its budget notices included; `discord` and the tests'
    Discord world both build it here. `options` go to discord.py's Client."""
    from adapters.discord.client import StackDockBot
    from adapters.discord.notices import DiscordNotifier

    bot = StackDockBot(
        rt.service,
        api_url=api_url,
        gateway_url=gateway_url,
        edit_interval=edit_interval,
        sync_commands=sync_commands,
        **options,
    )
    rt.notifiers.add(DiscordNotifier(bot))
    from adapters.discord.alerts import DiscordAlertSink
    from bot.alerts import start_alerts

    start_alerts(rt, DiscordAlertSink(bot))
    return bot


# How often a process looks for questions another one admitted and never recorded.
RECOVER_EVERY_S = 60.0


async def catch_up(rt: Runtime) -> None:
    """Before serving: rows kept on disk land first (they are the older), then questions a
    stopped process admitted and never recorded join the chain as interrupted."""
    spool = rt.assistant.spool
    try:
        if isinstance(spool, AuditSpool):
            await spool.replay(rt.store)
        await rt.assistant.recover_interrupted()
    except Exception as exc:
        if refused_database_url(exc) is not None:
            raise  # not an outage to wait out: DATABASE_URL is wrong, and the process stops
        # The database may be down at start; the periodic tasks catch up once it is back.
        log.warning("could not catch up on unrecorded questions (%s)", type(exc).__name__)


async def replay_spool(rt: Runtime, every_s: float = 10.0) -> None:
    """Writes audit rows kept while the database was down, as soon as it is back."""
    while True:
        if await asyncio.to_thread(rt.spool.pending):
            await rt.spool.replay(rt.store)
        await asyncio.sleep(every_s)
