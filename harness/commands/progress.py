"""The progress lines of a run command, one per run in flight or done: what it is doing (queued,
running on a node, epoch 3/10, step 24/50 of an epoch and its pace, done). Both executors
report through it (harness.run.executor's Display), so a local run and a Slurm job look the same
on the terminal."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn,
                           TimeElapsedColumn)

from harness import benchmarks, metrics
from harness.commands.terminal import console
from harness.run.executor import PlannedRun, Record


class RunDisplay:
    def __init__(self, profile: str, repeats: int, show_partition: bool = False) -> None:
        self.profile = profile
        self.repeats = repeats
        self.show_partition = show_partition
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                                 TimeElapsedColumn(), console=console)
        self.totals: dict[TaskID, int] = {}

    def __enter__(self) -> "RunDisplay":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def add(self, run: PlannedRun, note: str) -> TaskID:
        variant = run.impl.options.get("variant", "default")
        label = f"{run.benchmark} · {run.impl.name}" + (
            f" ({variant})" if variant != "default" else "")
        if self.repeats > 1:
            label += f" #{run.repeat + 1}"
        if self.show_partition and run.partition:
            label += f" @{run.partition}"
        total = steps(run.benchmark, self.profile)
        handle = self.progress.add_task(escape(label), total=total, note=escape(note))
        self.totals[handle] = total
        return handle

    def note(self, handle: TaskID, text: str) -> None:
        self.progress.update(handle, note=escape(text))

    def event(self, handle: TaskID, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "phase":
            self.progress.update(handle, note=escape(str(event["phase"])))
        elif kind == "window":  # inside an epoch: how far, and the pace of the last window
            self.progress.update(handle, note=f"epoch {event['epoch']}, step {event['step']}/"
                                 f"{event['steps']}: {event['seconds_per_step']:.3f} s a step")
        elif kind == "epoch":
            self.progress.update(handle, advance=1, note=f"epoch {event['epoch']}/"
                                 f"{event['epochs']}: {event['seconds']:.2f} s")
        elif kind == "evaluated":
            self.progress.update(handle, advance=1, note=f"accuracy {event['accuracy']:.3f}")
        elif kind == "pass":
            self.progress.update(handle, advance=1,
                                 note=f"pass {event['pass']}: {event['seconds']:.2f} s")

    def finished(self, handle: TaskID, record: Record) -> None:
        status = record.get("status")
        if record.get("run_id"):  # a stored run: its figure now, above the lines in flight
            self.progress.console.print(result_line(record), soft_wrap=True)
        if status == "ok":
            self.progress.update(handle, completed=self.totals[handle], note="[green]done")
        elif status == "interrupted":
            self.progress.update(handle, note="[yellow]interrupted")
        else:
            self.progress.update(handle, note=f"[red]{escape(str(status))}")

    def unsaved(self, record: Record, problem: str) -> None:
        console.print(f"[red]{escape(problem)}; the record, so that it is not lost (append it "
                      f"to a results file to keep it):[/]", soft_wrap=True)
        console.print(json.dumps(record, default=str), markup=False, highlight=False,
                      soft_wrap=True)


def result_line(record: Record) -> str:
    """'cnn · pytorch: 392 samples/s' (with where a Slurm job ran), or the failure's reason."""
    variant = record.get("variant") or "default"
    label = escape(f"{record['benchmark']} · {record['impl']}"
                   + (f" ({variant})" if variant != "default" else ""))
    placement = record.get("slurm") or {}
    where = (escape(f" (Slurm job {placement.get('job_id')} on {placement.get('node') or '?'}"
                    f", partition {placement.get('partition')})") if placement else "")
    if record.get("status") != "ok":
        reason = str(record.get("reason") or "")
        reason = reason if len(reason) <= 120 else reason[:117] + "..."
        return f"[red]{label}: {escape(str(record.get('status')))}[/]{where}: {escape(reason)}"
    metric = metrics.get(benchmarks.get(record["benchmark"]).headline)
    figure = escape(f"{metric.format(metric.value(record))} {metric.unit}")
    return f"[green]{label}[/]: {figure}{where}"


def steps(benchmark: str, profile: str) -> int:
    """Progress-bar steps: each epoch and the evaluation, or the build and each timed pass."""
    record = benchmarks.get(benchmark)
    if record.training:
        return record.epochs(profile) + 1
    return 1 + record.config_for(profile).passes
