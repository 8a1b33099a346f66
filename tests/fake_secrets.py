"""Credentials for tests, shaped like the real ones but assembled at run time.

Secret scanners flag token-shaped text in a repository whatever it is for; a test that proves
the scrubber catches `xoxb-…` still needs one, so the prefix and the body are joined here.
"""

from __future__ import annotations


def slack_token(kind: str, *parts: str) -> str:
    """A Slack-shaped token: `slack_token("xoxb", "123", "abc")` -> xoxb-123-abc."""
    return "-".join((kind, *parts))
