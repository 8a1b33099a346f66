"""Alerts in the running bot: `stackdock-assistant alerts …`, and the detection and delivery
loops each process starts (core/alerts.py, core/alert_delivery.py say what they do).

Detection runs where the mirror changes: `sync`, and every process that reloads a snapshot
file itself. Delivery runs in the processes holding a Slack or Discord connection.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable

from adapters.stackdock.sources import StoreFollower
from bot.settings import Settings
from bot.wiring import InMemoryMirror, Runtime, load_mirror, open_store, utc_now
from core.alert_delivery import AlertDelivery, deliver_forever
from core.alert_model import Subscription, Target, TargetError
from core.alerts import AlertDetector, binding_of, subscribe
from core.ports import AlertSink, Mirror, Store

log = logging.getLogger(__name__)

USAGE_ERROR = 2
OPERATOR = "operator:cli"  # who the audit trail says subscribed from the command line


def _fail(message: str) -> int:
    print(f"stackdock-assistant: {message}", file=sys.stderr)
    return USAGE_ERROR


async def run_cli(args: argparse.Namespace, settings: Settings) -> int:
    """`alerts subscribe|unsubscribe|list`."""
    store = await open_store(
        settings.database_url, upgrade=settings.database_url.startswith("sqlite")
    )
    try:
        mirror = InMemoryMirror()
        await load_mirror(settings, mirror)
        return await _run(args, settings, store, mirror)
    finally:
        await store.close()


async def _run(args: argparse.Namespace, settings: Settings, store: Store, mirror: Mirror) -> int:
    command = args.alerts_command
    if command == "list":
        for sub in await store.alerts.subscriptions():
            digest = f"\tdigest {sub.digest_at} {settings.alerts_tz}" if sub.digest_at else ""
            print(f"{sub.target}\t{sub.org_id}\t{sub.min_severity} and above{digest}")
        return 0
    try:
        target = str(Target.parse(args.target))
    except TargetError as exc:
        return _fail(str(exc))
    if command == "unsubscribe":
        removed = await store.alerts.unsubscribe(target)
        print(f"unsubscribed {target}" if removed else f"{target} was not subscribed")
        return 0 if removed else 1
    bindings = {b.target: b for b in await store.bindings.all()}
    binding = binding_of(bindings, target)
    if binding is None:
        return _fail(
            f"{target} is not bound to a StackDock org; bind it (or its workspace or guild) "
            f"first: stackdock-assistant bind {target} ORG_ID"
        )
    if mirror.organization(binding.org_id) is None:
        # Without the org's data every problem open now would later be posted as new.
        return _fail(
            f"no data for {binding.org_id} in the StackDock mirror yet; run "
            "`stackdock-assistant sync` (or check STACKDOCK_SNAPSHOT) and subscribe again"
        )
    now = utc_now()
    subscription = Subscription(
        target, binding.org_id, args.min_severity, args.digest, now, OPERATOR
    )
    count = await subscribe(store, mirror, subscription, now=now, by=OPERATOR)
    org = (mirror.organization(binding.org_id) or {}).get("name") or binding.org_id
    digest = f"; digest at {args.digest} {settings.alerts_tz}" if args.digest else ""
    problems = "problem" if count == 1 else "problems"
    print(
        f"subscribed {target} ({org}) to {args.min_severity} and above{digest}; "
        f"{count} {problems} open now"
    )
    return 0


# ---- the loops ----


def worker_name() -> str:
    """Names this process in delivery leases (host, pid, and a nonce for pid reuse)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def detector(settings: Settings, store: Store, mirror: Mirror) -> AlertDetector:
    return AlertDetector(store, mirror, utc_now, settings.alerts_zone())


async def quietly(what: str, work: Callable[[], Awaitable[object]]) -> None:
    """Runs one pass; a failure is logged and the caller carries on (the next pass retries)."""
    try:
        await work()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("%s failed (%s); trying again on the next pass", what, type(exc).__name__)


async def detect_forever(alerts: AlertDetector, every_s: float) -> None:
    """A detection pass every `every_s` until cancelled: after each change the mirror takes,
    and for what time alone brings (digests, expiring domains)."""
    while True:
        await quietly("alert detection", alerts.detect)
        await asyncio.sleep(every_s)


def start_alerts(rt: Runtime, sink: AlertSink) -> None:
    """Delivery of `sink`'s platform in this process, and detection when the process reads
    its data itself (a snapshot file, the demo) rather than following `sync`'s copy."""
    settings = rt.settings
    delivery = AlertDelivery(
        rt.store,
        sink,
        utc_now,
        settings.alerts_zone(),
        worker=worker_name(),
        lease_s=settings.alerts_lease_s,
    )
    rt.keep(deliver_forever(delivery), f"{sink.platform} alert delivery")
    if not isinstance(rt.refresher, StoreFollower) and not rt.detecting:
        rt.detecting = True
        alerts = detector(settings, rt.store, rt.mirror)
        rt.keep(detect_forever(alerts, settings.mirror_refresh_s), "alert detection")
