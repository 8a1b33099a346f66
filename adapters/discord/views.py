"""Buttons whose state lives in their `custom_id`, so they keep working after a restart.

discord.py rebuilds a DynamicItem from the custom_id of whatever component was pressed, on any
process that registered the class; nothing has to be remembered between runs.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Protocol, cast

import discord

from core.ports import AssistantPort

BUTTON_LABEL_LIMIT = 80
# The conversations a Stop button can name: a thread, a DM, a private (ephemeral) answer.
STOP_KEY = r"discord:(?:thread|dm|private):[0-9]{1,20}"


class ButtonHost(Protocol):
    """What a button needs from the bot that received the press."""

    service: AssistantPort

    async def ask_from_interaction(
        self, interaction: discord.Interaction, question: str
    ) -> None: ...

    async def record_feedback(
        self, interaction: discord.Interaction, audit_id: int, value: int
    ) -> None: ...

    async def stop_answer(
        self, interaction: discord.Interaction, conversation_key: str
    ) -> None: ...


def _host(interaction: discord.Interaction) -> ButtonHost:
    return cast(ButtonHost, interaction.client)


def prompt_digest(prompt: str) -> str:
    # A digest, not an index, so that reordering the catalogue never makes a button ask
    # something other than what its label says.
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def prompt_for(service: AssistantPort, digest: str) -> str | None:
    """The catalogue prompt a button was made for; None once the catalogue no longer has it."""
    offered = (p for topic in (None, *service.topics()) for p in service.suggested_prompts(topic))
    return next((p for p in offered if prompt_digest(p) == digest), None)


class PromptButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"sd:prompt:(?P<digest>[0-9a-f]{16})"
):
    """A suggested question; pressing it asks it for whoever pressed."""

    def __init__(self, prompt: str | None, digest: str | None = None) -> None:
        digest = digest or prompt_digest(prompt or "")
        label = (prompt or "No longer available")[:BUTTON_LABEL_LIMIT]
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"sd:prompt:{digest}"
            )
        )
        self.prompt = prompt

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PromptButton:
        return cls(prompt_for(_host(interaction).service, match["digest"]), match["digest"])

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.prompt is None:
            await interaction.response.send_message(
                "That suggestion is no longer offered; try `/stackdock prompts` again.",
                ephemeral=True,
            )
            return
        await _host(interaction).ask_from_interaction(interaction, self.prompt)


class FeedbackButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"sd:feedback:(?P<audit_id>[0-9]+):(?P<value>up|down)",
):
    """👍 or 👎 on one answer, stored against that answer's audit row."""

    def __init__(self, audit_id: int, value: int) -> None:
        word = "up" if value > 0 else "down"
        super().__init__(
            discord.ui.Button(
                emoji="👍" if value > 0 else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sd:feedback:{audit_id}:{word}",
            )
        )
        self.audit_id = audit_id
        self.value = 1 if value > 0 else -1

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> FeedbackButton:
        return cls(int(match["audit_id"]), 1 if match["value"] == "up" else -1)

    async def callback(self, interaction: discord.Interaction) -> None:
        await _host(interaction).record_feedback(interaction, self.audit_id, self.value)


class StopButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"sd:stop:(?P<key>{STOP_KEY})",
):
    """Stop, on an answer being written; it names the answer's conversation, and the core
    stops only an answer the presser asked there (so a forged id stops nothing of others')."""

    def __init__(self, conversation_key: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Stop",
                emoji="⏹",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sd:stop:{conversation_key}",
            )
        )
        self.conversation_key = conversation_key

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> StopButton:
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _host(interaction).stop_answer(interaction, self.conversation_key)


def stoppable(conversation_key: str) -> bool:
    """Whether answers in this conversation can carry a Stop button (its key fits one)."""
    return re.fullmatch(STOP_KEY, conversation_key) is not None


def feedback_buttons(audit_id: int) -> list[discord.ui.Item[Any]]:
    return [FeedbackButton(audit_id, 1), FeedbackButton(audit_id, -1)]


def prompts_view(prompts: list[str]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for prompt in prompts[:25]:  # five rows of five is all a message can hold
        view.add_item(PromptButton(prompt))
    return view
