"""The rich results table printed at the end of every benchmark command.

Repeats of one implementation collapse into one row (medians, with the run count); a row
whose runs all failed shows why instead of vanishing. Ratios are to the fastest row."""

from __future__ import annotations

import statistics
from typing import Any, Iterable

from rich.table import Table

from harness.config import BENCHMARK_TITLES
from harness.report.render import escape, fmt

TRAINING_COLUMNS = [  # (header, timings key)
    ("train s", "train_s"), ("first epoch s", "first_epoch_s"),
    ("steady epoch s", "steady_epoch_s"), ("eval s", "eval_s"), ("samples/s", "samples_per_s"),
]
INFERENCE_COLUMNS = [("s / 1000 images", "s_per_1000"), ("images/s", "images_per_s")]
HEADLINE = {"cnn": "train_s", "rnn": "train_s", "inference": "s_per_1000"}


def median_or_none(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def group_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per implementation, in first-seen order: medians over its successful runs."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["impl"], []).append(record)
    rows = []
    for impl, runs in groups.items():
        ok = [r for r in runs if r.get("status") == "ok"]
        failed = [r for r in runs if r.get("status") != "ok"]
        row = {"impl": impl, "runs": len(runs), "ok": len(ok), "first": (ok or runs)[0],
               "failure": failed[0] if failed else None}
        keys = {k for r in ok for k in (r.get("timings") or {})}
        row["timings"] = {k: median_or_none(_scalar(r["timings"].get(k)) for r in ok) for k in keys}
        row["accuracy"] = median_or_none(r.get("accuracy") for r in ok)
        rows.append(row)
    return rows


def _scalar(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) else None


def results_table(benchmark: str, records: list[dict[str, Any]], profile: str,
                  data: str) -> Table:
    rows = group_rows(records)
    headline = HEADLINE[benchmark]
    best = min((r["timings"][headline] for r in rows if r["timings"].get(headline)), default=None)
    data_note = ("[bold yellow]SYNTHETIC data[/]" if data == "synthetic" else f"{data} data")
    table = Table(title=f"{BENCHMARK_TITLES[benchmark]}\nprofile {profile} · {data_note}",
                  title_justify="left", header_style="bold")
    table.add_column("implementation", style="cyan", no_wrap=True)
    table.add_column("framework")
    table.add_column("device")
    columns = INFERENCE_COLUMNS if benchmark == "inference" else TRAINING_COLUMNS
    for header, _ in columns:
        table.add_column(header, justify="right")
    if benchmark != "inference":
        table.add_column("accuracy", justify="right")
    table.add_column("x fastest", justify="right")
    table.add_column("runs", justify="right")
    table.add_column("status", overflow="fold")
    for row in rows:
        first = row["first"]
        version = first.get("framework_version")
        framework = f"{first.get('framework', '')} {version}" if version else first.get(
            "framework", "")
        device = first.get("device_name") or first.get("device") or ""
        cells = [row["impl"], framework, device]
        cells += [fmt(row["timings"].get(key)) for _, key in columns]
        if benchmark != "inference":
            cells.append(fmt(row["accuracy"], digits=3))
        value = row["timings"].get(headline)
        cells.append(f"{value / best:.2f}" if value and best else "")
        cells.append(f"{row['ok']}/{row['runs']}")
        cells.append(status_cell(row))
        table.add_row(*cells)
    return table


def status_cell(row: dict[str, Any]) -> str:
    failure = row["failure"]
    if failure is None:
        return "[green]ok[/]"
    colour = "yellow" if failure.get("status") in ("skipped", "interrupted") else "red"
    return f"[{colour}]{failure.get('status')}: {escape(failure.get('reason') or '')}[/]"
