"""The one ranking rule of every table (the live table of a run, `report`, its exports, plots and
benchmarks/ranking_stability.py): rows by their headline's median, best first, and a row whose
spread overlaps the spread of the row ranked just above it marked tied ("≈").

A row's spread pools every timed window (training) or pass (inference) of all its successful
runs: the median, minimum and maximum of those samples (harness.metrics.Metric.samples). Two
rows whose ranges overlap differ by less than the run-to-run noise the measurement shows, so
their order is not a result.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence, TypeVar

from harness import metrics

T = TypeVar("T")
TIE_MARK = "≈"
TIE_NOTE = (f"{TIE_MARK}: tied with the row above: their spreads (min-max over the timed windows "
            f"or passes of all runs) overlap, so their order is noise, not a result.")


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> "Spread | None":
        present = [v for v in values if v is not None]
        if not present:
            return None
        return cls(statistics.median(present), min(present), max(present), len(present))


def overlaps(a: Spread | None, b: Spread | None) -> bool:
    """Whether two spreads share any value (a single sample is a range of one point)."""
    return a is not None and b is not None and a.low <= b.high and b.low <= a.high


def pooled(metric: metrics.Metric, runs: Iterable[dict[str, Any]]) -> Spread | None:
    """A metric over every window or pass of the runs given (their successful ones)."""
    return Spread.of(v for run in runs for v in metric.samples_of(run))


def better_first(metric: metrics.Metric, spread: Spread | None) -> tuple[bool, float]:
    """Sort key: measured rows first, best median first."""
    if spread is None:
        return (True, 0.0)
    return (False, -spread.median if metric.better == metrics.HIGHER else spread.median)


def times_slower(metric: metrics.Metric, value: float | None, best: float | None
                 ) -> float | None:
    """How many times slower than the best row (1.0 for the best), whichever way is better."""
    if not value or not best:
        return None
    return value / best if metric.better == metrics.LOWER else best / value


@dataclass
class Place:
    """One row's place: its position (1 = best) and whether it ties the row above."""

    item: Any
    spread: Spread | None
    position: int
    tied: bool
    ratio: float | None  # times slower than the best


def rank(items: Sequence[T], spread_of: Callable[[T], Spread | None],
         metric: metrics.Metric, name_of: Callable[[T], str] = str) -> list[Place]:
    """Items best first (unmeasured last, by name), each marked tied when its spread overlaps
    the spread of the item just above it."""
    keyed = sorted(((spread_of(item), item) for item in items),
                   key=lambda pair: (*better_first(metric, pair[0]), name_of(pair[1])))
    best = keyed[0][0].median if keyed and keyed[0][0] else None
    places: list[Place] = []
    for position, (spread, item) in enumerate(keyed, start=1):
        above = places[-1].spread if places else None
        places.append(Place(item, spread, position,
                            tied=spread is not None and overlaps(spread, above),
                            ratio=times_slower(metric, spread.median if spread else None, best)))
    return places
