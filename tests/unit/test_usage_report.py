"""The usage report: per org, user and model from audit rows; the formats; the chart's data."""

from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from adapters.charts.usage_chart import (
    ChartSeries,
    build_figure,
    chart_series,
    render_png,
    usd_decimals,
)
from adapters.stackdock.demo import DEMO_USERS
from bot.reports import write_usage
from core.models import AuditRecord, Inbound, Outcome
from core.usage import NO_MODEL, usage_report
from tests.fakes.ports.memory_store import MemoryStore

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 5, 23, 0, tzinfo=UTC)


def row(day: int, user: str, result: Outcome, **values: object) -> AuditRecord:
    return AuditRecord(
        timestamp=datetime(2026, 11, day, 9, tzinfo=UTC),
        identity=f"slack:T1:{user}",
        platform="slack",
        result=result,
        org_id=values.pop("org_id", "org_a"),
        user_id=user,
        **values,  # type: ignore[arg-type]
    )


def answered(day: int, user: str, model: str, cost: str, latency: int, **v: object) -> AuditRecord:
    return row(
        day,
        user,
        Outcome.ANSWERED,
        model=model,
        input_tokens=100,
        output_tokens=20,
        cost_usd=Decimal(cost),
        latency_ms=latency,
        **v,
    )


async def filled_store() -> MemoryStore:
    store = MemoryStore()
    for record in (
        answered(1, "u1", "gpt-4o-mini", "0.10", 800),
        answered(1, "u1", "gpt-4o-mini", "0.20", 1200),
        answered(3, "u2", "claude-haiku", "0.05", 400),
        row(3, "u2", Outcome.RATE_LIMITED, latency_ms=3, retry_after_s=60.0),
        row(3, "u1", Outcome.FAILED, model="gpt-4o-mini", input_tokens=50, output_tokens=0,
            cost_usd=Decimal("0.01"), latency_ms=5000),
        answered(4, "u9", "gpt-4o-mini", "0.40", 900, org_id="org_b"),
        answered(9, "u1", "gpt-4o-mini", "9.99", 100),  # after UNTIL: not in the report
    ):  # fmt: skip
        await store.audit.append(record)
    return store


async def test_report_groups_per_org_user_and_model():
    report = await usage_report(await filled_store(), SINCE, UNTIL)
    org_a = report.by_org["org_a"]
    assert (org_a.questions, org_a.refusals, org_a.failures) == (5, 1, 1)
    assert (org_a.input_tokens, org_a.output_tokens) == (350, 60)
    assert org_a.cost_usd == Decimal("0.36")
    # The median of 800, 1200, 400 and 5000 ms; the 3 ms refusal does not count.
    assert org_a.median_latency_ms == 1000
    u1 = report.by_user[("org_a", "u1")]
    assert (u1.questions, u1.cost_usd, u1.median_latency_ms) == (3, Decimal("0.31"), 1200)
    assert report.by_model["gpt-4o-mini"].questions == 4
    assert report.by_model[NO_MODEL].refusals == 1
    assert report.total.questions == 6 and report.total.cost_usd == Decimal("0.76")


async def test_report_for_one_org_leaves_the_others_out():
    report = await usage_report(await filled_store(), SINCE, UNTIL, "org_b")
    assert list(report.by_org) == ["org_b"]
    assert report.total.cost_usd == Decimal("0.40")


async def test_csv_and_json_carry_the_same_numbers():
    report = await usage_report(await filled_store(), SINCE, UNTIL)
    out = io.StringIO()
    write_usage(report, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    by_key = {(r["scope"], r["org"], r["user"], r["model"]): r for r in rows}
    assert by_key[("user", "org_a", "u2", "")]["refusals"] == "1"
    assert by_key[("total", "", "", "")]["cost_usd"] == "0.76000000"
    assert by_key[("org", "org_a", "", "")]["median_latency_ms"] == "1000"

    out = io.StringIO()
    write_usage(report, "json", out)
    document = json.loads(out.getvalue())
    assert [o["org"] for o in document["orgs"]] == ["org_a", "org_b"]
    assert document["total"]["questions"] == 6
    assert [d["date"] for d in document["days"]] == [f"2026-11-0{n}" for n in range(1, 6)]
    assert document["days"][1] == {"date": "2026-11-02", "questions": 0, "cost_usd": "0.00000000"}
    assert document["days"][0] == {"date": "2026-11-01", "questions": 2, "cost_usd": "0.30000000"}

    out = io.StringIO()
    write_usage(report, "table", out)
    table = out.getvalue().splitlines()
    assert table[0] == "Usage of all orgs, 2026-11-01 to 2026-11-05 (UTC)"
    total = next(line for line in table if line.startswith("total"))
    assert total.split() == ["total", "6", "1", "1", "450", "80", "0.7600", "900"]


async def test_chart_series_has_every_day_of_the_period_zeros_included():
    series = chart_series(await usage_report(await filled_store(), SINCE, UNTIL))
    assert series.days == [date(2026, 11, d) for d in range(1, 6)]
    assert series.questions == [2, 0, 3, 1, 0]
    # Day 3: one answered, one rate-limited, one failed.
    assert series.answered == [2, 0, 1, 1, 0]
    assert series.refused == [0, 0, 1, 0, 0]
    assert series.failed == [0, 0, 1, 0, 0]
    assert series.cost_usd == [0.30, 0.0, 0.06, 0.40, 0.0]


async def test_rows_that_ask_nothing_are_not_counted_as_questions():
    store = await filled_store()
    for action in ("ai.help", "ai.link"):
        await store.audit.append(row(2, "u1", Outcome.ANSWERED, action=action))
    report = await usage_report(store, SINCE, UNTIL)
    assert report.total.questions == 6 and report.by_org["org_a"].questions == 5
    assert chart_series(report).questions == [2, 0, 3, 1, 0]


async def test_the_figure_stacks_answered_refused_and_failed_over_the_cost_panel():
    series = chart_series(await usage_report(await filled_store(), SINCE, UNTIL), "Acme")
    top, bottom = build_figure(series).axes
    answered, refused, failed = top.containers
    assert [bar.get_height() for bar in answered] == series.answered
    assert [bar.get_height() for bar in refused] == series.refused
    assert [bar.get_y() for bar in refused] == series.answered  # stacked on the answered
    assert [bar.get_height() for bar in failed] == series.failed
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "answered",
        "refused",
        "failed or stopped",
    ]
    assert [bar.get_height() for bar in bottom.containers[0]] == series.cost_usd
    assert top.get_ylabel() == "Questions per day"
    assert bottom.get_ylabel() == "Cost per day (USD)"
    assert "6 questions (4 answered, 1 refused)" in bottom.get_xlabel()


def _cost_ticks(costs: list[float]) -> list[str]:
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(len(costs))]
    series = ChartSeries(days, [1] * len(costs), [1] * len(costs), [0] * len(costs), costs, "t")
    figure = build_figure(series)
    FigureCanvasAgg(figure)
    figure.canvas.draw()
    return [label.get_text() for label in figure.axes[1].get_yticklabels()]


@pytest.mark.parametrize(
    "costs",
    [
        [0.00012, 0.00003, 0.0, 0.00008],  # fractions of a cent: the cheap models' days
        [0.0003, 0.0001, 0.0002],
        [0.013, 0.002, 0.0],
        [1.5, 0.25, 3.0],
        [240.0, 1200.0, 75.5],
    ],
)
def test_cost_ticks_are_distinct_and_exact(costs: list[float]):
    ticks = _cost_ticks(costs)
    assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), ticks
    assert all(t.startswith("$") for t in ticks)
    values = [float(t.removeprefix("$").replace(",", "")) for t in ticks]
    assert values == sorted(values) and values[0] == 0.0
    assert max(values) >= max(costs) * 0.5  # the ticks span the bars, not a corner of them


def test_usd_decimals_are_the_fewest_that_write_each_tick_exactly():
    assert usd_decimals([0.0, 0.25, 0.5, 0.75]) == 2
    assert usd_decimals([0.0, 0.00002, 0.00004]) == 5
    assert usd_decimals([0.0, 0.000025, 0.00005]) == 6
    assert usd_decimals([0.0, 100.0, 200.0]) == 2


def test_a_period_without_cost_says_so_instead_of_inventing_ticks():
    assert _cost_ticks([0.0, 0.0, 0.0]) == ["$0"]


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        at += 12 + length
    return chunks


async def test_render_png_is_a_valid_png_of_the_figure_size():
    series = chart_series(await usage_report(await filled_store(), SINCE, UNTIL))
    chunks = _png_chunks(render_png(series))
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (width, height) == (1100, 660)  # 10 x 6 inches at 110 dpi


async def test_usage_command_attaches_the_org_chart_for_ai_full_only(kit):
    admin = f"email:{DEMO_USERS['admin']}"
    developer = f"email:{DEMO_USERS['developer']}"
    await kit.ask("How many servers?", admin)
    kit.clock.now += timedelta(days=1)
    await kit.ask("How many servers?", developer)
    view = await kit.service.usage(Inbound(identity=admin, text="", platform="console", is_dm=True))
    assert view.chart_png is not None and _png_chunks(view.chart_png)[-1][0] == b"IEND"
    assert "Acme" in view.text
    own = await kit.service.usage(
        Inbound(identity=developer, text="", platform="console", is_dm=True)
    )
    assert own.chart_png is None and own.org is None
