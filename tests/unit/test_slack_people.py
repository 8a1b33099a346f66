"""Slack people's emails (`users.info`), cached: one call per person per hour, shared by
questions that arrive together, a changed email seen once the hour is over, and a bounded
number of people remembered (adapters/slack/people.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.slack.people import EmailDirectory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Users:
    """`users.info` as Slack answers it; `fails` makes the next calls fail."""

    def __init__(self, emails: dict[str, str]) -> None:
        self.emails = emails
        self.asked: list[str] = []
        self.fails = 0
        self.gate: asyncio.Event | None = None

    async def users_info(self, *, user: str) -> dict[str, Any]:
        self.asked.append(user)
        if self.gate is not None:
            await self.gate.wait()
        if self.fails:
            self.fails -= 1
            raise SlackApiError("failed", {"ok": False, "error": "internal_error"})
        return {"ok": True, "user": {"id": user, "profile": {"email": self.emails[user]}}}


def directory(users: Users, clock: Clock, **kw: Any) -> EmailDirectory:
    return EmailDirectory(users, clock=clock, **kw)  # type: ignore[arg-type]


async def test_one_call_per_person_per_hour_and_a_changed_email_is_seen_after_it():
    users, clock = Users({"U1": "ada@acme.example"}), Clock()
    people = directory(users, clock)
    assert await people.email("T1", "U1") == "ada@acme.example"
    users.emails["U1"] = "ada@globex.example"
    clock.now += 3599
    assert await people.email("T1", "U1") == "ada@acme.example"
    assert users.asked == ["U1"]
    clock.now += 2
    assert await people.email("T1", "U1") == "ada@globex.example"
    assert users.asked == ["U1", "U1"]


async def test_questions_arriving_together_share_one_call():
    users, clock = Users({"U1": "ada@acme.example"}), Clock()
    users.gate = asyncio.Event()
    people = directory(users, clock)
    waiting = [asyncio.create_task(people.email("T1", "U1")) for _ in range(5)]
    await asyncio.sleep(0)
    users.gate.set()
    assert await asyncio.gather(*waiting) == ["ada@acme.example"] * 5
    assert users.asked == ["U1"]


async def test_a_failed_lookup_is_tried_again_within_a_minute():
    users, clock = Users({"U1": "ada@acme.example"}), Clock()
    users.fails = 1
    people = directory(users, clock)
    assert await people.email("T1", "U1") is None
    clock.now += 30
    assert await people.email("T1", "U1") is None
    clock.now += 31
    assert await people.email("T1", "U1") == "ada@acme.example"
    assert users.asked == ["U1", "U1"]


async def test_at_most_kept_people_are_remembered_the_longest_known_forgotten_first():
    users, clock = Users({f"U{i}": f"u{i}@acme.example" for i in range(4)}), Clock()
    people = directory(users, clock, kept=3)
    for i in range(3):
        await people.email("T1", f"U{i}")
    clock.now += 10
    await people.email("T1", "U0")  # still known: no call, and no change to who goes first
    await people.email("T1", "U3")  # a fourth: U0, known longest, is forgotten
    assert users.asked == ["U0", "U1", "U2", "U3"]
    for user in ("U1", "U2", "U3"):
        await people.email("T1", user)
    assert users.asked == ["U0", "U1", "U2", "U3"]
    assert await people.email("T1", "U0") == "u0@acme.example"
    assert users.asked == ["U0", "U1", "U2", "U3", "U0"]
