"""The usage chart: daily questions (answered, refused, failed) and daily cost over a period.

Two panels sharing the date axis, rather than two y-axes on one panel: each series keeps its
own scale and label, and nobody has to work out which line belongs to which axis.
Drawn on a bare matplotlib Figure (no pyplot), so no global state and no display is needed.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.usage import Day, UsageReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ANSWERED_COLOUR = "#3b6ea8"
REFUSED_COLOUR = "#e0a030"
FAILED_COLOUR = "#9a9a9a"
COST_COLOUR = "#c4572a"

# What `usage --chart FILE` can write, by the file's extension (Pillow, a matplotlib
# dependency, writes the JPEG).
CHART_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".svg": "svg", ".pdf": "pdf"}


class ChartFormatError(ValueError):
    """A file name whose extension names no format the chart can be written in."""


def chart_format(path: Path) -> str:
    """The format a chart saved as `path` is written in, from its extension."""
    fmt = CHART_FORMATS.get(path.suffix.lower())
    if fmt is None:
        names = ", ".join(CHART_FORMATS)
        raise ChartFormatError(
            f"can't tell a chart format from {path.name!r}; name it with one of {names}"
        )
    return fmt


@dataclass(frozen=True, slots=True)
class ChartSeries:
    """Exactly what is plotted, one entry per day of the period."""

    days: list[date]
    questions: list[int]  # every question: answered + refused + failed or stopped
    answered: list[int]
    refused: list[int]
    cost_usd: list[float]
    title: str

    @property
    def failed(self) -> list[int]:
        """Questions that neither got an answer nor a refusal: failed, or stopped."""
        return [
            q - a - r for q, a, r in zip(self.questions, self.answered, self.refused, strict=True)
        ]


def chart_series(report: UsageReport, title: str | None = None) -> ChartSeries:
    days = report.days()
    counted = [report.by_day.get(day, Day()) for day in days]
    if title is None:
        scope = report.org_id or "all organisations"
        title = f"StackDock Assistant usage: {scope}, {days[0]:%d %b} to {days[-1]:%d %b %Y}"
    return ChartSeries(
        days=days,
        questions=[day.questions for day in counted],
        answered=[day.answered for day in counted],
        refused=[day.refused for day in counted],
        cost_usd=[float(day.cost_usd) for day in counted],
        title=title,
    )


def usd_decimals(ticks: list[float]) -> int:
    """The fewest decimals (at least 2) that write every tick exactly, so that no two ticks
    read alike: steps of $0.25 read "$0.25", steps of $0.00002 read "$0.00002"."""
    spacing = min((b - a for a, b in itertools.pairwise(ticks) if b > a), default=1.0)
    for decimals in range(2, 12):
        if all(abs(round(tick, decimals) - tick) < spacing * 1e-6 for tick in ticks):
            return decimals
    return 12


def _usd_formatter() -> Any:
    from matplotlib.ticker import Formatter

    class UsdTicks(Formatter):
        """Dollar ticks with as many decimals as the ticks in view need."""

        decimals = 2

        def set_locs(self, locs: Any) -> None:
            super().set_locs(locs)
            self.decimals = usd_decimals([float(x) for x in locs])

        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"${x:,.{self.decimals}f}"

    return UsdTicks()


def _question_bars(axes: Axes, series: ChartSeries) -> None:
    from matplotlib.ticker import MaxNLocator

    days: Any = series.days  # matplotlib's stubs know no dates; its converter does
    bottom = [0] * len(series.days)
    stacks = (
        ("answered", series.answered, ANSWERED_COLOUR),
        ("refused", series.refused, REFUSED_COLOUR),
        ("failed or stopped", series.failed, FAILED_COLOUR),
    )
    for label, counts, colour in stacks:
        if label == "failed or stopped" and not any(counts):
            continue  # a legend entry for nothing is noise
        axes.bar(days, counts, bottom=bottom, color=colour, width=0.8, label=label)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.set_ylabel("Questions per day")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(bottom=0, top=max([*series.questions, 1]) * 1.15)
    # Above the panel, where no bar can hide it.
    axes.legend(loc="lower right", bbox_to_anchor=(1, 1), frameon=False, ncols=3, fontsize=9)


def _cost_bars(axes: Axes, series: ChartSeries) -> None:
    from matplotlib.ticker import MaxNLocator

    days: Any = series.days
    axes.bar(days, series.cost_usd, color=COST_COLOUR, width=0.8)
    axes.set_ylabel("Cost per day (USD)")
    peak = max(series.cost_usd, default=0.0)
    if peak <= 0:
        # Nothing priced (the offline provider, or a local model of unknown price): say so.
        axes.set_ylim(0, 1)
        axes.set_yticks([0], ["$0"])
        axes.text(0.5, 0.5, "no cost recorded in this period", transform=axes.transAxes,
                  ha="center", va="center", color="#666666")  # fmt: skip
        return
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    axes.yaxis.set_major_formatter(_usd_formatter())
    axes.set_ylim(bottom=0, top=peak * 1.15)


def _total_cost(series: ChartSeries) -> str:
    total = sum(series.cost_usd)
    if total <= 0:
        return "$0"
    # Enough decimals to show the total's first two significant digits.
    decimals = max(2, 1 - math.floor(math.log10(total)))
    return f"${total:,.{decimals}f}"


def build_figure(series: ChartSeries) -> Figure:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 6), dpi=110, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    figure.suptitle(series.title, fontsize=13)
    _question_bars(top, series)
    _cost_bars(bottom, series)

    totals = (
        f"{sum(series.questions):,} questions ({sum(series.answered):,} answered, "
        f"{sum(series.refused):,} refused), {_total_cost(series)} in total"
    )
    bottom.set_xlabel(f"Day (UTC) — {totals}")
    locator = AutoDateLocator(minticks=3, maxticks=10)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    for axes in (top, bottom):
        axes.grid(axis="y", alpha=0.3)
        axes.spines[["top", "right"]].set_visible(False)
    return figure


def render(series: ChartSeries, fmt: str = "png") -> bytes:
    """The chart as bytes of `fmt` (a CHART_FORMATS value). CPU-bound: call it through
    asyncio.to_thread from async code."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = build_figure(series)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt)
    return buffer.getvalue()


def render_png(series: ChartSeries) -> bytes:
    return render(series, "png")


class MatplotlibCharts:
    """The ChartRenderer port on matplotlib."""

    async def usage_chart(self, report: UsageReport, title: str) -> bytes:
        # Drawing is CPU-bound; in a thread it does not stall other people's answers.
        return await asyncio.to_thread(render_png, chart_series(report, title))
