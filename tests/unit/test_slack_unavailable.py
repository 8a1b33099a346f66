"""What Slack refused to an install, remembered so that answers do not repeat a call known to
fail (adapters/slack/stream.py `Unavailable`): only refusals that are the install's, per
workspace and kind of conversation, for a while, and never more than `kept` of them."""

from __future__ import annotations

from adapters.slack.stream import SESSIONS_METHOD, Place, Unavailable


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


DM = Place("D1", "1.1", "T1", "U1")
OTHER_DM = Place("D2", "2.1", "T1", "U2")
CHANNEL = Place("C1", "3.1", "T1", "U1")
OTHER_TEAM = Place("D9", "4.1", "T2", "U1")


def test_an_installs_refusal_covers_its_other_threads_of_the_same_kind_only() -> None:
    unavailable = Unavailable(clock=Clock())
    assert not unavailable.known(SESSIONS_METHOD, DM)
    assert unavailable.note(SESSIONS_METHOD, DM, "not_allowed")
    assert unavailable.known(SESSIONS_METHOD, DM)
    assert unavailable.known(SESSIONS_METHOD, OTHER_DM)  # the same workspace's DMs
    assert not unavailable.known(SESSIONS_METHOD, CHANNEL)  # channels are asked on their own
    assert not unavailable.known(SESSIONS_METHOD, OTHER_TEAM)
    assert not unavailable.known("assistant.threads.setStatus", DM)


def test_a_refusal_about_the_call_or_a_passing_fault_is_not_remembered() -> None:
    unavailable = Unavailable(clock=Clock())
    for error in ("invalid_arguments", "ratelimited", "internal_error", "http_503"):
        assert not unavailable.note(SESSIONS_METHOD, DM, error)
    assert not unavailable.known(SESSIONS_METHOD, DM)


def test_a_refusal_is_forgotten_after_its_ttl_so_a_moved_app_is_asked_again() -> None:
    clock = Clock()
    unavailable = Unavailable(ttl_s=600, clock=clock)
    unavailable.note(SESSIONS_METHOD, DM, "unknown_method")
    clock.now = 599.0
    assert unavailable.known(SESSIONS_METHOD, DM)
    clock.now = 600.0
    assert not unavailable.known(SESSIONS_METHOD, DM)
    assert not unavailable.known(SESSIONS_METHOD, DM)  # and it is gone, not kept


def test_at_most_kept_refusals_the_oldest_forgotten_first() -> None:
    unavailable = Unavailable(kept=2, clock=Clock())
    teams = [Place("D1", "1.1", f"T{i}", "U1") for i in range(3)]
    for place in teams:
        unavailable.note(SESSIONS_METHOD, place, "not_allowed")
    assert [unavailable.known(SESSIONS_METHOD, p) for p in teams] == [False, True, True]
    # Noted again, a refusal is the newest: the next one pushes out the other.
    unavailable.note(SESSIONS_METHOD, teams[1], "not_allowed")
    unavailable.note(SESSIONS_METHOD, teams[0], "not_allowed")
    assert [unavailable.known(SESSIONS_METHOD, p) for p in teams] == [True, True, False]
