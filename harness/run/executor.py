"""What an executor is: the part of a run command that takes the plan - every (implementation,
benchmark, repeat) that is ready - runs each in a fresh worker process, and appends one record
per finished run to the results file, itself being the only writer.

Two executors share this shape: `harness.run.local` runs the plan here, one run after another;
`harness.run.slurm.executor` submits each run as a Slurm job and collects the records as jobs
finish. The command (harness.commands.run) builds the plan and prints the tables; it shows
progress through a `Display`, so that neither executor knows about the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from harness.registry import Row
from harness.run.runner import StopRequest

Record = dict[str, Any]


@dataclass(frozen=True)
class PlannedRun:
    benchmark: str
    impl: Row
    repeat: int
    partition: str | None = None  # Slurm only: the partition this run goes to (None: default)


class Display(Protocol):
    """Progress of the runs in flight, one line each (harness.commands.progress)."""

    def add(self, run: PlannedRun, note: str) -> Any:
        """A line for `run`; returns its handle."""

    def note(self, handle: Any, text: str) -> None:
        """What the run is doing now (queued, running on node X, ...)."""

    def event(self, handle: Any, event: dict[str, Any]) -> None:
        """A progress event of the worker (harness.protocol: phase, epoch, evaluated, pass)."""

    def finished(self, handle: Any, record: Record) -> None:
        """The run ended with `record` (ok, failed, interrupted, ...)."""

    def unsaved(self, record: Record, problem: str) -> None:
        """The record could not be appended to the results file: show it so it is not lost."""


@dataclass
class PlanOutcome:
    stopped_by: StopRequest | None  # the stop signal that ended the plan early, if one did
    unsaved: int  # records that could not be appended (each was shown through the display)
