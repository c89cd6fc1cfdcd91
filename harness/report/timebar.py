"""One bar of time per row, shared by the PNG plots (harness.report.plots) and the HTML
site's charts (harness.report.site.charts): training seconds split into compile + warm-up and
the rest, inference seconds per 1,000 images, whiskers from the steady state's spread."""

from __future__ import annotations

from dataclasses import dataclass

from harness import benchmarks
from harness.report.groups import Group


@dataclass(frozen=True)
class Bar:
    warmup: float  # seconds of compile + warm-up inside the bar (0 for inference)
    total: float
    low: float  # whiskers: the total at the steady state's fastest and slowest window or pass
    high: float
    n: int


def time_bar(group: Group) -> Bar | None:
    """Training: train s (median) = compile + warm-up + the rest, the rest scaled by the
    steady throughput's spread for the whiskers. Inference: the headline with its spread."""
    headline = group.headline
    if headline is None:
        return None
    if not benchmarks.get(group.benchmark).training:
        return Bar(0.0, headline.median, headline.low, headline.high, headline.n)
    total = group.metric("train_s")
    if total is None:
        return None
    warm = group.metric("warmup_s") or group.metric("first_epoch_s")
    warmup = min(warm.median, total.median) if warm else 0.0
    rest = total.median - warmup
    return Bar(warmup, total.median, warmup + rest * headline.median / headline.high,
               warmup + rest * headline.median / headline.low, headline.n)
