"""PNG plots of a report: time per implementation (training: a bar stacked as compile + warm-up
and the rest of training, whiskers from the steady state's spread; inference: seconds per 1,000
images, whiskers from the passes' spread; the original project's K80/P100 figure as a marker
where the table shows one), percent of the measured peak per implementation, and, for the
training benchmarks on real data, accuracy versus training time with its Pareto front (none for
generated data, whose accuracy is seed noise: harness.report.accuracy).

Figures are built with `matplotlib.figure.Figure` and the Agg canvas, never pyplot: no display,
no global state, safe in a headless process. No bar is singled out; bars are in table order.
"""

from __future__ import annotations

import re
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness import benchmarks, metrics
from harness.metrics import fmt
from harness.report.groups import Group, Section
from harness.report.reference import YEAR
from harness.report.render import row_name, section_heading
from harness.report.timebar import time_bar

BAR_COLOUR = "#4c72b0"
WARMUP_COLOUR = "#dd8452"
REFERENCE_MARKER = {"K80": "D", "P100": "o"}  # the original project's GPUs (harness.report.reference)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def file_stem(section: Section) -> str:
    return "-".join(_slug(part) for part in (section.benchmark, section.profile, section.data,
                                             section.device))


def time_figure(section: Section) -> Figure:
    """Horizontal bars in table order: time per implementation (`time_bar`), whiskers from the
    spread. A row without any result keeps its place, with why instead of a bar."""
    groups = section.groups
    measured = [(i, time_bar(g)) for i, g in enumerate(groups)]
    measured = [(i, b) for i, b in measured if b]
    figure = Figure(figsize=(8.5, 1.5 + 0.45 * max(len(groups), 1)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = [i for i, _ in measured]
    spreads = [b for _, b in measured]
    axes.barh(positions, [b.total - b.warmup for b in spreads], left=[b.warmup for b in spreads],
              color=BAR_COLOUR, height=0.6, label="steady state")
    if any(b.warmup for b in spreads):
        axes.barh(positions, [b.warmup for b in spreads], color=WARMUP_COLOUR, height=0.6,
                  label="compile + warm-up")
    repeated = [(p, b) for p, b in zip(positions, spreads) if b.n > 1]
    if repeated:  # a single sample has no spread to draw
        axes.errorbar([b.total for _, b in repeated], [p for p, _ in repeated],
                      xerr=[[b.total - b.low for _, b in repeated],
                            [b.high - b.total for _, b in repeated]],
                      fmt="none", ecolor="black", capsize=4, elinewidth=1)
    axes.set_yticks(range(len(groups)), [row_name(g) for g in groups])
    axes.set_ylim(len(groups) - 0.5, -0.5)  # first table row on top
    for position, bar in zip(positions, spreads):
        label = f" {fmt(bar.total)}" + (f"  (n={bar.n})" if bar.n > 1 else "")
        axes.text(bar.high, position, label, va="center", ha="left", fontsize=8)
    right = max((s.high for s in spreads), default=1.0)
    references = [(position, figure_) for position, group in enumerate(groups)
                  for figure_ in group.reference.values()]
    for gpu, marker in REFERENCE_MARKER.items():  # the original's figure, where it has one
        points = [(f.value, position) for position, f in references if f.gpu == gpu]
        if points:
            axes.plot(*zip(*points), linestyle="none", marker=marker, markersize=7,
                      markerfacecolor="none", markeredgecolor="#c44e52",
                      label=f"original project, {gpu} ({YEAR[gpu]})")
    if references or any(b.warmup for b in spreads):
        right = max([right] + [f.value for _, f in references])
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # clear of the data
    axes.set_xlim(0, right * 1.25)
    for position, group in enumerate(groups):
        if not group.headline:
            axes.text(right * 0.01, position, f"no result: {_short(group.status)}",
                      va="center", ha="left", fontsize=8, color="#a00000")
    axes.set_xlabel(_unit(section) + "  (bar: median; whiskers: the steady state's min-max)")
    axes.set_title(_title(section), fontsize=10, loc="left")
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)
    return figure


def accuracy_figure(section: Section) -> Figure | None:
    """Accuracy against training time, one point per implementation (median; horizontal
    whiskers: min-max time), and the Pareto front: no other row is both faster and more
    accurate. None for inference, for generated data (its accuracy is seed noise) or when no
    row has both figures."""
    if not benchmarks.get(section.benchmark).training or section.data == "synthetic":
        return None
    points = [g for g in section.groups if g.metric("train_s") and g.accuracy]
    if not points:
        return None
    figure = Figure(figsize=(7.5, 5.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for group in points:
        t, a = group.metric("train_s"), group.accuracy
        axes.errorbar(t.median, a.median, xerr=[[t.median - t.low], [t.high - t.median]],
                      fmt="o", color=BAR_COLOUR, ecolor="grey", capsize=3)
        axes.annotate(row_name(group), (t.median, a.median), textcoords="offset points",
                      xytext=(6, 4), fontsize=8)
    front = pareto_front(points)
    if len(front) > 1:
        axes.step([g.metric("train_s").median for g in front], [g.accuracy.median for g in front],
                  where="post", linestyle="--", color="grey", linewidth=1,
                  label="Pareto front")
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # clear of the data
    axes.set_xlabel(metrics.get("train_s").description + " (median)")
    axes.set_ylabel("test accuracy (median)")
    axes.set_title(_title(section), fontsize=10, loc="left")
    axes.text(0.01, 0.99, "upper left: faster and more accurate", transform=axes.transAxes,
              va="top", ha="left", fontsize=8, color="grey")
    axes.grid(alpha=0.3)
    axes.margins(x=0.15, y=0.15)
    return figure


def pareto_front(groups: list[Group]) -> list[Group]:
    """Rows no other row beats on both time (lower) and accuracy (higher), fastest first."""
    ordered = sorted(groups, key=lambda g: (g.metric("train_s").median, -g.accuracy.median))
    front: list[Group] = []
    for group in ordered:
        if not front or group.accuracy.median > front[-1].accuracy.median:
            front.append(group)
    return front


def peak_figure(section: Section) -> Figure | None:
    """Percent of the measured matrix-multiply peak per row (median; whiskers: min-max over
    repeats): how much of what its framework can reach on this device each row used. None when
    no row of the table has the figure (results from before it was measured)."""
    peak = metrics.get("pct_of_measured_peak")
    measured = [(i, g.metric(peak.key)) for i, g in enumerate(section.groups)]
    measured = [(i, s) for i, s in measured if s]
    if not measured:
        return None
    groups = section.groups
    figure = Figure(figsize=(8.5, 1.5 + 0.45 * len(groups)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions, spreads = [i for i, _ in measured], [s for _, s in measured]
    axes.barh(positions, [s.median for s in spreads], color=BAR_COLOUR, height=0.6)
    axes.errorbar([s.median for s in spreads], positions,
                  xerr=[[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]],
                  fmt="none", ecolor="black", capsize=4, elinewidth=1)
    rate = metrics.get("flops_per_s")
    for position, group in enumerate(groups):
        spread = group.metric(peak.key)
        achieved = group.metric(rate.key)
        label = (f" {spread.median:.0f}%" + (f"  ({fmt(achieved.median)} {rate.unit})"
                                             if achieved else "")) if spread else " not measured"
        axes.text(spread.high if spread else 1, position, label, va="center", ha="left",
                  fontsize=8, color="black" if spread else "#a00000")
    axes.axvline(100, color="grey", linestyle="--", linewidth=1)
    axes.set_yticks(range(len(groups)), [row_name(g) for g in groups])
    axes.set_ylim(len(groups) - 0.5, -0.5)
    axes.set_xlim(0, max(120, max(s.high for s in spreads) * 1.25))
    axes.set_xlabel("% of the matrix-multiply rate the row's framework reaches on this device")
    axes.set_title(_title(section), fontsize=10, loc="left")
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)
    return figure


def write_plots(sections: list[Section], folder: Path) -> list[Path]:
    """Every plot of every table; returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for section in sections:
        stem = file_stem(section)
        for suffix, figure in (("time", time_figure(section)),
                               ("accuracy", accuracy_figure(section)),
                               ("peak", peak_figure(section))):
            if figure is None:
                continue
            path = folder / f"{stem}-{suffix}.png"
            figure.savefig(path, dpi=120)
            written.append(path)
    return written


def _unit(section: Section) -> str:
    if benchmarks.get(section.benchmark).training:
        return "training seconds: compile + warm-up, then the rest"
    return metrics.get(benchmarks.get(section.benchmark).headline).description


def _title(section: Section) -> str:
    """The table's heading on two lines, so long device names fit the figure."""
    benchmark, _, rest = section_heading(section).partition(" - ")
    return f"{benchmark}\n{rest}"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
