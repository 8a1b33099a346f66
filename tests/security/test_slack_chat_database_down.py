"""A question asked in Slack while PostgreSQL is unreachable is neither lost nor left hanging.

The event's claim is the first database write of an answer. With the database cut (through
a TCP proxy that refuses and drops every connection) the person must still get the
"temporarily unavailable" reply in their thread, not "Thinking…" forever, and the question's
audit row must wait in the spool and land once the database is back.
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.store.database import open_store
from core.assistant import UNAVAILABLE_TEXT
from tests.fakes.services.slack_api import TEAM, event_envelope, mention, message, slash_command
from tests.faults.tcp_proxy import TcpProxy
from tests.harness.slack_harness import slack_app


async def test_a_mention_while_the_database_is_down_is_answered_and_kept(pg_url: str) -> None:
    await (await open_store(pg_url, upgrade=True)).close()
    url = sa.make_url(pg_url)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        async with slack_app(proxied) as h:
            await proxy.cut()
            asked = mention("Asked while the database is down", user="UADMIN", ts="70.1")
            dm = message("And in my DM?", user="UADMIN", channel="DADMIN", ts="71.1")
            for event in (asked, dm):
                assert (await h.send(event_envelope(event)))[0] == 200
            command = slash_command(
                "ask And by command?", user="UADMIN", response_url=h.api.response_url()
            )
            assert (await h.send(command, form=True))[0] == 200
            await h.settle()

            for channel, thread in (("C1", "70.1"), ("DADMIN", "71.1")):
                [reply] = h.api.bot_messages(channel, thread)
                assert "temporarily unavailable" in reply.text, reply.text
                assert UNAVAILABLE_TEXT.split(";")[0] in reply.text
            [private] = h.api.responses
            assert "temporarily unavailable" in private["text"]
            assert private["response_type"] == "ephemeral"
            assert h.rt.assistant.spool.pending() == 3, "every question is kept on disk"

            await proxy.restore()
            await h.rt.assistant.spool.replay(h.rt.store)
            rows = [r async for r in h.rt.store.audit.iter()]

    asker = f"slack:{TEAM}:UADMIN"
    assert sorted((r.question, r.result.value, r.reason, r.identity) for r in rows) == [
        ("And by command?", "failed", "internal_error", asker),
        ("And in my DM?", "failed", "internal_error", asker),
        ("Asked while the database is down", "failed", "internal_error", asker),
    ]
    assert all(r.metadata.get("spooled") is True for r in rows)
