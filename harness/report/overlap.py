"""Runs that shared the machine: two harnesses at once on one host, each disturbing the other's
timings. `report` and the end of a run name them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

def overlapping_runs(records: list[dict[str, Any]], among: set[str] | None = None
                     ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs of runs on one host whose start-finish intervals overlap (two harnesses at once):
    each shared the machine with the other, so their timings are contaminated. With `among`,
    only pairs that involve one of those run ids."""
    by_host: dict[str, list[tuple[datetime, datetime, dict[str, Any]]]] = {}
    for record in records:
        span = _span(record)
        if span:
            host = str((record.get("env") or {}).get("host") or "")
            by_host.setdefault(host, []).append((*span, record))
    pairs = []
    for runs in by_host.values():
        runs.sort(key=lambda run: run[0])
        for i, (_, finish, first) in enumerate(runs):
            for start, _, second in runs[i + 1:]:
                if start >= finish:
                    break
                if among is None or {first.get("run_id"), second.get("run_id")} & among:
                    pairs.append((first, second))
    return pairs


def overlap_warning(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> str | None:
    """One line naming the runs that overlapped in time, or None."""
    if not pairs:
        return None
    runs = list(dict.fromkeys(f"{r.get('benchmark')} {r.get('impl')} (started {r.get('started_at')})"
                              for pair in pairs for r in pair))
    listed = ", ".join(runs[:6]) + (f" and {len(runs) - 6} more" if len(runs) > 6 else "")
    return (f"{len(runs)} runs overlapped in time on one machine, so their timings are "
            f"contaminated (each shared it with another run): {listed}; rerun them one at a time")


def _span(record: dict[str, Any]) -> tuple[datetime, datetime] | None:
    try:
        start, finish = (datetime.fromisoformat(str(record[k]))
                         for k in ("started_at", "finished_at"))
    except (KeyError, ValueError):
        return None
    # Written in UTC (harness.run.runner); each stamp on its own, so that a hand-edited one
    # without a zone still compares with the others.
    start, finish = (t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t
                     for t in (start, finish))
    return start, finish
