"""Only the person who asked a question can rate its answer, over signed HTTP to the real app.

The feedback buttons sit in a thread anyone in the channel can see, and a forged press can
name any audit row; the core stores a rating only from the asker of that row.
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.store.tables import audit_feedback
from tests.fakes.services.slack_api import TEAM, block_action, event_envelope, mention
from tests.harness.slack_harness import Harness, slack_app


async def press(h: Harness, who: str, value: str, message_ts: str) -> None:
    button = {"type": "feedback_buttons", "action_id": "feedback", "block_id": "b1", "value": value}
    status, _, _ = await h.send(block_action(button, user=who, message_ts=message_ts), form=True)
    assert status == 200
    await h.settle()


async def ratings(h: Harness) -> list[tuple[int, str, int]]:
    async with h.rt.store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_feedback))).mappings().all()
    return [(r["audit_id"], r["identity"], r["value"]) for r in rows]


async def test_only_the_asker_rates_the_answer(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await h.send(event_envelope(mention("List my servers", user="UADMIN", ts="60.1")))
        await h.settle()
        [answer] = h.api.bot_messages("C1", "60.1")
        buttons = answer.blocks[-1]["elements"][0]
        down, up = buttons["negative_button"]["value"], buttons["positive_button"]["value"]
        [row] = [r async for r in h.rt.store.audit.iter()]

        await press(h, "UDEV", down, answer.ts)  # someone else in the thread
        await press(h, "UNOBODY", down, answer.ts)  # someone the bot doesn't even know
        assert await ratings(h) == [], "a rating by anyone but the asker is refused"

        await press(h, "UADMIN", up, answer.ts)
        assert await ratings(h) == [(row.id, f"slack:{TEAM}:UADMIN", 1)]
        await press(h, "UDEV", down, answer.ts)
        assert await ratings(h) == [(row.id, f"slack:{TEAM}:UADMIN", 1)], "the row is unchanged"


async def test_a_forged_press_on_someone_elses_row_is_refused(sqlite_url):
    async with slack_app(sqlite_url) as h:
        await h.send(event_envelope(mention("List my domains", user="UADMIN", ts="61.1")))
        await h.send(event_envelope(mention("List my servers", user="UDEV", ts="62.1")))
        await h.settle()
        rows = {r.identity: r.id async for r in h.rt.store.audit.iter()}
        admins_row = rows[f"slack:{TEAM}:UADMIN"]
        # UDEV presses a button of their own answer, with the value edited to the admin's row.
        [own] = h.api.bot_messages("C1", "62.1")
        await press(h, "UDEV", f"down:{admins_row}", own.ts)
        await press(h, "UDEV", f"up:{admins_row + 1000}", own.ts)  # a row that doesn't exist
        assert await ratings(h) == []
