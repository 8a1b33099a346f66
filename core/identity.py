"""Who is asking: a chat identity resolved to a StackDock user, org, role and permissions.

Three routes find the user, in order: an explicit link (`link IDENTITY USER`), an email (an
`email:` identity, or one the platform vouches for), and a bare StackDock user `_id`. A Discord
DM (`discord:@me:USER`) with no link of its own is known through the person's server links, as
a Discord user id is the same person everywhere; such a person is vouched for only in the orgs
bound in those servers, so an admin of one org can never open another org's data to someone.

The org comes from the channel's or workspace's binding; in a DM, from the person's remembered
choice, else their only org, else their `defaultOrgId`; otherwise they are asked to choose, and
the name they answer with is remembered as a binding of their own identity (their DMs).
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from core.access import effective_permissions
from core.identities import DISCORD_DM, chat_user, find_user
from core.models import Binding, Inbound, Outcome, Principal, Refusal
from core.ports import Document, Mirror, Store
from core.prompts import link_instructions

T = TypeVar("T")

CHAT_PLATFORMS = frozenset({"slack", "discord"})


def binding_targets(inbound: Inbound) -> list[str]:
    """Binding keys that apply to where the question was asked, most specific first.

    A DM looks first for the asker's own identity: the org they chose for their DMs.
    """
    if inbound.platform not in CHAT_PLATFORMS:
        return []
    own = [inbound.identity] if inbound.is_dm else []
    if not inbound.workspace:
        return own
    base = f"{inbound.platform}:{inbound.workspace}"
    return [*own, f"{base}:{inbound.channel}", base] if inbound.channel else [*own, base]


def discord_dm_user(identity: str) -> str | None:
    """The Discord user of a DM identity (`discord:@me:USER`); None for any other identity."""
    user = chat_user(identity, "discord")
    return user if user is not None and identity == f"discord:{DISCORD_DM}:{user}" else None


@dataclass(frozen=True, slots=True)
class Known:
    """A StackDock user found for an identity, and the orgs it may act for (None: all theirs)."""

    user: Document
    orgs: frozenset[str] | None = None


RECENT_KEPT = 10_000  # remembered lookups at most: one per asker and place within the ttl


class _Recent:
    """Lookups remembered for a few seconds: links and bindings change rarely, while every
    question would otherwise pay up to three database round trips for them. A change made
    in another process (the CLI's `link`, `unbind`) takes effect within `ttl_s`.

    Kept in the order they were loaded, so the oldest are the first to expire: each load
    drops the expired ones, and past `kept` the oldest, so that what is held is the people
    who asked within the ttl, never everyone who ever asked.
    """

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        kept: int = RECENT_KEPT,
    ) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._kept = kept
        self._values: OrderedDict[str, tuple[float, object]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._values)

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        now = self._clock()
        hit = self._values.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]  # type: ignore[return-value]
        value = await load()
        self._values[key] = (now, value)
        self._values.move_to_end(key)
        while self._values:
            at = next(iter(self._values.values()))[0]
            if len(self._values) <= self._kept and now - at < self._ttl:
                break
            self._values.popitem(last=False)
        return value

    def forget(self, key: str) -> None:
        self._values.pop(key, None)


class IdentityResolver:
    def __init__(self, mirror: Mirror, store: Store, *, cache_ttl_s: float = 15.0) -> None:
        self._mirror = mirror
        self._store = store
        self._recent = _Recent(cache_ttl_s)

    def forget(self, key: str) -> None:
        """Drops a remembered link (identity) or binding (target) after this process changed it."""
        self._recent.forget(f"link:{key}")
        self._recent.forget(f"binding:{key}")
        user = chat_user(key, "discord")
        if user is not None:  # a server link also says who this person is in DMs
            self._recent.forget(f"servers:{user}")

    async def find_user(self, identity: str, email: str | None = None) -> Document | None:
        known = await self.known(identity, email)
        return known.user if isinstance(known, Known) else None

    async def known(self, identity: str, email: str | None = None) -> Known | Refusal | None:
        """The user an identity names, with the orgs it may act for; a Refusal when its links
        disagree about who it is; None when nothing names anyone."""
        linked = await self._recent.get(
            f"link:{identity}", functools.partial(self._store.links.vouched, identity)
        )
        if linked:
            ref, org = linked
            user = find_user(self._mirror, ref)
            if user is None:
                return None
            # A link made in chat counts only for the org that vouched for it: an admin can
            # never open another org's data to someone by linking them to a shared user.
            return Known(user, frozenset({org}) if org else None)
        if identity.startswith("email:"):
            user = self._mirror.user_by_email(identity.removeprefix("email:"))
        elif email:
            user = self._mirror.user_by_email(email)
        elif ":" not in identity:
            user = self._mirror.user(identity)
        elif (dm_user := discord_dm_user(identity)) is not None:
            return await self._recent.get(
                f"servers:{dm_user}", functools.partial(self._known_in_servers, dm_user)
            )
        else:
            user = None
        return Known(user) if user is not None else None

    async def _known_in_servers(self, discord_user: str) -> Known | Refusal | None:
        """A Discord person as their server links name them, vouched for in the orgs bound in
        those servers (a guild's binding, or any of its channels')."""
        guilds: set[str] = set()  # servers whose operator links vouch for their bound orgs
        vouched: set[str] = set()  # orgs that vouched for links made in chat
        users: dict[str, Document] = {}
        for identity, ref, org in await self._store.links.all_vouched():
            platform, _, rest = identity.partition(":")
            guild, _, user = rest.partition(":")
            if platform != "discord" or user != discord_user or guild == DISCORD_DM:
                continue
            found = find_user(self._mirror, ref)
            if found is not None:
                if org:
                    vouched.add(org)
                else:
                    guilds.add(guild)
                users[str(found["_id"])] = found
        if not users:
            return None
        if len(users) > 1:
            return Refusal(
                "ambiguous_link",
                "You're linked to different StackDock accounts in different servers, so I "
                "can't tell which one is you here. Ask an operator to link this DM: "
                f"`stackdock-assistant link discord:{DISCORD_DM}:{discord_user} you@example.com`.",
            )
        servers = {f"discord:{guild}" for guild in guilds}
        orgs = vouched | {
            b.org_id
            for b in await self._store.bindings.all()
            if ":".join(b.target.split(":")[:2]) in servers
        }
        return Known(next(iter(users.values())), frozenset(orgs))

    async def binding_for(self, inbound: Inbound) -> Binding | None:
        for target in binding_targets(inbound):
            binding = await self._binding(target)
            if binding:
                return binding
        return None

    async def _binding(self, target: str) -> Binding | None:
        return await self._recent.get(
            f"binding:{target}", functools.partial(self._store.bindings.get, target)
        )

    async def resolve(self, inbound: Inbound) -> Principal | Refusal:
        known = await self.known(inbound.identity, inbound.email)
        if known is None:
            text = link_instructions(inbound.identity, inbound.platform, inbound.is_dm)
            return Refusal("unknown_user", text)
        if isinstance(known, Refusal):
            return known
        user = known.user
        user_id = str(user["_id"])
        memberships = {
            str(m["orgId"]): m
            for m in self._mirror.memberships(user_id)
            if known.orgs is None or str(m["orgId"]) in known.orgs
        }
        if not memberships:
            return self._no_org(known)

        chose = await self._chosen_now(inbound, memberships)
        if chose is not None:
            return chose
        binding = await self._binding_here(inbound, memberships)
        shared_channel = not inbound.is_dm and inbound.platform in CHAT_PLATFORMS
        if binding is not None:
            if binding.org_id not in memberships:
                return Refusal(
                    "wrong_org",
                    "This channel is connected to a StackDock organisation you are not a "
                    "member of. Ask me in a DM, or in a channel of your own organisation.",
                )
            org_id = binding.org_id
        elif shared_channel:
            where = ":".join(filter(None, [inbound.platform, inbound.workspace, inbound.channel]))
            return Refusal(
                "unbound_channel",
                "This channel isn't connected to a StackDock organisation yet, so I won't "
                f"answer here. An admin can run `stackdock-assistant bind {where} <org id>`; "
                "until then, ask me in a DM.",
            )
        else:
            chosen = self._choose_org(inbound, user, memberships)
            if isinstance(chosen, Refusal):
                return chosen
            org_id = chosen

        membership = memberships[org_id]
        role = self._mirror.role(str(membership.get("orgRole", ""))) or {}
        return Principal(
            identity=inbound.identity,
            user_id=user_id,
            user_name=str(user.get("name") or user.get("email") or user_id),
            email=str(user.get("email") or ""),
            org_id=org_id,
            org_name=self._org_name(org_id),
            role_name=str(role.get("name") or "no role"),
            permissions=effective_permissions(role.get("permissions") or {}),
            is_dm=inbound.is_dm,
            show_detail=inbound.is_dm or bool(binding and binding.allow_detail),
            instructions=binding.instructions if binding is not None else "",
        )

    @staticmethod
    def _no_org(known: Known) -> Refusal:
        if known.orgs is not None:
            return Refusal(
                "not_vouched",
                "I know you from a server, but no organisation of yours is connected to the "
                "servers you're linked in, so I can't answer here. Ask in a server channel.",
            )
        return Refusal(
            "no_membership",
            "Your StackDock account isn't a member of any organisation, so there is "
            "nothing I can show you.",
        )

    async def _binding_here(
        self, inbound: Inbound, memberships: Mapping[str, Document]
    ) -> Binding | None:
        for target in binding_targets(inbound):
            binding = await self._binding(target)
            if binding is None:
                continue
            if target == inbound.identity and binding.org_id not in memberships:
                continue  # a DM choice that no longer applies: they are asked again
            return binding
        return None

    def _remembers(self, inbound: Inbound, memberships: Mapping[str, Document]) -> bool:
        """A DM on a chat platform of someone with a choice to make: their pick is kept."""
        return inbound.is_dm and inbound.platform in CHAT_PLATFORMS and len(memberships) > 1

    async def _chosen_now(
        self, inbound: Inbound, memberships: Mapping[str, Document]
    ) -> Refusal | None:
        """When a DM is just the name of one of the asker's orgs, that is their choice of org
        for their DMs: it is remembered, confirmed, and no model is asked about the name."""
        if not self._remembers(inbound, memberships):
            return None
        said = inbound.text.strip().strip(".!").casefold()
        picked = [o for o in memberships if said in {o.casefold(), self._org_name(o).casefold()}]
        if len(picked) != 1:
            return None
        await self._store.bindings.set(Binding(inbound.identity, picked[0]))
        self.forget(inbound.identity)
        others = ", ".join(sorted(self._org_name(o) for o in memberships if o != picked[0]))
        return Refusal(
            "org_chosen",
            f"Got it: here I'll answer about {self._org_name(picked[0])}. Ask away. (To "
            f"switch, send me just the name of another of your organisations: {others}.)",
            outcome=Outcome.ANSWERED,
        )

    def _org_name(self, org_id: str) -> str:
        return str((self._mirror.organization(org_id) or {}).get("name") or org_id)

    def _choose_org(
        self, inbound: Inbound, user: Document, memberships: Mapping[str, Document]
    ) -> str | Refusal:
        if len(memberships) == 1:
            return next(iter(memberships))
        default = user.get("defaultOrgId")
        if default and str(default) in memberships:
            return str(default)
        names = ", ".join(sorted(self._org_name(org_id) for org_id in memberships))
        if self._remembers(inbound, memberships):
            text = (
                f"You belong to several organisations ({names}). Which one should I answer "
                "about here? Reply with just its name; I'll remember it."
            )
        else:
            text = (
                f"You belong to several organisations ({names}). Set a default organisation "
                "in StackDock, or ask in a channel bound to one of them."
            )
        return Refusal("choose_org", text)
