"""Proof, checked by mypy, that every port is satisfied by its implementation and its fake.

Protocols are structural: nothing at runtime says that SqlStore or MemoryStore is a Store, and
a drifted signature only shows when a caller happens to pass one. Each function below returns
an implementation as its port, so mypy fails here, naming the member, the moment one drifts.
Never called; `mypy` checks this module through the `modules` entry of [tool.mypy].
"""

from __future__ import annotations

from adapters.charts.usage_chart import MatplotlibCharts
from adapters.discord.notices import DiscordNotifier
from adapters.llm.anthropic import AnthropicProvider
from adapters.llm.openai import OpenAIProvider
from adapters.slack.notices import SlackNotifier
from adapters.spool.audit_spool import AuditSpool as FileAuditSpool
from adapters.stackdock.convex import SyncRepo
from adapters.stackdock.sources import MirrorCopy
from adapters.store.alerts import SqlAlertRepo
from adapters.store.database import SqlStore
from adapters.store.mirror_repo import SqlMirrorRepo
from core import ports
from core.budget_notices import LogNotifier, Notifiers
from core.providers.offline import OfflineProvider
from core.service import AssistantService
from core.stackdock.mirror import InMemoryMirror
from core.tools import OrgTools
from tests.fakes.ports.memory_store import MemoryAlertRepo, MemoryStore
from tests.fakes.ports.scripted_provider import ScriptedProvider
from tests.fakes.ports.tool_runner import FakeToolRunner


def assistant(service: AssistantService) -> ports.AssistantPort:
    return service


def sql_store(store: SqlStore) -> ports.Store:
    return store


def memory_store(store: MemoryStore) -> ports.Store:
    return store


def sql_mirror_copy(repo: SqlMirrorRepo) -> MirrorCopy:
    return repo


def sql_sync_repo(repo: SqlMirrorRepo) -> SyncRepo:
    return repo


def mirror(m: InMemoryMirror) -> ports.Mirror:
    return m


def offline_provider(p: OfflineProvider) -> ports.Provider:
    return p


def openai_provider(p: OpenAIProvider) -> ports.Provider:
    return p


def anthropic_provider(p: AnthropicProvider) -> ports.Provider:
    return p


def scripted_provider(p: ScriptedProvider) -> ports.Provider:
    return p


def org_tools(t: OrgTools) -> ports.ToolRunner:
    return t


def fake_tools(t: FakeToolRunner) -> ports.ToolRunner:
    return t


def log_notifier(n: LogNotifier) -> ports.Notifier:
    return n


def notifiers(n: Notifiers) -> ports.Notifier:
    return n


def slack_notifier(n: SlackNotifier) -> ports.Notifier:
    return n


def discord_notifier(n: DiscordNotifier) -> ports.Notifier:
    return n


def audit_spool(s: FileAuditSpool) -> ports.AuditSpool:
    return s


def charts(c: MatplotlibCharts) -> ports.ChartRenderer:
    return c


def sql_alerts(r: SqlAlertRepo) -> ports.AlertRepo:
    return r


def memory_alerts(r: MemoryAlertRepo) -> ports.AlertRepo:
    return r
