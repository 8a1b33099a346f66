"""The string formats that name people, places and conversations, one definition each.

Every adapter builds these through here, so that a link made on one path (`/stackdock link`,
the `link` command) is found on every other, and a conversation key means the same thing to
the store whichever platform wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from core.ports import Document, Mirror

DISCORD_DM = "@me"  # the "guild" of a Discord DM identity: discord:@me:USER


def chat_identity(platform: Literal["slack", "discord"], workspace: str | None, user: str) -> str:
    """`slack:TEAM:USER`, `discord:GUILD:USER`, or `discord:@me:USER` for a Discord DM."""
    return f"{platform}:{workspace or DISCORD_DM}:{user}"


def email_identity(address: str) -> str:
    """`email:ADDR`: a person named by the email StackDock knows them by."""
    return f"email:{address}"


def conversation_key(platform: str, *place: str) -> str:
    """A thread's identity: history is kept per key (`slack:TEAM:CHANNEL:THREAD_TS`, …)."""
    return ":".join((platform, *place))


def event_key(platform: str, kind: str, event_id: str) -> str:
    """A delivery's identity for exactly-once claims: `discord:message:ID`."""
    return f"{platform}:{kind}:{event_id}"


@dataclass(frozen=True, slots=True)
class UserRef:
    """How someone names a StackDock user: by email (anything with an @) or by `_id`."""

    kind: Literal["email", "id"]
    value: str

    @classmethod
    def parse(cls, ref: str) -> UserRef:
        ref = ref.strip()
        if ref.startswith("email:"):
            ref = ref.removeprefix("email:")
        return cls("email", ref) if "@" in ref else cls("id", ref)

    def find(self, mirror: Mirror) -> Document | None:
        return mirror.user_by_email(self.value) if self.kind == "email" else mirror.user(self.value)


def find_user(mirror: Mirror, ref: str) -> Document | None:
    """The StackDock user a link, a command or an operator names, if the mirror has one."""
    return UserRef.parse(ref).find(mirror) if ref.strip() else None


def member_of(mirror: Mirror, user_id: str, org_id: str) -> bool:
    return any(str(m.get("orgId")) == org_id for m in mirror.memberships(user_id))


def identity_workspace(identity: str) -> tuple[str, str] | None:
    """(platform, workspace) of a chat identity; None for email and bare user ids."""
    parts = identity.split(":")
    if len(parts) != 3 or parts[0] not in {"slack", "discord"} or not all(parts):
        return None
    return parts[0], parts[1]


def chat_user(identity: str, platform: Literal["slack", "discord"]) -> str | None:
    """The platform's user id in a chat identity of that platform (`slack:T1:U5` -> `U5`)."""
    parts = identity.split(":")
    if len(parts) != 3 or parts[0] != platform or not all(parts):
        return None
    return parts[2]


def identity_email(identity: str) -> str | None:
    """The address of an `email:ADDR` identity; None for any other kind."""
    address = identity.removeprefix("email:")
    return address if address != identity and address else None


IDENTITY_FORMS = (
    "slack:TEAM:USER, discord:GUILD:USER, discord:@me:USER, email:ADDRESS, or a StackDock user id"
)
_ID_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_EMAIL = re.compile(r"[^@\s:\x00-\x1f\x7f]+@[^@\s.\x00-\x1f\x7f]+(\.[^@\s.\x00-\x1f\x7f]+)+")


class IdentityError(ValueError):
    """A malformed identity, worded with what a valid one looks like."""


def check_identity(text: str) -> str:
    """`text` if it names someone in one of the forms the bot resolves; else IdentityError.

    Checked where a person types an identity (the CLI's `--as` and `link`), so that a typo
    is refused with the valid forms instead of being stored, or resolved as nobody.
    """
    if not text.strip():
        raise IdentityError(f"the identity is empty; expected {IDENTITY_FORMS}")
    bad = f"not a valid identity: {text!r}; expected {IDENTITY_FORMS}"
    kind, sep, rest = text.partition(":")
    if not sep:
        if not _ID_PART.fullmatch(text):
            raise IdentityError(bad)
        return text  # a StackDock user id
    if kind == "email":
        if not _EMAIL.fullmatch(rest):
            raise IdentityError(
                f"not an email address in {text!r}; expected email:ADDRESS, "
                "like email:ada@acme.example"
            )
        return text
    parts = rest.split(":")
    if kind not in ("slack", "discord"):
        raise IdentityError(bad)
    place = "TEAM" if kind == "slack" else "GUILD"
    workspace_ok = len(parts) == 2 and (
        _ID_PART.fullmatch(parts[0]) or (kind == "discord" and parts[0] == DISCORD_DM)
    )
    if not workspace_ok or not _ID_PART.fullmatch(parts[1]):
        like = "discord:81234567890:91234567890, or discord:@me:USER for a DM"
        if kind == "slack":
            like = "slack:T0123ABCD:U0456EFGH"
        raise IdentityError(
            f"not a valid identity: {text!r}; expected {kind}:{place}:USER, like {like}"
        )
    return text
