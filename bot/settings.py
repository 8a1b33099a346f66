"""Every setting of the bot, read once from the environment and `.env`.

This is the only module that reads the environment. Names are the public contract's (README.md, Settings) and,
where they exist, the SDKs' own.
"""

from __future__ import annotations

import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./stackdock-assistant.db"
DATABASE_URL_FORMS = "sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER:PASSWORD@HOST/DB"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def check_database_url(value: str) -> str:
    """The URL if the store can open it: SQLite or PostgreSQL, through an installed async
    driver, and for a SQLite file, a directory that exists. Errors never repeat the URL, which
    may hold a password."""
    try:
        url = sa.make_url(value)
        dialect = url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise ValueError(f"not a database URL; expected {DATABASE_URL_FORMS}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql") or not dialect.is_async:
        raise ValueError(f"{url.drivername} is not supported; expected {DATABASE_URL_FORMS}")
    try:
        dialect.import_dbapi()
    except ImportError:
        raise ValueError(f"the driver of {url.drivername} is not installed") from None
    database = url.database or ""
    on_disk = url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if on_disk and not database.startswith("file:") and not Path(database).parent.is_dir():
        raise ValueError(f"no directory {Path(database).parent} for the SQLite file")
    return value


# SQLSTATE classes that mean DATABASE_URL itself is wrong (28: its user or password; 3D: its
# database name), as opposed to a server that is down or busy.
_URL_REFUSED = ("28", "3D")


def refused_database_url(exc: BaseException) -> str | None:
    """What the server said when it refused the URL's user, password or database; None for
    any other error. The server's words name the user, never the password."""
    orig = getattr(exc, "orig", None)
    state = str(getattr(orig, "sqlstate", None) or "")
    if not state.startswith(_URL_REFUSED):
        return None
    said = str(orig).strip().splitlines()
    return said[0] if said else f"refused (SQLSTATE {state})"


def check_snapshot(path: Path) -> None:
    """A snapshot must be a `npx convex export` ZIP or the directory it unpacks to."""
    if not path.exists():
        raise SettingsError(
            f"invalid setting STACKDOCK_SNAPSHOT: no such file or directory: {path}"
        )
    if not path.is_dir() and not zipfile.is_zipfile(path):
        raise SettingsError(
            f"invalid setting STACKDOCK_SNAPSHOT: {path} is neither a ZIP file nor a directory"
        )


def parse_mapping(value: object) -> object:
    """`{"Client": 10}` (JSON) or `Client=10,Support=20`; blank means empty. Values stay text
    here, so pydantic reports a bad number under the setting's own name."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not a JSON object: {exc}") from None
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, number = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        pairs[key.strip()] = number.strip()
    return pairs


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = DEFAULT_DATABASE_URL
    stackdock_snapshot: Path | None = None  # None means the bundled demo snapshot
    convex_url: str | None = None
    convex_deploy_key: SecretStr | None = None
    convex_poll_s: float = Field(default=5.0, gt=0)  # the syncer's pause between delta polls
    sync_backoff_max_s: float = Field(default=300.0, gt=0)  # longest wait after failures
    mirror_refresh_s: float = Field(default=5.0, gt=0)  # bot processes' check for new data
    alerts_tz: str = "UTC"  # the time zone of alert digests and of times shown in alerts
    # How long a process may hold a channel's alert messages before another may post them.
    alerts_lease_s: float = Field(default=60.0, gt=0)

    ai_provider: Literal["auto", "openai", "anthropic", "offline"] = "auto"
    ai_model: str | None = None
    ai_fallback_provider: Literal["openai", "anthropic", "offline"] | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    ai_timeout_s: float = Field(default=60.0, gt=0)
    ai_max_retries: int = Field(default=2, ge=0, le=10)
    # The primary model's context window in tokens; unset: known from the model's name. Set it
    # for a local server (llama-cpp-python defaults to 2048), so history is cut to fit.
    ai_context_window: int | None = Field(default=None, ge=512)
    ai_answer_timeout_s: float = Field(default=120.0, gt=0)  # one whole answer, every turn
    ai_max_output_tokens: int = Field(default=2048, ge=64)  # each model turn's output cap

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    discord_token: SecretStr | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None

    rate_limit_per_hour: int = Field(default=50, ge=0)
    org_rate_limit_per_hour: int | None = Field(default=None, ge=0)
    org_monthly_budget_usd: Decimal | None = Field(default=None, ge=0)
    # Role name (any case) -> questions per user per hour, e.g. "Client=10,Support=20".
    role_rate_limits: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    # Org id -> monthly budget in USD, overriding ORG_MONTHLY_BUDGET_USD for that org.
    org_budgets_usd: Annotated[dict[str, Decimal], NoDecode] = Field(default_factory=dict)
    audit_store_content: bool = True
    # Audit rows wait here while the database is down, and are written when it is back.
    audit_spool_path: Path = Path("stackdock-assistant-spool.jsonl")
    # Every listening socket binds here: all interfaces by default, since Slack and the
    # platform's health checks come from outside; 127.0.0.1 behind a reverse proxy.
    host: str = Field(default="0.0.0.0", min_length=1)
    port: int = Field(default=3000, ge=1, le=65535)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator(
        "ai_model",
        "ai_context_window",
        "ai_fallback_provider",
        "openai_base_url",
        "anthropic_base_url",
        "convex_url",
        "discord_api_url",
        "discord_gateway_url",
        "stackdock_snapshot",
        "org_monthly_budget_usd",
        "org_rate_limit_per_hour",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `.env` templates leave `NAME=` lines; they mean "unset", not "empty string".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("alerts_tz")
    @classmethod
    def _alerts_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip() or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like Europe/Paris"
            ) from None
        return value.strip() or "UTC"

    def alerts_zone(self) -> ZoneInfo:
        return ZoneInfo(self.alerts_tz)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("role_rate_limits", "org_budgets_usd", mode="before")
    @classmethod
    def _mapping(cls, value: object) -> object:
        return parse_mapping(value)

    @field_validator("role_rate_limits")
    @classmethod
    def _limits_not_negative(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [name for name, limit in value.items() if limit < 0]
        if bad:
            raise ValueError(f"negative limit for {', '.join(bad)} (0 means unlimited)")
        return value

    @field_validator("org_budgets_usd")
    @classmethod
    def _budgets_not_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = [org for org, budget in value.items() if budget < 0 or not budget.is_finite()]
        if bad:
            raise ValueError(f"budget must be a non-negative amount for {', '.join(bad)}")
        return value

    def resolved_provider(self) -> str:
        """`auto` picks openai if its key is set, else anthropic, else offline."""
        if self.ai_provider != "auto":
            return self.ai_provider
        if self.openai_api_key:
            return "openai"
        if self.anthropic_api_key:
            return "anthropic"
        return "offline"


class SettingsError(Exception):
    """A missing or malformed setting, worded as one line that names it."""


def load_settings(**overrides: object) -> Settings:
    """Reads the settings, turning pydantic's report into one line naming each bad setting."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            # The input may be a secret, so only pydantic's message is shown, never the value.
            problems.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
        raise SettingsError("invalid setting " + "; ".join(problems)) from None
    if settings.stackdock_snapshot is not None and not settings.convex_url:
        check_snapshot(settings.stackdock_snapshot)  # with CONVEX_URL set it is not read
    return settings
