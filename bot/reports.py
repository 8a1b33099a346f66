"""`usage` and `audit`: the operator's and the auditor's commands.

Everything streams from the store (`audit.iter` reads keyset pages), so an export or a verify
of millions of rows runs in the memory of one page.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from adapters.store import open_store
from bot.settings import Settings
from core.audit import COST_QUANTUM, GENESIS, verify_chain_stream
from core.limits import month_start
from core.models import AuditRecord
from core.ports import Store
from core.usage import Day, ReportLine, UsageReport, usage_report

USAGE_ERROR = 2
BROKEN_CHAIN = 1

_CHAIN = ("id", "prev_hash", "hash")
# The id first and the chain last, so a row reads left to right as it was sealed.
AUDIT_COLUMNS = (
    "id",
    *(f.name for f in dataclasses.fields(AuditRecord) if f.name not in _CHAIN),
    "prev_hash",
    "hash",
)
USAGE_COLUMNS = (
    "scope",
    "org",
    "user",
    "model",
    "questions",
    "refusals",
    "failures",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced_questions",
    "median_latency_ms",
)


class UsageError(Exception):
    """A bad argument, worded for the person who typed it."""


def parse_day(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    except ValueError:
        raise UsageError(f"{name} must be a date like 2026-01-31, not {text!r}") from None


async def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    store = await open_store(
        settings.database_url, upgrade=settings.database_url.startswith("sqlite")
    )
    try:
        if args.command == "usage":
            return await usage(store, args, out)
        if args.audit_command == "export":
            return await export_audit(store, out, args.format, parse_day(args.since, "--since"))
        if args.audit_command == "verify":
            return await verify(store, out)
        before = parse_day(args.before, "--before")
        assert before is not None, "argparse makes --before required"
        return await prune(store, out, before)
    except UsageError as exc:
        print(f"stackdock-assistant: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except BrokenPipeError:
        # `audit export | head`: the reader has all it wanted. Python's own advice: point stdout
        # at devnull so the interpreter's final flush does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        await store.close()


# ---- usage ----


async def usage(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    now = datetime.now(UTC)
    since = parse_day(args.since, "--since") or month_start(now)
    if since > now:
        raise UsageError("--since is in the future")
    chart = chart_target(args.chart)  # refused before anything is read or printed
    report = await usage_report(store, since, now, args.org)
    if chart is not None:
        await write_chart(report, *chart)
    write_usage(report, args.format, out)
    if chart is not None:
        print(f"chart written to {chart[0]}", file=sys.stderr)
    return 0


def chart_target(name: str | None) -> tuple[Path, str] | None:
    """Where `--chart` goes and in which format; a UsageError when it can't be written."""
    if name is None:
        return None
    from adapters.charts.usage_chart import ChartFormatError, chart_format

    path = Path(name)
    if path.is_dir():
        raise UsageError(f"--chart: {name} is a folder; give a file name in it, like usage.png")
    try:
        fmt = chart_format(path)
    except ChartFormatError as exc:
        raise UsageError(f"--chart: {exc}") from None
    if not path.parent.is_dir():
        raise UsageError(f"--chart: no folder {path.parent}; create it first, or pick another")
    return path, fmt


async def write_chart(report: UsageReport, path: Path, fmt: str) -> None:
    """Draws and writes the chart first, so a file that can't be written is the only output."""
    from adapters.charts.usage_chart import chart_series, render

    image = await asyncio.to_thread(render, chart_series(report), fmt)
    try:
        await asyncio.to_thread(path.write_bytes, image)
    except OSError as exc:
        raise UsageError(f"--chart: can't write {path}: {exc.strerror or exc}") from None


def _usd(amount: Decimal) -> str:
    return format(amount.quantize(COST_QUANTUM), "f")


def _line(scope: str, org: str, user: str, model: str, line: ReportLine) -> dict[str, Any]:
    median = line.median_latency_ms
    return {
        "scope": scope,
        "org": org,
        "user": user,
        "model": model,
        "questions": line.questions,
        "refusals": line.refusals,
        "failures": line.failures,
        "input_tokens": line.input_tokens,
        "output_tokens": line.output_tokens,
        # Unknown (a local model's) is empty, never a 0 that looks free.
        "cost_usd": None if line.unpriced and not line.cost_usd else _usd(line.cost_usd),
        "unpriced_questions": line.unpriced,
        "median_latency_ms": None if median is None else round(median),
    }


def usage_rows(report: UsageReport) -> Iterator[dict[str, Any]]:
    """The report flattened: per org, per user, per model, then the total."""
    for org, line in sorted(report.by_org.items()):
        yield _line("org", org, "", "", line)
    for (org, user), line in sorted(report.by_user.items()):
        yield _line("user", org, user, "", line)
    for model, line in sorted(report.by_model.items()):
        yield _line("model", "", "", model, line)
    yield _line("total", report.org_id or "", "", "", report.total)


def write_usage(report: UsageReport, fmt: str, out: TextIO) -> None:
    rows = list(usage_rows(report))
    if fmt == "json":
        counted = [(day, report.by_day.get(day, Day())) for day in report.days()]
        days = [
            {"date": day.isoformat(), "questions": d.questions, "cost_usd": _usd(d.cost_usd)}
            for day, d in counted
        ]
        document = {
            "since": report.since.isoformat(),
            "until": report.until.isoformat(),
            "org": report.org_id,
            "orgs": [r for r in rows if r["scope"] == "org"],
            "users": [r for r in rows if r["scope"] == "user"],
            "models": [r for r in rows if r["scope"] == "model"],
            "total": rows[-1],
            "days": days,
        }
        json.dump(document, out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, USAGE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        _write_table(report, rows, out)


def _write_table(report: UsageReport, rows: list[dict[str, Any]], out: TextIO) -> None:
    scope = f"org {report.org_id}" if report.org_id else "all orgs"
    out.write(f"Usage of {scope}, {report.since:%Y-%m-%d} to {report.until:%Y-%m-%d} (UTC)\n")
    headers = (
        "",
        "questions",
        "refused",
        "failed",
        "tokens in",
        "tokens out",
        "cost USD",
        "p50 ms",
    )
    cells: list[tuple[str, ...]] = []
    for row in rows:
        label = {
            "org": f"org {row['org']}",
            "user": f"user {row['user']} · {row['org']}",
            "model": f"model {row['model']}",
            "total": "total",
        }[row["scope"]]
        median = row["median_latency_ms"]
        cells.append(
            (
                label,
                f"{row['questions']:,}",
                f"{row['refusals']:,}",
                f"{row['failures']:,}",
                f"{row['input_tokens']:,}",
                f"{row['output_tokens']:,}",
                _cost_cell(row),
                "-" if median is None else f"{median:,}",
            )
        )
    widths = [max(len(r[i]) for r in (headers, *cells)) for i in range(len(headers))]
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1)) + "\n"
    for line in (headers, *cells):
        if line is cells[-1] or line is cells[0]:
            out.write(rule)
        first = line[0].ljust(widths[0])
        rest = "  ".join(
            cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)
        )
        out.write(f"{first}  {rest}\n")
    if not report.total.questions:
        out.write("(no questions in this period)\n")


def _cost_cell(row: dict[str, Any]) -> str:
    if row["cost_usd"] is None:
        return "unknown"
    known = f"{Decimal(row['cost_usd']):,.4f}"
    return f">={known}" if row["unpriced_questions"] else known  # part of it unknown


# ---- audit ----


def _plain(record: AuditRecord) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in AUDIT_COLUMNS:
        value = getattr(record, name)
        if isinstance(value, Decimal):
            value = format(value.normalize(), "f")
        elif isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        elif name == "result":
            value = str(value)
        row[name] = value
    return row


async def export_audit(store: Store, out: TextIO, fmt: str, since: datetime | None) -> int:
    """Writes rows as they arrive: one page of the store in memory, never the whole trail."""
    writer = csv.DictWriter(out, AUDIT_COLUMNS, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    async for record in store.audit.iter(since=since):
        row = _plain(record)
        if writer is None:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
        else:
            row["tools"] = json.dumps(row["tools"])
            row["metadata"] = json.dumps(row["metadata"], sort_keys=True)
            writer.writerow(row)
    return 0


async def verify(store: Store, out: TextIO) -> int:
    anchor = await store.audit.anchor()
    result = await verify_chain_stream(store.audit.iter(), anchor)
    start = "genesis" if anchor is None else f"the prune anchor {anchor}"
    if not result.ok:
        out.write(
            f"audit chain BROKEN at row {result.first_bad_id}: {result.reason}.\n"
            f"{result.checked:,} rows before it, from {start}, are intact.\n"
        )
        return BROKEN_CHAIN
    out.write(
        f"audit chain intact: {result.checked:,} rows verified from {start}.\n"
        f"last hash: {result.last_hash}\n"
        "Keep the last hash somewhere outside this database: it is what shows, next time, "
        "that no rows were cut off the end.\n"
    )
    return 0


async def prune(store: Store, out: TextIO, before: datetime) -> int:
    # Deleting rows of a chain that is already broken would destroy the evidence; refuse.
    check = await verify_chain_stream(store.audit.iter(), await store.audit.anchor())
    if not check.ok:
        print(
            f"stackdock-assistant: not pruning: the audit chain is broken at row "
            f"{check.first_bad_id} ({check.reason}). Export it and investigate first.",
            file=sys.stderr,
        )
        return BROKEN_CHAIN
    result = await store.audit.prune(before)
    out.write(
        f"pruned {result.deleted:,} audit rows before {before:%Y-%m-%d}; the chain now starts at "
        f"row {result.first_kept_id}, anchored to {result.anchor_hash or GENESIS}.\n"
    )
    return 0
