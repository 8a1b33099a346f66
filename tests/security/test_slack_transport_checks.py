"""The transport's own checks agree with Bolt's wherever they accept, and never raise.

`adapters/slack/shapes.py` reads a body the way Bolt will: if the two ever read one body
differently, a check would pass one payload while Bolt handed the listeners another. The
signature check accepts exactly what slack_sdk's verifier accepts for Slack's own headers, and
refuses, rather than raises on, anything else.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from adapters.slack import shapes
from adapters.slack.signature import signed
from tests.fakes.services.slack_api import SIGNING_SECRET
from tests.harness.slack_process import sign

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
field_names = st.sampled_from(["payload", "command", "text", "user_id", "ssl_check", "x"])
forms = st.lists(
    st.tuples(field_names, st.text(max_size=30) | json_values.map(json.dumps)), max_size=4
)


@settings(max_examples=400, deadline=None, database=None)
@given(
    text=st.text(max_size=200)
    | json_values.map(json.dumps)
    | forms.map(urlencode)
    | st.sampled_from(["payload=1&payload=%7B%7D", "text=payload", "{}", ""]),
    content_type=st.sampled_from([shapes.JSON_TYPE, shapes.FORM_TYPE, "text/plain"]),
)
def test_a_body_the_checks_accept_is_the_body_bolt_reads(text: str, content_type: str) -> None:
    try:
        ours = shapes.parse(text, content_type)
    except shapes.NotSlack:
        return  # refused with 400 before Bolt sees it
    assert ours == parse_body(text, content_type)


def test_the_checks_parse_the_last_of_repeated_fields_as_bolt_does() -> None:
    text = urlencode(
        [("payload", json.dumps({"type": "a"})), ("payload", json.dumps({"type": "b"}))]
    )
    assert (
        shapes.parse(text, shapes.FORM_TYPE) == {"type": "b"} == parse_body(text, shapes.FORM_TYPE)
    )


def test_nesting_is_measured_outside_strings() -> None:
    deep = "[" * (shapes.MAX_DEPTH + 1) + "]" * (shapes.MAX_DEPTH + 1)
    assert shapes.too_deep(deep)
    assert not shapes.too_deep(json.dumps({"text": deep}))  # brackets inside a string
    assert not shapes.too_deep(json.dumps({"text": 'a \\" [[[[ "'}))
    assert not shapes.too_deep("[" * shapes.MAX_DEPTH + "]" * shapes.MAX_DEPTH)


def _headers(**values: str) -> CIMultiDict[str]:
    return CIMultiDict(values)


@settings(max_examples=300, deadline=None, database=None)
@given(
    timestamp=st.text(max_size=20) | st.integers(-(10**12), 10**13).map(str),
    signature=st.text(max_size=70),
    body=st.binary(max_size=100),
)
def test_the_signature_check_never_raises_and_never_accepts_a_forgery(
    timestamp: str, signature: str, body: bytes
) -> None:
    headers = _headers(**{"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature})
    assert signed(SIGNING_SECRET, body, headers) is False


@settings(max_examples=100, deadline=None, database=None)
@given(body=st.text(max_size=200), age=st.integers(-400, 400))
def test_slacks_own_headers_are_judged_as_slack_sdk_judges_them(body: str, age: int) -> None:
    assume(not 295 <= abs(age) <= 305)  # the clock may tick between the two checks
    headers = sign(body.encode(), timestamp=int(time.time()) - age)
    verifier = SignatureVerifier(SIGNING_SECRET)
    ts, signature = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    expected = verifier.is_valid(body, ts, signature)
    assert expected is (abs(age) < 300)
    assert signed(SIGNING_SECRET, body.encode(), _headers(**headers)) is expected
