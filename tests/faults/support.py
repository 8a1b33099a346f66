"""What the fault tests share: a runtime built from settings, one question, and the audit trail."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from adapters.stackdock.demo import DEMO_ADMIN_USER_ID
from bot.settings import Settings
from bot.wiring import Runtime, runtime
from core.models import AuditRecord, ErrorReply, Final, Inbound, ReplyEvent


@contextlib.asynccontextmanager
async def fault_runtime(database_url: str, **settings: Any) -> AsyncIterator[Runtime]:
    config = Settings(_env_file=None, database_url=database_url, **settings)  # type: ignore[call-arg]
    async with runtime(config) as rt:
        yield rt


async def ask(rt: Runtime, text: str) -> list[ReplyEvent]:
    inbound = Inbound(
        identity=DEMO_ADMIN_USER_ID,
        text=text,
        platform="console",
        is_dm=True,
        conversation_key=f"fault:{uuid.uuid4()}",
    )
    return [event async for event in rt.assistant.handle(inbound)]


def reply_text(events: list[ReplyEvent]) -> str:
    last = events[-1]
    assert isinstance(last, Final | ErrorReply), f"the answer ended with {last!r}"
    return last.text


async def audit_rows(rt: Runtime) -> list[AuditRecord]:
    return [row async for row in rt.store.audit.iter()]
