"""Exit codes and error messages of the real `stackdock-assistant`, as a script sees them.

0 answered, 2 usage error, 3 denied, 4 rate-limited or over budget, 5 the AI provider failed,
6 the bot itself is unavailable (its database), 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from adapters.stackdock.demo import DEMO_USERS
from tests.e2e.test_console_cli import CLI, environment, run
from tests.fakes.services.model_server import Fail
from tests.fakes.services.openai_server import FakeOpenAI

ADMIN = ["--as", f"email:{DEMO_USERS['admin']}"]
# A PostgreSQL URL nobody listens on: the bot starts, and its database is down.
DOWN = "postgresql+asyncpg://stackdock@127.0.0.1:1/stackdock"


def audit(tmp_path: Path) -> list[dict]:
    exported = run(["audit", "export"], tmp_path)
    assert exported.returncode == 0, exported.stderr
    return [json.loads(line) for line in exported.stdout.splitlines()]


def test_version(tmp_path):
    result = run(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("stackdock-assistant ") and result.stdout.strip()[-1].isdigit()


@pytest.mark.parametrize("question", ["", "   ", "\n"])
def test_an_empty_question_is_a_usage_error_not_a_refusal(tmp_path, question):
    result = run(["ask", question], tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the question is empty" in result.stderr
    assert 'like "How many servers do I have?"' in result.stderr
    assert not (tmp_path / "e2e.db").exists()  # refused before the bot even started


@pytest.mark.parametrize(
    ("identity", "shows"),
    [
        ("slack:", "slack:TEAM:USER, like slack:T0123ABCD:U0456EFGH"),
        ("slack:T1", "slack:TEAM:USER"),
        ("email:not-an-email", "email:ADDRESS, like email:ada@acme.example"),
        ("foo:bar:baz", "slack:TEAM:USER, discord:GUILD:USER, discord:@me:USER, email:ADDRESS"),
        ("discord:G1:U1:extra", "discord:GUILD:USER"),
        ("", "the identity is empty"),
        ("two words", "or a StackDock user id"),
    ],
)
@pytest.mark.parametrize("command", ["ask", "console"])
def test_a_malformed_as_is_refused_with_what_a_valid_one_looks_like(
    tmp_path, identity, shows, command
):
    args = [command, "How many servers?"] if command == "ask" else [command]
    result = run([*args, "--as", identity], tmp_path, stdin="How many servers?\n")
    assert result.returncode == 2, result.stdout + result.stderr
    assert shows in result.stderr and "--as" in result.stderr
    assert result.stdout == ""  # never answered as anybody, least of all the admin


def test_a_malformed_link_identity_is_refused_and_nothing_is_stored(tmp_path):
    for identity in ("slack:", "email:not-an-email", "foo:bar:baz", "slack:T1:U1:extra"):
        result = run(["link", identity, DEMO_USERS["client"]], tmp_path)
        assert result.returncode == 2, identity
        assert f"not a valid identity: {identity!r}; expected" in result.stderr or (
            "expected email:ADDRESS" in result.stderr
        )
    assert run(["links"], tmp_path).stdout == ""
    assert run(["link", "discord:@me:42", DEMO_USERS["client"]], tmp_path).returncode == 0
    assert run(["links"], tmp_path).stdout.startswith("discord:@me:42\t")


def test_the_bot_unavailable_has_its_own_code_not_the_providers(tmp_path):
    result = run(["ask", "How many servers do I have?", *ADMIN], tmp_path, DATABASE_URL=DOWN)
    assert result.returncode == 6, result.stdout + result.stderr
    assert "temporarily unavailable" in result.stdout
    links = run(["links"], tmp_path, DATABASE_URL=DOWN)
    assert links.returncode == 6
    lines = links.stderr.strip().splitlines()
    assert len(lines) == 1 and "unavailable" in lines[0] and "Traceback" not in links.stderr


def test_a_question_refused_by_the_budget_uses_no_rate_limit_slot(tmp_path):
    one_an_hour = {"RATE_LIMIT_PER_HOUR": "1"}
    ask = ["ask", "How many servers do I have?", *ADMIN]
    for _ in range(2):
        refused = run(ask, tmp_path, ORG_BUDGETS_USD="org_acme=0", **one_an_hour)
        assert refused.returncode == 4 and "budget" in refused.stdout
    # The budget raised, the hour's one question is still there, and then it is used.
    assert run(ask, tmp_path, **one_an_hour).returncode == 0
    limited = run(ask, tmp_path, **one_an_hour)
    assert limited.returncode == 4 and "limit of 1 questions an hour" in limited.stdout
    rows = audit(tmp_path)
    assert [r["result"] for r in rows] == ["over_budget"] * 2 + ["answered", "rate_limited"]


def test_help_asked_as_a_question_uses_no_slot_and_is_no_question(tmp_path):
    one_an_hour = {"RATE_LIMIT_PER_HOUR": "1"}
    for _ in range(2):
        helped = run(["ask", "help", *ADMIN], tmp_path, **one_an_hour)
        assert helped.returncode == 0 and "I only read data" in helped.stdout
    assert (
        run(["ask", "How many servers do I have?", *ADMIN], tmp_path, **one_an_hour).returncode == 0
    )
    assert [r["action"] for r in audit(tmp_path)] == ["ai.help", "ai.help", "ai.chat"]
    report = json.loads(run(["usage", "--format", "json"], tmp_path).stdout)
    assert report["total"]["questions"] == 1  # help rows are audited, but ask nothing


async def test_ctrl_c_stops_the_answer_records_it_cancelled_and_exits_130(tmp_path):
    async with FakeOpenAI() as model:
        model.push(Fail("stall", text=("Counting your ", "servers")))
        env = environment(
            tmp_path,
            AI_PROVIDER="openai",
            OPENAI_BASE_URL=model.base_url,
            OPENAI_API_KEY="sk-test-0123456789abcdefghijklmnop",
        )
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            "ask",
            "How many servers do I have?",
            *ADMIN,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(600):  # the model has the question
            if model.requests:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # and is streaming its answer, then stalls
        proc.send_signal(signal.SIGINT)
        stdout, err = await asyncio.wait_for(proc.communicate(), 30)
    out = stdout.decode()
    assert proc.returncode == 130, out + err.decode()
    assert out.endswith("Stopped.\n")  # below whatever of the answer had been shown
    (row,) = audit(tmp_path)
    assert (row["result"], row["reason"]) == ("cancelled", "stopped")
    assert "Traceback" not in err.decode()
