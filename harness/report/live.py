"""The results table printed at the end of every benchmark command, from the run's own records.

Repeats of one implementation collapse into one row (medians, with the run count); a row whose
runs all failed, or that could not run here, shows why instead of vanishing. Ratios are to the
fastest row. Columns come from harness.metrics, as in `report`."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from harness import benchmarks, metrics
from harness.report.groups import Spread
from harness.report.render import escape


def group_rows(records: list[dict[str, Any]], columns: list[metrics.Metric]
               ) -> list[dict[str, Any]]:
    """One row per implementation, in first-seen order: medians over its successful runs."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["impl"], []).append(record)
    rows = []
    for impl, runs in groups.items():
        ok = [r for r in runs if r.get("status") == "ok"]
        failed = [r for r in runs if r.get("status") != "ok"]
        rows.append({"impl": impl, "runs": len(runs), "ok": len(ok), "first": (ok or runs)[0],
                     "failure": failed[0] if failed else None,
                     "values": {m.key: _median(Spread.of(m.value(r) for r in ok))
                                for m in columns}})
    return rows


def _median(spread: Spread | None) -> float | None:
    return spread.median if spread else None


def results_table(benchmark: str, records: list[dict[str, Any]], profile: str,
                  data: str) -> Table:
    record = benchmarks.get(benchmark)
    columns = metrics.for_benchmark(record)
    headline = columns[0].key
    rows = group_rows(records, columns)
    # A column no row has a figure for (device memory on a CPU, ...) only takes width.
    columns = [m for m in columns if m.key == headline
               or any(r["values"][m.key] is not None for r in rows)]
    best = min((r["values"][headline] for r in rows if r["values"][headline]), default=None)
    data_note = ("[bold yellow]SYNTHETIC data[/]" if data == "synthetic" else f"{data} data")
    table = Table(title=f"{record.title}\nprofile {profile} · {data_note}",
                  title_justify="left", header_style="bold")
    table.add_column("implementation", style="cyan", no_wrap=True)
    table.add_column("framework")
    table.add_column("device")
    for metric in columns:
        table.add_column(metric.label, justify="right")
    table.add_column("x fastest", justify="right")
    table.add_column("runs", justify="right")
    table.add_column("status", overflow="fold")
    for row in rows:
        first = row["first"]
        version = first.get("framework_version")
        framework = f"{first.get('framework', '')} {version}" if version else first.get(
            "framework", "")
        device = first.get("device_name") or first.get("device") or ""
        cells = [escape(str(text)) for text in (row["impl"], framework, device)]
        cells += [metric.format(row["values"][metric.key]) for metric in columns]
        value = row["values"][headline]
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
