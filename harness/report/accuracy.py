"""What a row's accuracy says, in words a reader cannot mistake for a result it is not.

- Generated (synthetic) data: the stand-in tasks are easy and a quick run is short, so the number
  moves with the seed; the cell says whether the row learned at all: `learned` when its median
  accuracy is at least halfway from chance to 1, else `not learned`.
- Real data, full profile, where the benchmark's record gives the band a correct implementation
  reaches (harness.benchmarks.Benchmark.accuracy_band): the number and where it falls: `ok`
  inside the band, `low` or `high` outside it.
- Anything else (real data, quick profile): the number.
"""

from __future__ import annotations

from harness import benchmarks
from harness.report.ranking import Spread

def note() -> str:
    """The footnote under a table with accuracy, naming each benchmark's band from its record."""
    bands = ", ".join(f"{b.original_name or b.name} {b.accuracy_band[0]:g}-{b.accuracy_band[1]:g}"
                      for b in benchmarks.REGISTRY.values() if b.accuracy_band)
    unknown = [b.name for b in benchmarks.REGISTRY.values()
               if b.training and b.accuracy_band is None]
    return ("accuracy: on generated data 'learned' means at least halfway from chance to 1 (the "
            "number itself is seed noise there); on real data in the full profile 'ok', 'low' or "
            f"'high' against the contract's band ({bands})"
            + (f"; {', '.join(unknown)}: no band yet, the number alone" if unknown else "") + ".")


def learned_threshold(benchmark: str) -> float | None:
    chance = benchmarks.get(benchmark).chance
    return None if chance is None else chance + (1 - chance) / 2


def accuracy_text(benchmark: str, data: str, profile: str, spread: Spread | None) -> str:
    if spread is None:
        return "-"
    value = spread.median
    threshold = learned_threshold(benchmark)
    if data == "synthetic" and threshold is not None:
        return "learned" if value >= threshold else "not learned"
    band = benchmarks.get(benchmark).accuracy_band
    if data == "real" and profile == "full" and band:
        where = "low" if value < band[0] else "high" if value > band[1] else "ok"
        return f"{value:.3f} {where}"
    return f"{value:.3f}"
