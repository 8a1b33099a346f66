"""Answers given from the words alone: help, greetings, who am I, and every honest "I can't".

Each refusal is one sentence on why, then what can be answered instead; an unsure reading
says what it did understand and asks, rather than showing a list nobody asked for.
"""

from __future__ import annotations

from core.prompts import HELP_TEXT, suggested_prompts
from core.providers.offline.context import Asker
from core.providers.offline.query import Query
from core.providers.offline.vocabulary import (
    KIND_STATUSES,
    PROVIDER_NAMES,
    label,
    provider_name,
)
from core.providers.offline.wording import code, listed

OFFLINE_NOTE = (
    "I'm running without an AI model (offline mode), so I understand a fixed range of "
    "questions: counts and lists of your resources by kind, provider, status or region, one "
    "resource by name, sizes, problems, domain expiry, deploy times, backups, and who you are."
)


def _thing(q: Query) -> str:
    if q.name:
        return code(q.name)
    if q.kind:
        return label(q.kind)
    return "anything"


def declined(q: Query, who: Asker) -> str:
    org = who.org_label
    intent = q.intent
    if intent == "help":
        return HELP_TEXT
    if intent == "greeting":
        hello = f"Hi {who.first_name}!" if who.first_name else "Hi!"
        return f"{hello} Ask me about {org}'s infrastructure, for example: " + listed(
            (f'"{p}"' for p in suggested_prompts()), "or"
        )
    if intent == "thanks":
        return "You're welcome."
    if intent == "whoami":
        return _whoami(who)
    if intent == "refuse_action":
        instead = (
            f"I can tell you {code(q.name)}'s status and details instead."
            if q.name
            else "I can tell you what you have and its state instead."
        )
        return (
            f"I'm read-only, so I can't {q.topic} {_thing(q)}: I never change your "
            f"infrastructure (do that in StackDock or at the provider). {instead}"
        )
    if intent == "refuse_secret":
        return (
            "I never show passwords, API keys or other credentials: StackDock keeps them "
            "encrypted and I don't read them. I can tell you which docks are connected and "
            "whether they sync."
        )
    if intent == "refuse_org":
        whose = "other organisations" if q.topic == "other organisations" else code(q.topic)
        return (
            f"I can only see {org}'s data, so I can't answer about {whose}. Ask me about "
            f"{org}'s resources instead."
        )
    if intent == "refuse_provider":
        names = ", ".join(PROVIDER_NAMES.values())
        return (
            f"StackDock has no dock for {q.topic}, so I hold nothing from it. It syncs {names}; "
            'ask "which providers do I have?" to see yours.'
        )
    if intent == "refuse_data":
        offer = f" {q.notes[0]}" if q.notes else ""
        return f"StackDock doesn't hold {q.topic}, so I can't answer that.{offer}"
    if intent == "refuse_status":
        return refuse_status(q)
    return unsure(q)


def _whoami(who: Asker) -> str:
    if not who.name:
        return f"You're asking in {who.org_label}; I don't have your name here."
    text = f"You're **{who.name}**"
    text += f", {who.role} in **{who.org_label}**." if who.role else f" in **{who.org_label}**."
    if who.unreadable:
        text += f" Your role can't read: {', '.join(who.unreadable)}."
    return text + " I answer from that organisation's data only."


def refuse_status(q: Query) -> str:
    kind = q.kind or ""
    known = sorted({s for statuses in KIND_STATUSES.get(kind, {}).values() for s in statuses})
    if not known:
        return (
            f"StackDock holds no status for {label(kind)}, so I can't tell which are "
            f"{q.status_word}. I can list them or count them."
        )
    return (
        f'{label(kind).capitalize()} have no "{q.status_word}" status in StackDock; theirs '
        f"are {listed(known, 'or')}. Ask for one of those."
    )


def unsure(q: Query) -> str:
    if q.topic == "which-one":
        return f"Which one do you mean: {listed(q.notes, 'or')}?"
    if q.topic == "refers-back":
        return (
            "I'm not sure what that refers to: there is no earlier answer in this conversation "
            'that I can use. Ask the whole question, for example "which servers are stopped?".'
        )
    understood = []
    if q.kind and q.kind_named:
        understood.append(label(q.kind))
    if q.provider:
        understood.append(provider_name(q.provider))
    if q.status_word:
        understood.append(q.status_word)
    if q.region:
        understood.append(q.region)
    if understood:
        about = listed(understood)
        not_this = f"“{' '.join(q.unknown)}”" if q.unknown else "what about them"
        return (
            f"I understood you're asking about {about}, but not {not_this}. I can count "
            "them, list them (by provider, status or region) or show one by name: which would "
            "help?"
        )
    words = f" by “{' '.join(q.unknown)}”" if q.unknown else ""
    examples = "\n".join(f"- {p}" for p in suggested_prompts())
    return f"I'm not sure what you mean{words}. {OFFLINE_NOTE} Try one of these:\n{examples}"
