"""The usage chart: daily questions and daily cost over a report's period, as a PNG.

Two panels sharing the date axis, rather than two y-axes on one panel: each series keeps its
own scale and label, and nobody has to work out which line belongs to which axis.
Drawn on a bare matplotlib Figure (no pyplot), so no global state and no display is needed.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from core.usage import Day, UsageReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

QUESTIONS_COLOUR = "#3b6ea8"
COST_COLOUR = "#c4572a"


@dataclass(frozen=True, slots=True)
class ChartSeries:
    """Exactly what is plotted, one entry per day of the period."""

    days: list[date]
    questions: list[int]
    cost_usd: list[float]
    title: str


def chart_series(report: UsageReport, title: str | None = None) -> ChartSeries:
    days = report.days()
    counted = [report.by_day.get(day, Day()) for day in days]
    questions = [day.questions for day in counted]
    cost = [float(day.cost_usd) for day in counted]
    if title is None:
        scope = report.org_id or "all organisations"
        title = f"StackDock Assistant usage: {scope}, {days[0]:%d %b} to {days[-1]:%d %b %Y}"
    return ChartSeries(days, questions, cost, title)


def build_figure(series: ChartSeries) -> Figure:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    figure = Figure(figsize=(10, 6), dpi=110, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    figure.suptitle(series.title, fontsize=13)

    top.bar(series.days, series.questions, color=QUESTIONS_COLOUR, width=0.8)
    top.set_ylabel("Questions per day")
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_ylim(bottom=0, top=max([*series.questions, 1]) * 1.15)

    bottom.bar(series.days, series.cost_usd, color=COST_COLOUR, width=0.8)
    bottom.set_ylabel("Cost per day (USD)")
    peak = max([*series.cost_usd, 0.0001])
    # Cheap models cost fractions of a cent a day; two decimals would label every tick $0.00.
    decimals = 2 if peak >= 0.5 else 4
    bottom.yaxis.set_major_formatter(StrMethodFormatter(f"${{x:,.{decimals}f}}"))
    bottom.set_ylim(bottom=0, top=peak * 1.15)

    totals = f"{sum(series.questions):,} questions, ${sum(series.cost_usd):,.{decimals}f} in total"
    bottom.set_xlabel(f"Day (UTC) — {totals}")
    locator = AutoDateLocator(minticks=3, maxticks=10)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    for axes in (top, bottom):
        axes.grid(axis="y", alpha=0.3)
        axes.spines[["top", "right"]].set_visible(False)
    return figure


def render_png(series: ChartSeries) -> bytes:
    """The chart as PNG bytes. CPU-bound: call it through asyncio.to_thread from async code."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = build_figure(series)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


class MatplotlibCharts:
    """The ChartRenderer port on matplotlib."""

    async def usage_chart(self, report: UsageReport, title: str) -> bytes:
        # Drawing is CPU-bound; in a thread it does not stall other people's answers.
        return await asyncio.to_thread(render_png, chart_series(report, title))
