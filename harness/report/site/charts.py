"""The site's charts: horizontal bars drawn as inline SVG, one bar per row in the table's
ranking order, so that a chart reads beside its table. Drawn here rather than by a charting
library: the page then needs no script to show them, works from `file://`, and weighs a few
kilobytes a chart.

Every bar carries its figures twice: an SVG `<title>` (the browser's own tooltip, and what a
screen reader reads) and a `data-tip` attribute the site's script shows at once on hover.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from html import escape

from harness import benchmarks, metrics
from harness.metrics import fmt
from harness.report.groups import Group, Section
from harness.report.render import over_peak, row_name
from harness.report.timebar import time_bar

WIDTH = 640  # the viewBox; the SVG scales to its column
LABEL = 150  # room for the implementation names
RIGHT = 120  # room for the value printed after a bar
ROW = 22
TOP, BOTTOM = 8, 34

STEADY, WARMUP, SECOND, SPARE = "steady", "warmup", "second", "none"  # CSS classes of bars


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    kind: str  # a CSS class: STEADY, WARMUP, SECOND


@dataclass(frozen=True)
class Row:
    name: str
    segments: tuple[Segment, ...] = ()
    low: float | None = None  # whiskers
    high: float | None = None
    label: str = ""  # printed after the bar
    tip: str = ""  # hover text
    missing: str = ""  # why there is no bar

    @property
    def right(self) -> float:
        ends = [s.end for s in self.segments] + [self.high or 0.0]
        return max(ends, default=0.0)


@dataclass(frozen=True)
class Chart:
    key: str  # which chart: headline, time, peak, memory (a CSS/test hook)
    title: str
    axis: str  # the x axis: what and which unit, which way is better
    rows: tuple[Row, ...]
    legend: tuple[tuple[str, str], ...] = ()  # (CSS class, label)
    line_at: float | None = None  # a dashed reference line (100% of peak)


def svg(chart: Chart) -> str:
    """The chart as an <svg> element, or a short note when no row has a figure."""
    drawn = [r for r in chart.rows if r.segments]
    if not drawn:
        return ""
    top = max([r.right for r in chart.rows] + [chart.line_at or 0.0]) or 1.0
    scale = (WIDTH - LABEL - RIGHT) / top
    height = TOP + ROW * len(chart.rows) + BOTTOM
    parts = [f'<svg class="chart" data-chart="{chart.key}" viewBox="0 0 {WIDTH} {height}" '
             f'role="img" aria-label="{escape(chart.title)}" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for tick in _ticks(top):
        x = LABEL + tick * scale
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" '
                     f'y2="{height - BOTTOM}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{height - BOTTOM + 13}">'
                     f'{_tick_text(tick)}</text>')
    if chart.line_at is not None:
        x = LABEL + chart.line_at * scale
        parts.append(f'<line class="limit" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 4}" '
                     f'y2="{height - BOTTOM}"/>')
    for index, row in enumerate(chart.rows):
        y = TOP + index * ROW
        middle = y + ROW / 2
        parts.append(f'<text class="name" x="{LABEL - 6}" y="{middle + 4:.1f}">'
                     f'{escape(row.name)}</text>')
        if not row.segments:
            parts.append(f'<text class="missing" x="{LABEL + 4}" y="{middle + 4:.1f}">'
                         f'{escape(row.missing)}</text>')
            continue
        parts.append(f'<g class="bar" data-tip="{escape(row.tip)}"><title>{escape(row.tip)}'
                     f'</title>')
        for segment in row.segments:
            x0, x1 = LABEL + segment.start * scale, LABEL + segment.end * scale
            parts.append(f'<rect class="{segment.kind}" x="{x0:.1f}" y="{y + 4}" '
                         f'width="{max(x1 - x0, 0.5):.1f}" height="{ROW - 8}"/>')
        if row.low is not None and row.high is not None and row.high > row.low:
            a, b = LABEL + row.low * scale, LABEL + row.high * scale
            parts.append(f'<path class="whisker" d="M{a:.1f} {middle:.1f}H{b:.1f}'
                         f'M{a:.1f} {middle - 5:.1f}v10M{b:.1f} {middle - 5:.1f}v10"/>')
        end = LABEL + row.right * scale
        parts.append(f'<text class="value" x="{end + 5:.1f}" y="{middle + 4:.1f}">'
                     f'{escape(row.label)}</text></g>')
    parts.append(f'<text class="axis" x="{LABEL}" y="{height - 6}">{escape(chart.axis)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def figure(chart: Chart) -> str:
    """The chart with its title and legend, ready for the page ("" when nothing to draw)."""
    drawn = svg(chart)
    if not drawn:
        return ""
    legend = "".join(f'<span class="key"><i class="{kind}"></i>{escape(label)}</span>'
                     for kind, label in chart.legend)
    return (f'<figure class="chart-box"><figcaption>{escape(chart.title)}'
            f'{f" <span class=legend>{legend}</span>" if legend else ""}</figcaption>'
            f"{drawn}</figure>")


def _tick_text(tick: float) -> str:
    return f"{tick:,.0f}" if tick == int(tick) else f"{tick:g}"


def _ticks(top: float) -> list[float]:
    """Four or five round values from 0 to about `top`."""
    step = 10 ** len(str(int(top / 4))) / 10 if top >= 4 else 0.5 if top >= 2 else 0.25
    while top / step > 5:
        step *= 2
    count = int(top / step) + 1
    return [i * step for i in range(count) if i * step <= top * 1.001]


# ---------------------------------------------------------------- the charts of a section

def _why(group: Group) -> str:
    return f"no result: {group.status}"


def headline_chart(section: Section) -> Chart:
    """The ranking's own figure: median of every timed window or pass, min-max whiskers."""
    metric = metrics.get(benchmarks.get(section.benchmark).headline)
    rows = []
    for g in section.groups:
        spread = g.headline
        if spread is None:
            rows.append(Row(row_name(g), missing=_why(g)))
            continue
        n = f" over {spread.n} windows or passes" if spread.n > 1 else ""
        tip = (f"{row_name(g)}: {metric.format(spread.median)} {metric.unit} (median{n}; "
               f"min {metric.format(spread.low)}, max {metric.format(spread.high)}); "
               f"{len(g.ok)} run(s)")
        rows.append(Row(row_name(g), (Segment(0.0, spread.median, STEADY),), spread.low,
                        spread.high, metric.format(spread.median), tip))
    better = "higher" if metric.better == metrics.HIGHER else "lower"
    return Chart("headline", f"Steady state: {metric.label} ({better} is better)",
                 f"{metric.unit}: median (bar), min-max (whiskers) over the timed windows or "
                 f"passes", tuple(rows))


def time_chart(section: Section) -> Chart:
    """Compile + warm-up beside the steady state, in seconds of the run."""
    training = benchmarks.get(section.benchmark).training
    rows = []
    for g in section.groups:
        if training:
            bar = time_bar(g)
            if bar is None:
                rows.append(Row(row_name(g), missing=_why(g)))
                continue
            warm, total, low, high = bar.warmup, bar.total, bar.low, bar.high
        else:
            warmup, steady = g.metric("warmup_s"), _median(g, "steady_s")
            if warmup is None or steady is None:
                rows.append(Row(row_name(g), missing=_why(g) if not g.ok else "not recorded"))
                continue
            warm, total, low, high = warmup.median, warmup.median + steady, None, None
        tip = (f"{row_name(g)}: compile + warm-up {fmt(warm)} s, then "
               f"{'the rest of training' if training else 'the timed passes'} "
               f"{fmt(total - warm)} s ({fmt(total)} s in all)")
        rows.append(Row(row_name(g), (Segment(0.0, warm, WARMUP), Segment(warm, total, STEADY)),
                        low, high, f"{fmt(warm)} + {fmt(total - warm)} s", tip))
    rest = "the rest of training" if training else "the timed passes"
    return Chart("time", "Where the time goes: compile + warm-up, then the steady state",
                 f"seconds (median): compile + warm-up, then {rest}",
                 tuple(rows), legend=((WARMUP, "compile + warm-up"), (STEADY, rest)))


def peak_chart(section: Section) -> Chart:
    metric, rate = metrics.get("pct_of_measured_peak"), metrics.get("flops_per_s")
    rows = []
    for g in section.groups:
        spread, achieved = g.metric(metric.key), g.metric(rate.key)
        if spread is None:
            rows.append(Row(row_name(g), missing=_why(g) if not g.ok else "not measured"))
            continue
        if over_peak(g):  # a calibration below the model's own rate: no result to draw
            rows.append(Row(row_name(g), missing="above 100%: no result (the table's note says why)"))
            continue
        flops = f", {fmt(achieved.median)} {rate.unit}" if achieved else ""
        tip = f"{row_name(g)}: {spread.median:.0f}% of the measured peak{flops}"
        rows.append(Row(row_name(g), (Segment(0.0, spread.median, STEADY),), spread.low,
                        spread.high, f"{spread.median:.0f}%{flops}", tip))
    return Chart("peak", "How close to the machine: % of the measured peak",
                 "% of the matrix-multiply rate this framework reaches on this device",
                 tuple(rows), line_at=100.0)


def memory_chart(section: Section) -> Chart:
    host, device = metrics.get("host_peak_bytes"), metrics.get("device_peak_bytes")
    on_device = any(g.metric(device.key) for g in section.groups)
    rows = []
    for g in section.groups:
        resident, used = g.metric(host.key), g.metric(device.key)
        if resident is None and used is None:
            rows.append(Row(row_name(g), missing=_why(g) if not g.ok else "not measured"))
            continue
        segments, words = [], []
        if used is not None:
            segments.append(Segment(0.0, used.median, SECOND))
            words.append(f"device {used.median:,.0f} MiB")
        if resident is not None and not on_device:
            segments.append(Segment(0.0, resident.median, STEADY))
        if resident is not None:
            words.append(f"process {resident.median:,.0f} MiB")
        rows.append(Row(row_name(g), tuple(segments), label=", ".join(words),
                        tip=f"{row_name(g)}: peak {', '.join(words)}"))
    what = device if on_device else host
    legend = ((SECOND, device.label),) if on_device else ((STEADY, host.label),)
    return Chart("memory", "Peak memory (lower is better)",
                 f"{what.unit}: {what.description}", tuple(rows), legend=legend)


def charts(section: Section) -> list[Chart]:
    return [headline_chart(section), time_chart(section), peak_chart(section),
            memory_chart(section)]


def _median(group: Group, key: str) -> float | None:
    values = [metrics.number((r.get("timings") or {}).get(key)) for r in group.ok]
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None
