"""`stackdock-assistant`: the console script. Parses arguments, loads settings, dispatches."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import socket
import sys
from collections.abc import Sequence
from importlib import metadata

from sqlalchemy.exc import DBAPIError

from bot.settings import Settings, SettingsError, load_settings, refused_database_url
from core.alert_model import DEFAULT_SEVERITY, SEVERITIES
from core.identities import IDENTITY_FORMS, IdentityError, check_identity

log = logging.getLogger("stackdock_assistant")

USAGE_ERROR = 2
UNAVAILABLE = 6  # the bot itself can't work: its database is unreachable (adapters/console)
IDENTITY_HELP = f"who is asking: {IDENTITY_FORMS} (default: the demo's admin)"


def _version() -> str:
    try:
        return metadata.version("stackdock-assistant")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _identity(text: str) -> str:
    try:
        return check_identity(text)
    except IdentityError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _question(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            'the question is empty; ask something, like "How many servers do I have?"'
        )
    return text


def _hhmm(text: str) -> str:
    if not re.fullmatch(r"(?:[01]\d|2[0-3]):[0-5]\d", text.strip()):
        raise argparse.ArgumentTypeError("the digest time is HH:MM on a 24-hour clock, like 09:00")
    return text.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stackdock-assistant", description="The StackDock AI infrastructure assistant."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("console", help="chat in the terminal (reads stdin until EOF)")
    p.add_argument("--as", dest="identity", type=_identity, help=IDENTITY_HELP)
    p = sub.add_parser("ask", help="one answer to stdout")
    p.add_argument("question", type=_question)
    p.add_argument("--as", dest="identity", type=_identity, help=IDENTITY_HELP)

    p = sub.add_parser("slack", help="the Slack bot (Socket Mode if SLACK_APP_TOKEN, else HTTP)")
    p.add_argument("--port", type=int)
    sub.add_parser("discord", help="the Discord gateway bot")
    p = sub.add_parser("sync", help="refresh the StackDock mirror from the configured source")
    p.add_argument("--once", action="store_true", help="one pass, then exit")

    db = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, metavar="SUBCOMMAND"
    )
    db.add_parser("upgrade", help="apply migrations up to head")

    p = sub.add_parser("link", help="map a chat identity to a StackDock user (id or email)")
    p.add_argument("identity", type=_identity, help=IDENTITY_HELP)
    p.add_argument("user")
    p = sub.add_parser("unlink", help="remove an identity link")
    p.add_argument("identity")
    sub.add_parser("links", help="list identity links")
    p = sub.add_parser(
        "bind", help="bind slack:TEAM[:CHANNEL] or discord:GUILD[:CHANNEL] to an org"
    )
    p.add_argument("target")
    p.add_argument("org_id")
    p.add_argument(
        "--allow-detail", action="store_true", help="show IPs, URLs and hostnames in this channel"
    )
    p.add_argument(
        "--instructions",
        metavar="TEXT",
        help='the org\'s words for the assistant here (language, tone, focus; "" clears them; '
        "kept when not given)",
    )
    p = sub.add_parser("unbind", help="remove a binding")
    p.add_argument("target")
    sub.add_parser("bindings", help="list bindings")

    alerts = sub.add_parser("alerts", help="post StackDock problems into channels")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="SUBCOMMAND")
    p = alerts_sub.add_parser("subscribe", help="alert a bound channel about new problems")
    p.add_argument("target", help="slack:TEAM:CHANNEL or discord:GUILD:CHANNEL")
    p.add_argument("--min-severity", choices=SEVERITIES, default=DEFAULT_SEVERITY)
    p.add_argument("--digest", metavar="HH:MM", type=_hhmm, help="and a daily digest (ALERTS_TZ)")
    alerts_sub.add_parser("unsubscribe", help="stop alerting a channel").add_argument("target")
    alerts_sub.add_parser("list", help="list subscribed channels")

    p = sub.add_parser("usage", help="cost and token report")
    p.add_argument("--org")
    p.add_argument("--since", help="YYYY-MM-DD (default: start of this month)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--chart", metavar="FILE", help="also draw the chart: .png, .jpg, .svg or .pdf")

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True, metavar="SUBCOMMAND"
    )
    p = audit.add_parser("export", help="stream audit rows")
    p.add_argument("--since", help="YYYY-MM-DD")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    audit.add_parser("verify", help="check the hash chain")
    p = audit.add_parser("prune", help="delete rows before DATE, keeping the chain verifiable")
    p.add_argument("--before", required=True, help="YYYY-MM-DD")
    return parser


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from bot import operator

    command = args.command
    if command in {"console", "ask"}:
        return await operator.chat(args, settings)
    if command == "slack":
        from bot.serve_slack import serve_slack

        return await serve_slack(settings, port=args.port)
    if command == "discord":
        from bot.serve_discord import serve_discord

        return await serve_discord(settings)
    if command == "sync":
        from bot.sync import run_sync

        return await run_sync(settings, once=args.once)
    if command == "alerts":
        from bot.alerts import run_cli

        return await run_cli(args, settings)
    if command in {"usage", "audit"}:
        from bot import reports

        return await reports.run(args, settings)
    return await operator.run(args, settings)


# The long-running processes: their event loop is the serving shell's (bot/serving.py).
SERVING_COMMANDS = frozenset({"slack", "discord", "sync"})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"stackdock-assistant: {exc}", file=sys.stderr)
        return USAGE_ERROR
    from bot.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    from adapters.stackdock.snapshot import SnapshotError

    try:
        if args.command in SERVING_COMMANDS:
            from bot.serving import run

            return run(dispatch(args, settings))  # on uvloop where installed
        return asyncio.run(dispatch(args, settings))
    except SettingsError as exc:
        print(f"stackdock-assistant: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except SnapshotError as exc:
        # Checked at start, but a file can change after that: still one line naming it.
        print(f"stackdock-assistant: invalid setting STACKDOCK_SNAPSHOT: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    except DBAPIError as exc:
        refused = refused_database_url(exc)
        if refused is None:
            raise
        print(f"stackdock-assistant: invalid setting DATABASE_URL: {refused}", file=sys.stderr)
        return USAGE_ERROR
    except (ConnectionError, TimeoutError, socket.gaierror) as exc:
        # The database is unreachable at start-up; one line, no traceback.
        print(
            f"stackdock-assistant: unavailable: cannot connect ({exc}); "
            "is the database at DATABASE_URL up?",
            file=sys.stderr,
        )
        return UNAVAILABLE
    except OSError as exc:
        print(f"stackdock-assistant: cannot start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
