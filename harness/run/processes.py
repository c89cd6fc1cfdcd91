"""How many fresh processes a row's figure comes from (docs/benchmarks.md §7): the profile's
count (harness.config.PROCESSES: two for `quick`), interleaved - every run of the first round,
then every run of the second - so that a slow drift of the machine spreads over all rows instead
of landing on one; and, where the processes of one row disagree (their spreads do not overlap),
one more, so that the figure is not one process's luck. Ties are then judged on the spread over
all of a row's processes (harness.report.ranking)."""

from __future__ import annotations

import itertools
from typing import Any

from harness import benchmarks, metrics
from harness.registry import Row
from harness.report.ranking import Spread, overlaps
from harness.run.executor import PlannedRun


def rounds(ready: list[tuple[str, Row]], repeats: int, partition: str | None = None
           ) -> list[PlannedRun]:
    """Every (benchmark, row) once a round, `repeats` rounds."""
    return [PlannedRun(benchmark, impl, repeat, partition)
            for repeat in range(repeats) for benchmark, impl in ready]


def disagree(benchmark: str, runs: list[dict[str, Any]]) -> bool:
    """Whether two successful runs' headline spreads (each over its own windows or passes)
    share no value: the processes measured different speeds."""
    metric = metrics.get(benchmarks.get(benchmark).headline)
    spreads = [Spread.of(metric.samples_of(r)) for r in runs if r.get("status") == "ok"]
    return any(not overlaps(a, b) for a, b in itertools.combinations(spreads, 2))


def one_more_where_they_disagree(plan: list[PlannedRun],
                                 records: dict[str, list[dict[str, Any]]]) -> list[PlannedRun]:
    """A further run of each planned (benchmark, row) whose runs in `records` disagree (local
    runs: a Slurm plan's runs are spread over nodes that are not one machine)."""
    extra = []
    for (benchmark, name, variant), group in itertools.groupby(sorted(plan, key=_key), key=_key):
        planned = list(group)
        runs = [r for r in records.get(benchmark, [])
                if (r.get("impl"), r.get("variant", "default")) == (name, variant)]
        if len(runs) >= 2 and disagree(benchmark, runs):
            last = max(planned, key=lambda run: run.repeat)
            extra.append(PlannedRun(benchmark, last.impl, last.repeat + 1))
    return extra


def _key(run: PlannedRun) -> tuple[str, str, str]:
    return (run.benchmark, run.impl.name, run.impl.options.get("variant", "default"))
