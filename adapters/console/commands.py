"""The words the console answers itself: leaving, help, prompts and usage.

None of them is a question: no model call, no rate-limit slot, no question's audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.models import Inbound
from core.ports import AssistantPort

LEAVE_WORDS = frozenset({"exit", "quit"})


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # help | prompts | usage | exit
    argument: str = ""


def parse_command(line: str) -> Command | None:
    """The console's own command on this line, if it is one (`/help` reads as `help`)."""
    words = line.strip().split(maxsplit=1)
    if not words:
        return None
    name = words[0].lower().removeprefix("/").rstrip("!.")
    argument = words[1].strip() if len(words) > 1 else ""
    if name in LEAVE_WORDS and not argument:
        return Command("exit")
    if name in {"help", "?"} and not argument:
        return Command("help")
    if name == "usage" and not argument:
        return Command("usage")
    if name == "prompts" and len(argument.split()) <= 1:
        return Command("prompts", argument)
    return None


def help_text(examples: Sequence[str], topics: Sequence[str]) -> str:
    asked = "\n".join(f"- {example}" for example in examples)
    return (
        "Ask about your organisation's infrastructure in plain words, for example:\n"
        f"{asked}\n\n"
        "In this console:\n"
        "- `help`: this list\n"
        f"- `prompts [topic]`: questions to start from; topics: {', '.join(topics)}\n"
        "- `usage`: your questions and their cost this month\n"
        "- `exit` or `quit` (or Ctrl-D): leave\n"
        "- Ctrl-C: stop the answer under way; at the prompt, leave\n"
        "- ↑ and ↓: this session's earlier questions; the usual line editing keys work\n\n"
        "I only read data; I never change your infrastructure."
    )


async def run_command(command: Command, service: AssistantPort, inbound: Inbound) -> str:
    """The Markdown to show for `command` (not `exit`, which the session handles)."""
    if command.name == "help":
        return help_text(service.suggested_prompts(None), service.topics())
    if command.name == "prompts":
        topic = command.argument or None
        prompts = service.suggested_prompts(topic)
        unknown = topic is not None and topic.lower() not in service.topics()
        if unknown and prompts == service.suggested_prompts(None):
            known = ", ".join(service.topics())
            return f"No prompts about {topic!r}; the topics are {known}."
        return "\n".join(f"- {prompt}" for prompt in prompts)
    view = await service.usage(inbound)
    return view.text
