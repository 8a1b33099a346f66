"""Who is asking: a chat identity resolved to a StackDock user, org, role and permissions.

Three routes find the user, in order: an explicit link (`link IDENTITY USER`), an email (an
`email:` identity, or one the platform vouches for), and a bare StackDock user `_id`. The org
comes from the channel's or workspace's binding, else from the user's only membership, else
from the user's `defaultOrgId`; otherwise the person is asked to choose.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.access import effective_permissions
from core.models import Binding, Inbound, Principal, Refusal
from core.ports import Document, Mirror, Store
from core.prompts import link_instructions

T = TypeVar("T")


def binding_targets(inbound: Inbound) -> list[str]:
    """Binding keys that apply to where the question was asked, most specific first."""
    if inbound.platform not in {"slack", "discord"} or not inbound.workspace:
        return []
    base = f"{inbound.platform}:{inbound.workspace}"
    return [f"{base}:{inbound.channel}", base] if inbound.channel else [base]


class _Recent:
    """Lookups remembered for a few seconds: links and bindings change rarely, while every
    question would otherwise pay up to three database round trips for them. A change made
    in another process (the CLI's `link`, `unbind`) takes effect within `ttl_s`.
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._values: dict[str, tuple[float, object]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        now = self._clock()
        hit = self._values.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]  # type: ignore[return-value]
        value = await load()
        if len(self._values) > 10_000:
            self._values.clear()
        self._values[key] = (now, value)
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

    async def find_user(self, identity: str, email: str | None = None) -> Document | None:
        linked = await self._recent.get(f"link:{identity}", lambda: self._store.links.get(identity))
        if linked:
            return self._user_by_ref(linked)
        if identity.startswith("email:"):
            return self._mirror.user_by_email(identity.removeprefix("email:"))
        if email:
            return self._mirror.user_by_email(email)
        if ":" not in identity:
            return self._mirror.user(identity)
        return None

    def _user_by_ref(self, ref: str) -> Document | None:
        return self._mirror.user_by_email(ref) if "@" in ref else self._mirror.user(ref)

    async def binding_for(self, inbound: Inbound) -> Binding | None:
        for target in binding_targets(inbound):
            binding = await self._recent.get(
                f"binding:{target}", functools.partial(self._store.bindings.get, target)
            )
            if binding:
                return binding
        return None

    async def resolve(self, inbound: Inbound) -> Principal | Refusal:
        user = await self.find_user(inbound.identity, inbound.email)
        if user is None:
            return Refusal("unknown_user", link_instructions(inbound.identity))
        user_id = str(user["_id"])
        memberships = {str(m["orgId"]): m for m in self._mirror.memberships(user_id)}
        if not memberships:
            return Refusal(
                "no_membership",
                "Your StackDock account isn't a member of any organisation, so there is "
                "nothing I can show you.",
            )

        binding = await self.binding_for(inbound)
        shared_channel = not inbound.is_dm and inbound.platform in {"slack", "discord"}
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
            chosen = self._choose_org(user, memberships)
            if isinstance(chosen, Refusal):
                return chosen
            org_id = chosen

        membership = memberships[org_id]
        role = self._mirror.role(str(membership.get("orgRole", ""))) or {}
        org = self._mirror.organization(org_id) or {}
        show_detail = inbound.is_dm or bool(binding and binding.allow_detail)
        return Principal(
            identity=inbound.identity,
            user_id=user_id,
            user_name=str(user.get("name") or user.get("email") or user_id),
            email=str(user.get("email") or ""),
            org_id=org_id,
            org_name=str(org.get("name") or org_id),
            role_name=str(role.get("name") or "no role"),
            permissions=effective_permissions(role.get("permissions") or {}),
            is_dm=inbound.is_dm,
            show_detail=show_detail,
        )

    def _choose_org(self, user: Document, memberships: dict[str, Document]) -> str | Refusal:
        if len(memberships) == 1:
            return next(iter(memberships))
        default = user.get("defaultOrgId")
        if default and str(default) in memberships:
            return str(default)
        names = sorted(
            str((self._mirror.organization(org_id) or {}).get("name") or org_id)
            for org_id in memberships
        )
        return Refusal(
            "choose_org",
            "You belong to several organisations (" + ", ".join(names) + "). Set a default "
            "organisation in StackDock, or ask in a channel bound to one of them.",
        )
