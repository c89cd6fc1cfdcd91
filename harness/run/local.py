"""The local executor (`--executor local`, the default): every planned run on this machine, one
after another, each in a fresh child process (harness.run.runner.run_one), so that no two runs
share the machine while they are timed."""

from __future__ import annotations

from harness.run import processes
from harness.run.executor import Display, PlannedRun, PlanOutcome, Record
from harness.run.runner import (ResultNotSaved, RunSettings, StopRequest, interrupted_record,
                                run_one, stop_signals_as_request)


def run_plan(plan: list[PlannedRun], settings: RunSettings, display: Display,
             records: dict[str, list[Record]]) -> PlanOutcome:
    """Each planned run in turn, its record added to `records[benchmark]` (and appended to the
    results file). A stop signal (Ctrl-C, SIGTERM, SIGHUP) ends the run in progress and the
    plan: the runs it ended or never started come back as interrupted rows, stored nowhere."""
    unsaved = 0
    with stop_signals_as_request() as stop:
        try:
            for run in plan:
                if stop.is_set():
                    records[run.benchmark].append(
                        interrupted_record(run.impl, run.benchmark, run.repeat, stop.cause))
                    continue
                record, saved = _run_shown(run, settings, display, stop)
                records[run.benchmark].append(record)
                unsaved += not saved
        except OSError:  # the terminal is gone (a closed session's SIGHUP): records are kept
            if not stop.is_set():
                raise
    return PlanOutcome(stop if stop.is_set() else None, unsaved)


def run_settled(plan: list[PlannedRun], settings: RunSettings, display: Display,
                records: dict[str, list[Record]], settle: bool) -> PlanOutcome:
    """`run_plan`; then, with `settle` (the profile's own process count), one more run of each
    row whose processes disagree beyond their spreads (harness.run.processes), unless stopped."""
    outcome = run_plan(plan, settings, display, records)
    more = ([] if not settle or outcome.stopped_by else
            processes.one_more_where_they_disagree(plan, records))
    if not more:
        return outcome
    extra = run_plan(more, settings, display, records)
    return PlanOutcome(extra.stopped_by, outcome.unsaved + extra.unsaved)


def _run_shown(run: PlannedRun, settings: RunSettings, display: Display, stop: StopRequest
               ) -> tuple[Record, bool]:
    """One run with its progress line: its record and whether it was appended."""
    handle = display.add(run, "starting")
    try:
        record = run_one(run.impl, run.benchmark, run.repeat, settings,
                         on_event=lambda e: display.event(handle, e), stop=stop)
    except KeyboardInterrupt:
        stop.set()  # a second signal, or one outside a child's run
        record = interrupted_record(run.impl, run.benchmark, run.repeat, stop.cause)
        display.finished(handle, record)
        return record, True
    except ResultNotSaved as error:
        display.unsaved(error.record, str(error))
        display.finished(handle, error.record)
        return error.record, False
    display.finished(handle, record)
    return record, True
