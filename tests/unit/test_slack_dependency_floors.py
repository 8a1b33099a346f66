"""The slack-sdk and slack-bolt floors in pyproject.toml cover every call adapters/slack makes.

An older SDK must be refused at install time, not fail with an AttributeError (or a keyword
Slack's client doesn't take) in the middle of an answer. The versions below come from the
SDKs' own release history: the first release whose client has the method or argument.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parents[2]
SLACK = ROOT / "adapters" / "slack"

# Web API methods: the slack-sdk release that added each to AsyncWebClient.
METHODS = {
    "chat_postMessage": (3, 0, 0),
    "chat_update": (3, 0, 0),
    "chat_delete": (3, 0, 0),
    "chat_postEphemeral": (3, 0, 0),
    "users_info": (3, 0, 0),
    "users_lookupByEmail": (3, 0, 0),
    "conversations_open": (3, 0, 0),
    "views_publish": (3, 0, 0),
    "files_upload_v2": (3, 19, 0),
    "assistant_threads_setStatus": (3, 33, 0),
    "assistant_threads_setSuggestedPrompts": (3, 33, 0),
    "assistant_threads_setTitle": (3, 33, 0),
    "chat_startStream": (3, 37, 0),
    "chat_appendStream": (3, 37, 0),
    "chat_stopStream": (3, 37, 0),
    "agents_sessions_setStatus": (3, 44, 0),
}
# Arguments the adapter passes that came after their method.
ARGUMENTS = {
    ("assistant_threads_setStatus", "loading_messages"): (3, 37, 0),
    ("chat_startStream", "chunks"): (3, 40, 0),
    ("chat_startStream", "task_display_mode"): (3, 40, 0),
    ("chat_stopStream", "session_status"): (3, 44, 0),
}
OPTIONAL_THREAD = ("assistant_threads_setSuggestedPrompts", (3, 43, 0))  # thread_ts optional
ASSISTANT = (1, 21, 1)  # slack-bolt's AsyncAssistant (1.21.0), fixed for newer apps in 1.21.1


def floors() -> dict[str, tuple[int, ...]]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found = {}
    for dep in deps:
        match = re.fullmatch(r"(slack-sdk|slack-bolt)>=([0-9.]+)", dep)
        if match:
            found[match[1]] = tuple(int(p) for p in match[2].split("."))
    return found


def called() -> set[str]:
    """Every AsyncWebClient method adapters/slack calls."""
    names = set()
    for path in SLACK.glob("*.py"):
        names |= set(re.findall(r"\.([a-z]+_[A-Za-z0-9_]+)\(", path.read_text()))
    return {n for n in names if callable(getattr(AsyncWebClient, n, None))}


def passed(method: str, argument: str) -> bool:
    pattern = rf"\.{method}\((?:[^()]|\([^()]*\))*\b{argument}="
    return any(re.search(pattern, p.read_text()) for p in SLACK.glob("*.py"))


def test_every_client_method_the_adapter_calls_is_known_here():
    unknown = called() - set(METHODS)
    assert not unknown, f"add the slack-sdk release that introduced {sorted(unknown)}"
    assert "agents_sessions_setStatus" in called() and "chat_startStream" in called()


def test_the_sdk_floor_is_at_least_every_release_the_adapter_needs():
    needed = [METHODS[m] for m in called()]
    needed += [v for (m, arg), v in ARGUMENTS.items() if passed(m, arg)]
    assert passed("chat_stopStream", "session_status") and passed(
        "assistant_threads_setStatus", "loading_messages"
    )
    needed.append(OPTIONAL_THREAD[1])
    assert floors()["slack-sdk"] >= max(needed)
    assert floors()["slack-bolt"] >= ASSISTANT


def test_the_installed_sdk_meets_the_floors_and_takes_every_argument_passed():
    installed = tuple(int(p) for p in version("slack-sdk").split(".")[:3])
    assert installed >= floors()["slack-sdk"]
    bolt = tuple(int(p) for p in version("slack-bolt").split(".")[:3])
    assert bolt >= floors()["slack-bolt"]
    for (method, argument), _ in ARGUMENTS.items():
        assert argument in inspect.signature(getattr(AsyncWebClient, method)).parameters
    prompts = inspect.signature(getattr(AsyncWebClient, OPTIONAL_THREAD[0]))
    assert prompts.parameters["thread_ts"].default is None
