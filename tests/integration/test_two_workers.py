"""Two real `stackdock-assistant slack` processes on one PostgreSQL, every event delivered to
both (the second time as Slack's re-delivery): each question is answered exactly once."""

from __future__ import annotations

from bench.workers import measure


async def test_two_web_workers_answer_each_redelivered_event_exactly_once(pg_url):
    # pg_url proves PostgreSQL is there (skipping outside CI only); the run makes its own database.
    result = await measure(workers=2, events=20, model_s=0.2)
    assert result["acks"] == {200: 40}  # every delivery and re-delivery acknowledged
    assert result["answered"] == 20
    assert result["duplicates"] == 0
