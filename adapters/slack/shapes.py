"""What a request from Slack looks like, checked before Bolt or a listener touches it.

Bolt trusts a signed body: it indexes `actions[0]`, calls `.get` on `view`, `len()` on
`authorizations`, and `json.loads` recurses without a bound. A signed body that breaks one of
those assumptions raised inside Bolt and came back as a 500 with a traceback. `parse` reads a
body exactly as Bolt will (`slack_bolt.request.internals.parse_body`), with a nesting cap, and
`check` holds every field Bolt or a listener reads to the type Slack always sends it with.
Anything else raises `NotSlack`, which the transports answer with 400 (HTTP) or an ignored ack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_DEPTH = 64  # Slack's deepest payloads (rich text inside blocks) nest about a dozen levels

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class NotSlack(ValueError):
    """A body no Slack request has; the message says why, without quoting the body."""


def parse(text: str, content_type: str) -> dict[str, Any]:
    """The body as Bolt will read it, or NotSlack."""
    if content_type == JSON_TYPE:
        return json_object(text, "body")
    if content_type != FORM_TYPE:
        raise NotSlack("content type is not one Slack sends")
    if text.startswith("{"):
        raise NotSlack("form body that Bolt would read as JSON")
    fields = dict(parse_qsl(text, keep_blank_values=True))  # last value wins, as in Bolt
    if "payload" in text:  # Bolt tests the raw text, not the field names
        if "payload" not in fields:
            raise NotSlack("form body mentions a payload but has none")
        return json_object(fields["payload"], "payload")
    return fields


def json_object(text: str, what: str) -> dict[str, Any]:
    if too_deep(text):
        raise NotSlack(f"{what} nests deeper than {MAX_DEPTH}")
    try:
        value = json.loads(text)
    except ValueError:
        raise NotSlack(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise NotSlack(f"{what} is not a JSON object")
    return value


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text opens more than `limit` arrays or objects inside each other."""
    if text.count("[") + text.count("{") <= limit:
        return False  # too few brackets to nest that deep, in strings or out: most bodies
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > limit:
            return True
    return False


# ---- field types ----
# A spec maps a field name to the type Slack sends it with: `str` (or null), a nested spec
# (an object), `Ref` (an id string, or an object holding ids), `ListOf` (objects) or `dict`
# (any object, not looked into). Fields not named are never read by Bolt or the listeners.


@dataclass(frozen=True)
class Ref:
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class ListOf:
    spec: Mapping[str, Any]


_IDS: dict[str, Any] = {"id": str, "team_id": str, "enterprise_id": str}
_THREAD: dict[str, Any] = {
    "channel_id": str,
    "thread_ts": str,
    "user_id": str,
    "context": {"channel_id": str, "team_id": str, "enterprise_id": str},
}
_MESSAGE: dict[str, Any] = {
    **dict.fromkeys(("type", "subtype", "text", "ts", "thread_ts", "bot_id"), str),
    **dict.fromkeys(("user", "team", "channel"), Ref(_IDS)),
}
_EVENT: dict[str, Any] = {
    **dict.fromkeys(
        (
            "type", "subtype", "text", "ts", "thread_ts", "event_ts", "channel_type", "bot_id",
            "tab", "user_team", "function_execution_id", "bot_access_token",
        ),
        str,
    ),
    **dict.fromkeys(("user", "team", "channel", "enterprise"), Ref(_IDS)),
    "message": _MESSAGE,
    "previous_message": _MESSAGE,
    "item": {"type": str, "channel": str, "ts": str},
    "assistant_thread": _THREAD,
    "inputs": dict,
}  # fmt: skip
_ENVELOPE: dict[str, Any] = {
    **dict.fromkeys(
        (
            "type", "token", "team_id", "api_app_id", "event_id", "enterprise_id", "user_id",
            "channel_id", "callback_id", "trigger_id", "response_url", "action_id", "block_id",
            "value", "command", "text", "challenge", "context_team_id", "context_enterprise_id",
            "thread_ts", "function_execution_id", "bot_access_token", "ssl_check",
        ),
        str,
    ),
    **dict.fromkeys(("user", "team", "channel", "enterprise"), Ref(_IDS)),
    "event": _EVENT,
    "message": _MESSAGE,
    "view": {
        **dict.fromkeys(
            (
                "id", "callback_id", "team_id", "app_installed_team_id", "type", "hash",
                "private_metadata", "external_id", "root_view_id", "previous_view_id", "bot_id",
            ),
            str,
        ),
        "state": {"values": dict},
        "blocks": ListOf({}),
    },
    "container": dict.fromkeys(("type", "channel_id", "message_ts", "thread_ts", "view_id"), str),
    "state": {"values": dict},
    "function_data": dict,
    "authorizations": ListOf({**_IDS, "user_id": str, "enterprise": Ref(_IDS)}),
    "actions": ListOf(dict.fromkeys(("action_id", "block_id", "type", "value", "action_ts"), str)),
    "response_urls": ListOf({"response_url": str, "channel_id": str}),
}  # fmt: skip


def _walk(value: Mapping[str, Any], spec: Mapping[str, Any], where: str) -> None:
    # Over the body's fields, not the spec's (far fewer), and a string where one is due
    # settled here: the path that names a bad field is only built for one that is.
    for name, item in value.items():
        rule = spec.get(name)
        if rule is None or (rule is str and (item is None or isinstance(item, str))):
            continue
        _field(item, rule, f"{where}.{name}")


def _field(value: Any, rule: Any, where: str) -> None:
    if rule is str or isinstance(rule, Ref):
        # Slack sends `null` for an absent team or enterprise; Bolt tests those for None.
        if value is None or isinstance(value, str):
            return
        if isinstance(rule, Ref) and isinstance(value, dict):
            _walk(value, rule.spec, where)
            return
        raise NotSlack(f"{where} is not a string")
    if isinstance(rule, ListOf):
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise NotSlack(f"{where} is not a list of objects")
        for i, item in enumerate(value):
            _walk(item, rule.spec, f"{where}[{i}]")
        return
    # Objects may not be null: Bolt reads them as `body.get("event", {}).get(...)`.
    if not isinstance(value, dict):
        raise NotSlack(f"{where} is not an object")
    if rule is not dict:
        _walk(value, rule, where)


# ---- what each kind of request must carry ----


def _text(where: Mapping[str, Any], *names: str, at: str) -> None:
    for name in names:
        if not isinstance(where.get(name), str):
            raise NotSlack(f"{at}.{name} is missing")


def _object(where: Mapping[str, Any], name: str, at: str) -> dict[str, Any]:
    value = where.get(name)
    if not isinstance(value, dict):
        raise NotSlack(f"{at}.{name} is missing")
    return value


def _user(payload: Mapping[str, Any]) -> None:
    _text(_object(payload, "user", "payload"), "id", at="payload.user")


def _event(payload: Mapping[str, Any]) -> None:
    event = _object(payload, "event", "body")
    _text(event, "type", at="event")
    kind = event["type"]
    if kind in {"app_mention", "message"}:
        _text(event, "channel", "ts", at="event")
    elif kind == "app_home_opened":
        _text(event, "user", "channel", at="event")
    elif kind.startswith("assistant_thread_"):
        _text(_object(event, "assistant_thread", "event"), "channel_id", "thread_ts", at="thread")
    elif kind == "agent_session_stopped":
        _text(event, "user", "channel", "thread_ts", at="event")


def _actions(payload: Mapping[str, Any]) -> None:
    _user(payload)
    actions = payload.get("actions")
    if not actions:  # Bolt reads actions[0] unguarded
        raise NotSlack("payload.actions is empty")
    for i, action in enumerate(actions):
        _text(action, "action_id", at=f"payload.actions[{i}]")


def _view(payload: Mapping[str, Any]) -> None:
    _user(payload)
    view = _object(payload, "view", "payload")
    _text(view, "id", "type", "callback_id", at="payload.view")
    if view["type"] == "workflow_step":  # Bolt then reads the step unguarded
        _object(payload, "workflow_step", "payload")


def _callback(payload: Mapping[str, Any]) -> None:
    _user(payload)
    _text(payload, "callback_id", at="payload")


def _message_action(payload: Mapping[str, Any]) -> None:
    _callback(payload)
    _text(_object(payload, "message", "payload"), "ts", at="payload.message")
    _text(_object(payload, "channel", "payload"), "id", at="payload.channel")


def _suggestion(payload: Mapping[str, Any]) -> None:
    _user(payload)
    _text(payload, "action_id", "block_id", "value", at="payload")


_BY_TYPE = {
    "event_callback": _event,
    "url_verification": lambda p: _text(p, "challenge", at="body"),
    "app_rate_limited": lambda p: None,
    "block_actions": _actions,
    "block_suggestion": _suggestion,
    "view_submission": _view,
    "view_closed": _view,
    "shortcut": _callback,
    "message_action": _message_action,
    "interactive_message": _callback,
    "dialog_submission": _callback,
    "dialog_cancellation": _callback,
    "dialog_suggestion": _callback,
}


def check(payload: Mapping[str, Any]) -> None:
    """Raises NotSlack unless every field Bolt or a listener reads has Slack's type."""
    _walk(payload, _ENVELOPE, "body")
    kind = payload.get("type")
    if kind is None:
        if "command" in payload:
            _text(payload, "command", "text", "user_id", "team_id", "channel_id", at="command")
        elif "ssl_check" not in payload:
            raise NotSlack("neither an event, an interaction nor a command")
        return
    required = _BY_TYPE.get(kind)
    if required is None:
        raise NotSlack("a payload type Slack does not send to this app")
    required(payload)
