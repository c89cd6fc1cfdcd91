"""How busy the machine was around a run: the 1-minute load average and the CPU time other
processes took, read from /proc before and after each child (Linux; elsewhere: not measured).

A run measured while other processes used the CPUs is contaminated (docs/benchmarks.md §7); the
record says so (`load.busy`) and the tables flag the row with a footnote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# Other processes' average use, in cores, above which a run counts as measured on a busy machine.
BUSY_CORES = 0.25


@dataclass(frozen=True)
class Snapshot:
    loadavg: float | None  # 1-minute load average
    busy_ticks: int | None  # all CPUs' non-idle time, in clock ticks (/proc/stat)
    own_s: float  # CPU seconds of this process and its waited-for children


def snapshot() -> Snapshot:
    times = os.times()
    own = times.user + times.system + times.children_user + times.children_system
    try:
        loadavg = os.getloadavg()[0]
    except OSError:
        loadavg = None
    return Snapshot(loadavg, _busy_ticks(), own)


def _busy_ticks() -> int | None:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle  # guest time is already counted in user


def machine_load(before: Snapshot, after: Snapshot, wall_s: float) -> dict[str, Any]:
    """The record's `load`: load averages around the run, and the cores other processes used
    on average while it ran (all CPU use minus this process tree's)."""
    other = None
    if before.busy_ticks is not None and after.busy_ticks is not None and wall_s > 0:
        all_s = (after.busy_ticks - before.busy_ticks) / os.sysconf("SC_CLK_TCK")
        other = max(0.0, all_s - (after.own_s - before.own_s)) / wall_s
    return {"loadavg_before": before.loadavg, "loadavg_after": after.loadavg,
            "other_cores": None if other is None else round(other, 3),
            "cores": os.cpu_count(),
            "busy": None if other is None else other >= BUSY_CORES}
