"""Per-channel instructions: the org's own words for the assistant in one channel.

An `ai:full` member (or an operator, `bind … --instructions`) can say how the assistant should
answer in a channel: its language, tone, focus. The words are stored on the channel's binding
and reach the model as data inside the fence, quoted, beside a rule that lets them shape the
answer and nothing else: tools still check the asker's role, whatever the words claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.access import allows
from core.models import Binding, Inbound, Outcome, Refusal
from core.redact import one_line, scrub_text

if TYPE_CHECKING:
    from core.assistant import Assistant

MAX_INSTRUCTIONS_CHARS = 500
CLEAR_WORDS = frozenset({"clear", "off", "none", "reset"})
ACTION = "ai.instructions"


class TooLong(ValueError):
    """Instructions longer than MAX_INSTRUCTIONS_CHARS once cleaned."""


def clean_instructions(text: str) -> str:
    """`text` as stored: one line, secret-looking parts scrubbed; TooLong past the cap (a cut
    would change what the words mean, so they are refused, never truncated)."""
    cleaned = " ".join(scrub_text(text).split())
    if len(cleaned) > MAX_INSTRUCTIONS_CHARS:
        raise TooLong(
            f"Instructions are at most {MAX_INSTRUCTIONS_CHARS} characters; "
            f"these are {len(cleaned):,}."
        )
    return cleaned


def shown(instructions: str) -> str:
    """Instructions as a chat reply quotes them back: one line, never a multi-line layout."""
    return f"“{one_line(instructions, MAX_INSTRUCTIONS_CHARS)}”"


async def channel_instructions(assistant: Assistant, inbound: Inbound, text: str) -> str:
    """`instructions` (show), `instructions clear`, or `instructions TEXT` (set) for the
    channel the command came from; every use is audited. Returns the reply to show."""
    reply, outcome, reason, target = await _apply(assistant, inbound, text.strip())
    await assistant.record_action(
        inbound,
        action=ACTION,
        result=outcome,
        reason=reason,
        answer=reply,
        metadata={"target": target},
    )
    return reply


async def _apply(
    assistant: Assistant, inbound: Inbound, words: str
) -> tuple[str, Outcome, str | None, str | None]:
    denied = Outcome.DENIED
    if inbound.is_dm or not inbound.workspace or not inbound.channel:
        return (
            "Instructions belong to a channel: use this command in a channel connected to "
            "your StackDock organisation.",
            denied,
            "instructions_in_dm",
            None,
        )
    principal = await assistant.resolve(inbound)
    if isinstance(principal, Refusal):
        return principal.text, principal.outcome, principal.reason, None
    binding = await assistant.identity.binding_for(inbound)
    if binding is None or binding.org_id != principal.org_id:
        return "This channel isn't connected to your organisation.", denied, "unbound", None
    here = f"{inbound.platform}:{inbound.workspace}:{inbound.channel}"
    current = binding.instructions if binding.target == here else ""
    if not words:
        text = (
            f"The instructions for this channel: {shown(current)}"
            if current
            else "This channel has no instructions. An admin can set some with "
            "`/stackdock instructions <text>`."
        )
        return text, Outcome.ANSWERED, None, here
    if not allows(principal.permissions, "ai:full"):
        return (
            f"Changing this channel's instructions needs ai:full; your role "
            f"({principal.role_name}) doesn't have it.",
            denied,
            "denied",
            here,
        )
    if words.casefold() in CLEAR_WORDS:
        await _clear(assistant, binding, here)
        return "This channel's instructions are cleared.", Outcome.ANSWERED, None, here
    try:
        cleaned = clean_instructions(words)
    except TooLong as exc:
        return str(exc), denied, "too_long", here
    # A channel covered only by its workspace's binding gets one of its own, for the same
    # org and detail, so the words apply to this channel and no other.
    await assistant.store.bindings.set(Binding(here, binding.org_id, binding.allow_detail, cleaned))
    assistant.identity.forget(here)
    return (
        f"From now on, in this channel I'll follow: {shown(cleaned)}",
        Outcome.ANSWERED,
        None,
        here,
    )


async def _clear(assistant: Assistant, binding: Binding, here: str) -> None:
    if binding.target != here:
        return  # the workspace's binding applies here; it holds no words for this channel
    parent = await assistant.store.bindings.get(here.rsplit(":", 1)[0])
    if parent and (parent.org_id, parent.allow_detail) == (binding.org_id, binding.allow_detail):
        # It only carried the words: removed, the channel follows its workspace again (and
        # any later change of that binding).
        await assistant.store.bindings.remove(here)
    else:
        await assistant.store.bindings.set(Binding(here, binding.org_id, binding.allow_detail))
    assistant.identity.forget(here)
