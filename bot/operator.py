"""Operator commands: chat from the terminal, identity links, org bindings, migrations."""

from __future__ import annotations

import argparse
import sys

from adapters import console as console_adapter
from adapters.stackdock.demo import DEMO_ADMIN_USER_ID
from bot.settings import Settings
from bot.wiring import InMemoryMirror, load_mirror, open_store, runtime
from core.identities import find_user
from core.instructions import TooLong, clean_instructions, shown
from core.models import Binding
from core.ports import Store

TARGET_PLATFORMS = ("slack:", "discord:")


async def chat(args: argparse.Namespace, settings: Settings) -> int:
    # `--as ''` is refused by the parser; only no `--as` at all means the demo's admin.
    identity = DEMO_ADMIN_USER_ID if args.identity is None else args.identity
    async with runtime(settings) as rt:
        if args.command == "ask":
            return await console_adapter.ask(rt.service, identity, args.question)
        return await console_adapter.console(rt.service, identity)


def _fail(message: str) -> int:
    print(f"stackdock-assistant: {message}", file=sys.stderr)
    return 2


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "db":
        from adapters.store.database import upgrade_database

        await upgrade_database(settings.database_url)
        print("database is at the newest schema")
        return 0

    store = await open_store(
        settings.database_url, upgrade=settings.database_url.startswith("sqlite")
    )
    try:
        mirror = InMemoryMirror()
        await load_mirror(settings, mirror)
        return await _run_admin(args, store, mirror)
    finally:
        await store.close()


async def _run_admin(args: argparse.Namespace, store: Store, mirror: InMemoryMirror) -> int:
    command = args.command
    if command == "link":
        user = find_user(mirror, args.user)
        if user is None:
            return _fail(f"no StackDock user {args.user!r} in the mirror")
        await store.links.set(args.identity, str(user["_id"]))
        print(f"linked {args.identity} -> {user.get('email') or user['_id']}")
        return 0
    if command == "unlink":
        removed = await store.links.remove(args.identity)
        print(f"unlinked {args.identity}" if removed else f"{args.identity} was not linked")
        return 0 if removed else 1
    if command == "links":
        for identity, user_ref in await store.links.all():
            user = mirror.user(user_ref) or {}
            print(f"{identity}\t{user_ref}\t{user.get('email', '?')}")
        return 0
    if command == "bind":
        if not args.target.startswith(TARGET_PLATFORMS) or args.target.count(":") not in (1, 2):
            return _fail("TARGET must be slack:TEAM[:CHANNEL] or discord:GUILD[:CHANNEL]")
        org = mirror.organization(args.org_id)
        if org is None:
            return _fail(f"no StackDock organisation {args.org_id!r} in the mirror")
        words = await _instructions(store, args.target, args.instructions)
        if isinstance(words, TooLong):
            return _fail(str(words))
        await store.bindings.set(Binding(args.target, args.org_id, args.allow_detail, words))
        print(f"bound {args.target} -> {org.get('name', args.org_id)}")
        return 0
    if command == "unbind":
        removed = await store.bindings.remove(args.target)
        print(f"unbound {args.target}" if removed else f"{args.target} was not bound")
        return 0 if removed else 1
    if command == "bindings":
        for binding in await store.bindings.all():
            detail = " (detail allowed)" if binding.allow_detail else ""
            words = f"\tinstructions: {shown(binding.instructions)}" if binding.instructions else ""
            print(f"{binding.target}\t{binding.org_id}{detail}{words}")
        return 0
    return _fail(f"unknown command {command}")


async def _instructions(store: Store, target: str, given: str | None) -> str | TooLong:
    """What `bind` stores as the target's instructions: the given words, cleaned as in chat;
    with none given, whatever the binding already had (re-binding keeps them)."""
    if given is None:
        current = await store.bindings.get(target)
        return current.instructions if current is not None else ""
    try:
        return clean_instructions(given)
    except TooLong as exc:
        return exc
