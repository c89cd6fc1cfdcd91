"""How a report looks: rich tables for the terminal; Markdown, CSV and JSON exports.

The exports carry one flat record per row (`flat_rows`), so a spreadsheet or
`pandas.read_csv` / `pandas.read_json` gets the same columns for every benchmark (empty where a
figure does not apply). Markdown repeats the terminal's tables, formatted, for READMEs.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable

import rich.markup
from rich import box
from rich.table import Table
from rich.text import Text

from harness import benchmarks, metrics, versions
from harness.config import PROFILES
from harness.metrics import fmt
from harness.report.accuracy import accuracy_text, note as accuracy_note
from harness.report.groups import Comparison, Group, Section
from harness.report.ranking import TIE_MARK, TIE_NOTE, Spread
from harness.report.reference import GPUS, YEAR

COMPARE_NOTE = ("ratio = this set's median time / the baseline's (for a throughput, the "
                "baseline's / this set's): < 1: faster now. noise: the two sets' min-max ranges "
                "(over every timed window or pass) overlap. '?': a single run on one side, so "
                "no spread to judge by - rerun with --repeat 3.")


def escape(text: str) -> str:
    """Literal text inside rich markup (`pip install -e ".[tensorflow]"` keeps its brackets)."""
    return rich.markup.escape(text)


def title(benchmark: str) -> str:
    """A benchmark's title; a stored record of a benchmark this harness does not know keeps
    its name."""
    known = benchmarks.REGISTRY.get(benchmark)
    return known.title if known else benchmark


def section_heading(section: Section) -> str:
    data = "SYNTHETIC data" if section.data == "synthetic" else f"{section.data} data"
    return (f"{title(section.benchmark)} - {section.device} "
            f"- profile {section.profile} - {data}")


def row_name(group: Group) -> str:
    return group.impl if group.variant == "default" else f"{group.impl} ({group.variant})"


def spread_text(spread: Spread | None) -> str:
    if spread is None or spread.n < 2:
        return "-"
    return f"{fmt(spread.low)}-{fmt(spread.high)}"


def columns_of(benchmark: str) -> list[metrics.Metric]:
    """The benchmark's metric columns, its headline first (harness.metrics)."""
    return metrics.for_benchmark(benchmarks.get(benchmark))


def reference_gpus(section: Section) -> list[str]:
    return [gpu for gpu in GPUS if any(gpu in g.reference for g in section.groups)]


def table_columns(section: Section) -> list[metrics.Metric]:
    """The table's metric columns after the headline: those shown in tables that some row has
    a figure for (device memory on a CPU only takes width; the exports keep every column)."""
    _, *others = columns_of(section.benchmark)
    return [m for m in others if m.table and any(g.metric(m.key) for g in section.groups)]


def display_rows(section: Section) -> tuple[list[str], list[list[str]]]:
    """Headers and plain-text cells of one table (terminal and Markdown alike), rows in ranking
    order (harness.report.ranking); the status cell points at `section_notes`' numbers."""
    headline = columns_of(section.benchmark)[0]
    others = table_columns(section)
    headers = ["implementation", headline.label, "min-max"] + [m.label for m in others]
    headers.append("x fastest")
    gpus = reference_gpus(section)
    headers += [f"{gpu} {YEAR[gpu]}" for gpu in gpus]
    verified = any(g.verified for g in section.groups)
    headers += ["verify"] * verified + ["runs", "status"]
    footnotes = numbered_notes(section)
    rows = []
    for g in section.groups:
        name = f"{TIE_MARK} {row_name(g)}" if g.tied else row_name(g)
        cells = [name, headline.format(g.headline.median) if g.headline else "-",
                 spread_text(g.headline)]
        for metric in others:
            spread = g.metric(metric.key)
            if metric.key == "accuracy":
                cells.append(accuracy_text(g.benchmark, g.data, g.profile, spread))
            elif metric.key == PEAK_KEY and over_peak(g):
                cells.append("> 100")  # not a result: numbered_notes says why
            else:
                cells.append(metric.format(spread.median) if spread else "-")
        cells.append(f"{g.ratio:.2f}" if g.ratio is not None else "-")
        cells += [fmt(g.reference[gpu].value) if gpu in g.reference else "-" for gpu in gpus]
        if verified:
            cells.append(g.verified.cell if g.verified else "not verified")
        marks = "".join(f" [{n}]" for n, (group, _) in enumerate(footnotes, 1) if group is g)
        cells += [f"{len(g.ok)}/{len(g.runs)}", g.status + marks]
        rows.append(cells)
    return headers, rows


PEAK_KEY = "pct_of_measured_peak"


def over_peak(g: Group) -> str | None:
    """Why a row's "% of peak" above 100 is no result, or None. The model's layers ran faster
    than the row's own matrix-multiply calibration, so the calibration did not reach the peak of
    the library path those layers use (MXNet's `dot` on its bundled BLAS beside oneDNN
    convolutions, for one)."""
    spread = g.metric(PEAK_KEY)
    if spread is None or spread.median <= 100:
        return None
    return (f"% of peak {spread.median:.0f} is above 100, so the row's matrix-multiply "
            "calibration is slower than its model's own layers and is not this machine's "
            "peak for them: no result (GFLOP/s in the exports)")


def numbered_notes(section: Section) -> list[tuple[Group, str]]:
    """The table's numbered footnotes: each distinct failure reason of a row, and each row
    measured on a busy machine (harness.run.load), so that long text never widens a table."""
    notes: list[tuple[Group, str]] = []
    for g in section.groups:
        notes += [(g, f"{row_name(g)}: {reason}") for reason in g.failure_reasons]
        if g.verified and not g.verified.passed:
            notes.append((g, f"{row_name(g)}: {g.verified.detail}"))
        if over_peak(g):
            notes.append((g, f"{row_name(g)}: {over_peak(g)}"))
        if g.busy:
            most = max(float((r.get("load") or {}).get("other_cores") or 0) for r in g.busy)
            notes.append((g, f"{row_name(g)}: {len(g.busy)} of {len(g.ok)} run(s) measured on a "
                             f"busy machine (other processes used up to {most:.2f} cores): "
                             f"rerun on a quiet machine"))
    return notes


def section_notes(section: Section) -> list[str]:
    """Below a table: what each row ran (framework, version, precision), then the numbered
    footnotes its status cells point at."""
    notes = []
    for g in section.groups:
        what = " ".join(filter(None, (g.framework, g.framework_version)))
        if g.precision:
            what += f", {g.precision}"
        if g.attention:
            what += f"; attention {g.attention}"
        notes.append(f"{row_name(g)}: {what or 'framework not recorded'}")
    notes += [f"[{n}] {text}" for n, (_, text) in enumerate(numbered_notes(section), 1)]
    return notes


# Two-line headers keep the terminal table narrow (a metric's come from harness.metrics).
SHORT_HEADERS = {"x fastest": "x\nfastest", "K80 2017": "K80\n2017", "P100 2018": "P100\n2018",
                 "implementation": "implementation", "min-max": "min-max",
                 **{m.label: m.header for m in metrics.METRICS}}


def rich_table(section: Section, heading: str | None = None) -> Table:
    """One section as a rich table, compact enough for a 120-column terminal."""
    headers, rows = display_rows(section)
    heading = heading or escape(section_heading(section)).replace(
        "SYNTHETIC data", "[bold yellow]SYNTHETIC data[/]")
    notes = "\n".join(escape(n) for n in section_notes(section))
    # At least as wide as its heading (where the console allows), so that a long CPU name
    # does not wrap the heading mid-phrase.
    table = Table(title=heading, title_justify="left", header_style="bold",
                  caption=notes, caption_justify="left", caption_style="dim",
                  box=box.SIMPLE_HEAD, pad_edge=False,
                  min_width=Text.from_markup(heading).cell_len)
    for header in headers:
        text = header in ("implementation", "status")
        table.add_column(SHORT_HEADERS.get(header, header),
                         justify="left" if text else "right", no_wrap=not text,
                         style="cyan" if header == "implementation" else None,
                         overflow="fold")
    for cells in rows:
        status = cells[-1]
        colour = ("green" if status == "ok" else "yellow" if status[0].isdigit()
                  or status.startswith("ok") else "red")
        table.add_row(*map(escape, cells[:-1]), Text(status, style=colour))
    return table


def rich_tables(sections: list[Section]) -> list[Table]:
    return [rich_table(section) for section in sections]


def table_footnote(sections: list[Section]) -> str:
    lines = ["Rows are ranked by the first figure (steady state: the median over every timed "
             "window or pass of every run); min-max: its spread. x fastest: how many times "
             "slower than the first row. runs: ok/total.", TIE_NOTE]
    if any(s.data == "synthetic" or s.profile == "full" for s in sections) and any(
            benchmarks.get(s.benchmark).training for s in sections):
        lines.append(accuracy_note())
    if any(reference_gpus(s) for s in sections):
        lines.append("K80 2017 / P100 2018: what the original project (ilkarman/"
                     "DeepLearningFrameworks) printed for the same benchmark on those GPUs: "
                     "10 CNN / 3 GRU epochs in s, or s per 1000 images "
                     "(harness/report/reference_data/README.md).")
    elif any(s.profile != "full" for s in sections):
        lines.append("The original project's K80/P100 figures appear beside full-profile rows "
                     "only (a quick or smoke run is not the same workload).")
    if any(s.profile == "smoke" for s in sections):
        lines.append(f"Profile smoke: {PROFILES['smoke']}.")
    # Versions outside the tested set; CPU runs on a machine with a GPU (harness.versions).
    lines += versions.result_notes(r for s in sections for g in s.groups for r in g.runs)
    return "\n".join(escape(line) for line in lines)


# ---------------------------------------------------------------- exports

FLAT_COLUMNS = [
    "benchmark", "device", "profile", "data", "impl", "variant", "framework",
    "framework_version", "precision", "metric", "median", "min", "max", "runs", "ok_runs",
    "ratio_to_fastest", *(m.key for m in metrics.METRICS),
    *(f"ref_{gpu.lower()}" for gpu in GPUS), "status", "failures",
]


def flat_rows(sections: list[Section]) -> list[dict[str, Any]]:
    """One record per row, the same keys for every benchmark (None where not applicable)."""
    rows = []
    for section in sections:
        for g in section.groups:
            headline = g.headline
            row: dict[str, Any] = {
                "benchmark": g.benchmark, "device": g.device, "profile": g.profile,
                "data": g.data, "impl": g.impl, "variant": g.variant,
                "framework": g.framework, "framework_version": g.framework_version,
                "precision": g.precision, "metric": g.headline_key,
                "median": headline.median if headline else None,
                "min": headline.low if headline else None,
                "max": headline.high if headline else None,
                "runs": len(g.runs), "ok_runs": len(g.ok), "ratio_to_fastest": g.ratio,
            }
            for metric in metrics.METRICS:
                spread = g.metric(metric.key)
                row[metric.key] = spread.median if spread else None
            for gpu in GPUS:
                row[f"ref_{gpu.lower()}"] = g.reference[gpu].value if gpu in g.reference \
                    else None
            row["status"] = g.status
            row["failures"] = "; ".join(g.failure_reasons) or None
            rows.append(row)
    return rows


def export(sections: list[Section], fmt_name: str) -> str:
    if fmt_name == "markdown":
        return markdown(sections)
    return _write(flat_rows(sections), FLAT_COLUMNS, fmt_name)


def markdown(sections: list[Section]) -> str:
    parts = []
    for section in sections:
        headers, rows = display_rows(section)
        notes = "\n".join(f"- {note}" for note in section_notes(section))
        parts.append(f"### {section_heading(section)}\n\n{_pipe_table(headers, rows)}\n\n"
                     f"{notes}")
    notes = table_footnote(sections).replace("\\[", "[")
    return "\n\n".join(parts) + "\n\n" + "\n\n".join(notes.splitlines()) + "\n"


def _pipe_table(headers: list[str], rows: Iterable[list[str]]) -> str:
    def line(cells: Iterable[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---" if h in ("implementation", "framework", "status", "verdict") else "---:"
             for h in headers]
    return "\n".join([line(headers), line(align), *(line(r) for r in rows)])


def _write(rows: list[dict[str, Any]], columns: list[str], fmt_name: str) -> str:
    if fmt_name == "json":
        return json.dumps(rows, indent=1) + "\n"
    if fmt_name != "csv":
        raise ValueError(f"unknown export format {fmt_name!r}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


# ---------------------------------------------------------------- comparisons

COMPARE_COLUMNS = [
    "benchmark", "impl", "variant", "profile", "data", "metric", "baseline_device",
    "baseline_framework_version", "baseline_median", "baseline_min", "baseline_max",
    "baseline_runs", "this_device", "this_framework_version", "this_median", "this_min",
    "this_max", "this_runs", "ratio", "verdict",
]


def comparison_rows(rows: list[Comparison]) -> list[dict[str, Any]]:
    flat = []
    for c in rows:
        record: dict[str, Any] = {"benchmark": c.benchmark, "impl": c.impl,
                                  "variant": c.variant, "profile": c.profile, "data": c.data,
                                  "metric": (c.this or c.base).headline_key}
        for side, group in (("baseline", c.base), ("this", c.this)):
            spread = group.headline if group else None
            record[f"{side}_device"] = group.device if group else None
            record[f"{side}_framework_version"] = group.framework_version if group else None
            record[f"{side}_median"] = spread.median if spread else None
            record[f"{side}_min"] = spread.low if spread else None
            record[f"{side}_max"] = spread.high if spread else None
            record[f"{side}_runs"] = f"{len(group.ok)}/{len(group.runs)}" if group else None
        record["ratio"] = c.ratio
        record["verdict"] = c.verdict
        flat.append(record)
    return flat


def _side(group: Group | None) -> str:
    if group is None:
        return "-"
    spread = group.headline
    if spread is None:
        return f"{group.status} (0/{len(group.runs)})"
    text = fmt(spread.median)
    if spread.n > 1:
        text += f" ({fmt(spread.low)}-{fmt(spread.high)})"
    return f"{text} n={spread.n}"


def comparison_display(rows: list[Comparison], this_name: str, base_name: str
                       ) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per benchmark: headers and cells."""
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    for c in rows:
        unit = metrics.get(benchmarks.get(c.benchmark).headline).label
        headers = ["implementation", "profile", "data", "device (baseline -> this)",
                   f"baseline: {unit}", f"this: {unit}", "ratio", "verdict"]
        devices = [g.device for g in (c.base, c.this) if g]
        device = devices[0] if len(set(devices)) == 1 else " -> ".join(devices)
        name = c.impl if c.variant == "default" else f"{c.impl} ({c.variant})"
        cells = [name, c.profile, c.data, device, _side(c.base), _side(c.this),
                 f"{c.ratio:.2f}" if c.ratio is not None else "-", c.verdict]
        tables.setdefault(c.benchmark, (headers, []))[1].append(cells)
    return tables


def comparison_tables(rows: list[Comparison], this_name: str, base_name: str) -> list[Table]:
    tables = []
    for benchmark, (headers, cells) in comparison_display(rows, this_name, base_name).items():
        table = Table(title=f"{escape(title(benchmark))}: this = "
                            f"{escape(this_name)}, baseline = {escape(base_name)}",
                      title_justify="left", header_style="bold")
        for header in headers:
            table.add_column(header, justify="right" if header.startswith(
                ("baseline", "this", "ratio")) else "left",
                style="cyan" if header == "implementation" else None, overflow="fold")
        for row in cells:
            table.add_row(*map(escape, row))
        tables.append(table)
    return tables


def export_comparison(rows: list[Comparison], fmt_name: str, this_name: str,
                      base_name: str) -> str:
    if fmt_name == "markdown":
        parts = [f"### {title(b)}: this = {this_name}, baseline = "
                 f"{base_name}\n\n"
                 f"{_pipe_table(headers, cells)}"
                 for b, (headers, cells) in comparison_display(rows, this_name,
                                                               base_name).items()]
        return "\n\n".join(parts) + f"\n\n- {COMPARE_NOTE}\n"
    return _write(comparison_rows(rows), COMPARE_COLUMNS, fmt_name)
