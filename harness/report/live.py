"""The results table printed at the end of every benchmark command, from the run's own records.

The same tables as `report` (harness.report.groups and .render, ranked and ties marked by
harness.report.ranking): rows that ran, in ranking order, one table per device; a row whose runs
all failed stays in its table with a numbered footnote saying why. Rows that could not run here
collapse into one line below, so that a machine with one framework installed shows one row,
not a dozen skipped ones."""

from __future__ import annotations

from typing import Any

from rich.console import Group as Renderables
from rich.console import RenderableType
from rich.text import Text

from harness import benchmarks
from harness.report.accuracy import note as accuracy_note
from harness.report.groups import build_sections, status_of
from harness.report.ranking import TIE_NOTE
from harness.report.render import escape, rich_table

NOT_RUN = ("skipped", "interrupted")


def labelled(record: dict[str, Any]) -> str:
    """The row's name as the tables show it: `pytorch`, `pytorch (bf16-mixed)`."""
    variant = record.get("variant") or "default"
    return record["impl"] if variant == "default" else f"{record['impl']} ({variant})"


def not_run_line(records: list[dict[str, Any]]) -> str | None:
    """'3 not run: a, b, c - see `python -m harness list`' (interrupted runs named apart; a
    row skipped for a reason `list` does not give, such as a precision it lacks, with it)."""
    parts = []
    skipped = [r for r in records if status_of(r) == "skipped"]
    listed = list(dict.fromkeys(labelled(r) for r in skipped if r.get("in_list", True)))
    if listed:
        parts.append(f"{len(listed)} not run: {', '.join(listed)} - see "
                     f"`python -m harness list` for why and how to install them")
    parts += list(dict.fromkeys(f"{labelled(r)} not run: {r.get('reason')}"
                                for r in skipped if not r.get("in_list", True)))
    stopped = list(dict.fromkeys(labelled(r) for r in records if status_of(r) == "interrupted"))
    if stopped:
        parts.append(f"{len(stopped)} interrupted: {', '.join(stopped)}")
    return "; ".join(parts) or None


def results_table(benchmark: str, records: list[dict[str, Any]], profile: str,
                  data: str) -> RenderableType:
    record = benchmarks.get(benchmark)
    data_note = "[bold yellow]SYNTHETIC data[/]" if data == "synthetic" else f"{data} data"
    parts: list[RenderableType] = []
    for section in build_sections(records, with_reference=False):
        heading = (f"{escape(record.title)}\n{escape(section.device)} · profile "
                   f"{escape(profile)} · {data_note}")
        parts.append(rich_table(section, heading))
    line = not_run_line(records)
    if not parts:
        parts.append(Text(record.title, style="bold"))
    if line:
        parts.append(Text(line, style="yellow"))
    return Renderables(*parts)


def legend(records: list[dict[str, Any]]) -> str:
    """How to read the tables, once under them."""
    lines = ["Rows ranked by the first figure: the steady state's median over every timed "
             "window or pass; min-max: its spread; compile + warm-up s: the first window "
             "(training) or the warm-up batches (inference), outside the figure.", TIE_NOTE]
    if any(benchmarks.REGISTRY.get(r.get("benchmark", "")) and
           benchmarks.get(r["benchmark"]).training for r in records):
        lines.append(accuracy_note())
    return escape("\n".join(lines))
