"""How the bot copes with what a small local model does, on three everyday questions.

The scripted local-server fake (`tests/fakes/services/local_server.py`, llama-server's wire format)
replays the transcripts small instruct models (Qwen2.5 0.5B/1.5B on llama.cpp) produce: calls in
the API's field or written as text in each common shape, the same call again and again, a turn
that runs into the output cap, a model that never stops looking things up, an answer cut off,
a call to a tool it made up. Each answer turn reads the tool results it was sent, as a model
would, so an answer is right only when the loop ran the calls and handed their results back. Wrong: the person saw a call's JSON,
got no answer, or a wrong fact. The whole pipeline runs (real OpenAI SDK, tools over the bundled
demo org, audit), with an in-memory store.

Run: `.venv/bin/python -m bench.local_answers`
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.llm.openai import OpenAIProvider
from adapters.stackdock.demo import DEMO_USERS, load_demo
from bot.wiring import build_assistant, build_service
from core.limits import LimitPolicy
from core.models import ErrorReply, Final, Inbound, Principal
from core.stackdock.mirror import InMemoryMirror
from core.tools import OrgTools
from tests.fakes.ports.memory_store import MemoryStore
from tests.fakes.services.local_server import LocalServer, Said, bare, fenced, prefixed, tagged
from tests.fakes.services.model_server import FakeToolCall

ASKER = f"email:{DEMO_USERS['admin']}"
OUTPUT_CAP = 200  # tokens a turn may write; the fake counts one a piece
# What a call's text looks like; none of it may reach the person.
CALL_MARKS = ('"name"', '"arguments"', "<tool_call>", "functions.", "```json")

Reply = Callable[[dict[str, Any]], Said]


@dataclass(frozen=True)
class Question:
    text: str
    call: tuple[str, dict[str, Any]]
    answer: Callable[[list[dict[str, Any]]], str]  # words the tool results, as a model would
    facts: Callable[[dict[str, Any]], list[str]]  # what a right answer holds, from the tools


def _count(results: list[dict[str, Any]]) -> str:
    return f"You have {results[-1]['total']} servers."


def _list(results: list[dict[str, Any]]) -> str:
    names = ", ".join(item["name"] for item in results[-1]["items"])
    return f"Your servers: {names}."


def _critical(results: list[dict[str, Any]]) -> str:
    critical = [p["name"] for p in results[-1]["problems"] if p["severity"] == "critical"]
    return f"{len(critical)} critical issues: " + "; ".join(critical) + "."


QUESTIONS = (
    Question(
        "How many servers do I have?",
        ("count_resources", {"kind": "servers"}),
        _count,
        lambda truth: [f"{truth['total']} servers"],
    ),
    Question(
        "List my servers",
        ("list_resources", {"kind": "servers"}),
        _list,
        lambda truth: [item["name"] for item in truth["items"]],
    ),
    Question(
        "Any critical issues?",
        ("find_problems", {}),
        _critical,
        lambda truth: [p["name"] for p in truth["problems"] if p["severity"] == "critical"],
    ),
)


def results_sent(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results in a request, a repeat's earlier result unwrapped."""
    found = []
    for message in body["messages"]:
        if message["role"] == "tool":
            content = json.loads(message["content"])
            found.append(content.get("earlier_result", content))
    return found


def answering(question: Question, *, endless: bool = False) -> Reply:
    def reply(body: dict[str, Any]) -> Said:
        results = results_sent(body)
        usable = results and "error" not in results[-1]
        text = question.answer(results) if usable else "I could not look that up."
        return Said(text + " ", endless=endless)

    return reply


def correcting(question: Question) -> Reply:
    """A model that reads the error its made-up call got and calls the tool the error names;
    an error that names no tool leaves it nothing to go on."""

    def reply(body: dict[str, Any]) -> Said:
        results = results_sent(body)
        error = str(results[-1].get("error", "")) if results else ""
        if question.call[0] in error:
            return Said(fenced(*question.call))
        return Said("I could not look that up. ")

    return reply


Transcript = Callable[[Question], list[Said | Reply]]


def _written(shape: Callable[[str, dict[str, Any]], str]) -> Transcript:
    return lambda q: [Said(f"I'll look that up.\n{shape(*q.call)}\n"), answering(q)]


TRANSCRIPTS: dict[str, Transcript] = {
    "call in the API's field": lambda q: [
        Said(tool_calls=[FakeToolCall(*q.call)]),
        answering(q),
    ],
    "```json fenced call": _written(fenced),
    "bare JSON call": _written(bare),
    "<tool_call> tags": _written(tagged),
    "functions.NAME: prefix": _written(prefixed),
    "same call three times": lambda q: [
        Said(bare(*q.call)),
        Said(tagged(*q.call)),
        Said(fenced(*q.call)),
        answering(q),
    ],
    "call repeated to the cap": lambda q: [
        Said(tagged(*q.call) + "\n", endless=True),
        answering(q),
    ],
    "never stops calling": lambda q: [*(Said(fenced(*q.call)) for _ in range(6)), answering(q)],
    "answer cut off by the cap": lambda q: [
        Said(fenced(*q.call)),
        answering(q, endless=True),
    ],
    "call to a tool it made up": lambda q: [
        Said(f"Checking.\n{fenced('get_servers', {})}\n"),
        correcting(q),
        answering(q),
    ],
}


@dataclass(frozen=True)
class Run:
    question: str
    transcript: str
    right: bool
    why: str
    reason: str | None


def now() -> datetime:
    return datetime.now(UTC)


async def truth(mirror: InMemoryMirror, principal: Principal, question: Question) -> list[str]:
    result = await OrgTools(mirror, principal, now=now).call(*question.call)
    return question.facts(dict(result.content))


async def one(mirror: InMemoryMirror, question: Question, name: str, transcript: Transcript) -> Run:
    store = MemoryStore()
    async with LocalServer() as server:
        server.push(*transcript(question))
        provider = OpenAIProvider(
            model=None, api_key="none", base_url=server.base_url, max_tokens=OUTPUT_CAP
        )
        assistant = build_assistant(
            store=store,
            mirror=mirror,
            providers=[provider],
            clock=now,
            policy=LimitPolicy(per_user_per_hour=10**6),
        )
        inbound = Inbound(
            identity=ASKER,
            text=question.text,
            platform="console",
            is_dm=True,
            conversation_key=f"bench-{uuid.uuid4()}",
        )
        principal = await assistant.resolve(inbound)
        assert isinstance(principal, Principal), "the demo admin may ask"
        facts = await truth(mirror, principal, question)
        text, failed = "", False
        async for event in build_service(assistant, clock=now).answer(inbound):
            if isinstance(event, Final | ErrorReply):
                text, failed = event.text, isinstance(event, ErrorReply)
    reason = [row async for row in store.audit.iter()][-1].reason
    if failed:
        return Run(question.text, name, False, "no answer", reason)
    if leaked := [mark for mark in CALL_MARKS if mark in text]:
        return Run(question.text, name, False, f"showed {leaked[0]}", reason)
    if missing := [fact for fact in facts if fact not in text]:
        return Run(question.text, name, False, f"missing {missing[0]!r}", reason)
    return Run(question.text, name, True, "", reason)


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    loaded = load_demo(now())
    mirror = InMemoryMirror(loaded.tables, loaded.as_of)
    runs = [
        await one(mirror, question, name, transcript)
        for question in QUESTIONS
        for name, transcript in TRANSCRIPTS.items()
    ]
    width = max(len(name) for name in TRANSCRIPTS)
    for question in QUESTIONS:
        print(question.text)
        for run in (r for r in runs if r.question == question.text):
            verdict = "right" if run.right else f"WRONG ({run.why})"
            note = f"  [audit reason: {run.reason}]" if run.reason else ""
            print(f"  {run.transcript:<{width}}  {verdict}{note}")
    right = sum(run.right for run in runs)
    print(f"right {right}, wrong {len(runs) - right}, of {len(runs)}")


if __name__ == "__main__":
    asyncio.run(main())
