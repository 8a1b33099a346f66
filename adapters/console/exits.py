"""Exit codes of `ask` and `console`: how a script tells the outcomes apart (README, "Try it")."""

from __future__ import annotations

from core.models import ErrorReply, Outcome
from core.replies import ReplyDraft

ANSWERED = 0
USAGE_ERROR = 2  # no question, an empty or too long one, a malformed --as
DENIED = 3
LIMITED = 4  # rate-limited or over budget
PROVIDER_FAILED = 5  # the AI provider failed to answer
UNAVAILABLE = 6  # the bot itself failed: its database is down, most likely
INTERRUPTED = 130  # Ctrl-C, as a shell reports a process it interrupted

EXIT_CODES = {
    Outcome.ANSWERED: ANSWERED,
    Outcome.DENIED: DENIED,
    Outcome.RATE_LIMITED: LIMITED,
    Outcome.OVER_BUDGET: LIMITED,
    Outcome.FAILED: PROVIDER_FAILED,
    Outcome.CANCELLED: INTERRUPTED,
}

# Refusals of the words themselves: the person typed no question or too much of one.
_USAGE_REASONS = frozenset({"empty", "too_long"})
# The core's reason when something inside the bot failed, not the provider.
_UNAVAILABLE_REASON = "internal_error"


def exit_code(draft: ReplyDraft) -> int:
    """The exit code of one answered, refused or failed question."""
    end = draft.end
    if isinstance(end, ErrorReply):
        if end.reason in _USAGE_REASONS:
            return USAGE_ERROR
        if end.reason == _UNAVAILABLE_REASON:
            return UNAVAILABLE
    return EXIT_CODES[draft.outcome]
