"""The parent side of a benchmark run: one fresh child process per (implementation, benchmark,
repeat), a timeout for each, and a result record for each, whatever happened to the child.

The parent never imports a framework. A crash, a hang past the timeout, an out-of-memory kill
or an import error becomes a failed record with its reason, and the next run goes on. Ctrl-C,
SIGTERM or SIGHUP stops the child in progress (its whole process group), keeps every finished
record, and ends the plan early.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from harness import benchmarks
from harness.run.child import (child_environment, interpreter_for, last_line, read_json,
                                run_module)
from harness.run.host import host_environment
from harness.run.job import Job
from harness.run.load import machine_load, snapshot
from harness.registry import Row
from harness.run.results import SCHEMA, append_result

Event = dict[str, Any]


@dataclass
class ChildOutcome:
    status: str  # "ok", "failed", "timeout", "crashed", "interrupted"
    reason: str | None
    outcome: dict[str, Any]
    returncode: int | None
    wall_s: float
    load: dict[str, Any] | None = None  # harness.run.load.machine_load


# Ctrl-C, `kill` (and a service manager's stop), a closed terminal or SSH session.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequest(threading.Event):
    """Set when the parent was asked to stop; says by which signal."""

    signum: int = signal.SIGINT

    @property
    def cause(self) -> str:
        return "Ctrl-C" if self.signum == signal.SIGINT else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


@contextmanager
def stop_signals_as_request() -> Iterator[StopRequest]:
    """Within this block the first Ctrl-C, SIGTERM or SIGHUP only sets the returned event; a
    second one interrupts at once. A KeyboardInterrupt raised at an arbitrary point of the parent
    can land between a lock's acquisition and its `with` block (rich's live display, a queue) and
    leave the lock held, deadlocking the display's refresh thread at exit - the likely cause of
    the one time the parent did not exit after Ctrl-C (a loaded machine; not reproduced since).
    With the event, `run_child` stops the child's process group and raises KeyboardInterrupt
    where no lock is held. A signal the parent was started ignoring (`nohup`) stays ignored."""
    requested = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield requested  # signal handlers can only be set from the main thread
        return

    def first(signum: int, frame: Any) -> None:
        requested.signum = signum
        requested.set()
        for sig in handled:  # the second raises KeyboardInterrupt, whichever signal it is
            signal.signal(sig, signal.default_int_handler)

    handled = [sig for sig in STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]
    previous = {sig: signal.signal(sig, first) for sig in handled}
    try:
        yield requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_child(job: Job, *, python: str, env: dict[str, str], timeout: float, log_path: Path,
              on_event: Callable[[Event], None] = lambda e: None,
              stop: threading.Event | None = None,
              calibration: dict[str, Any] | None = None) -> ChildOutcome:
    """Run one job in a fresh process (harness.run.child); never raises for anything the child
    does. When `stop` is set (a stop signal under `stop_signals_as_request`) the child is killed
    and KeyboardInterrupt raised."""
    job_path = log_path.with_suffix(".job.json")
    result_path = log_path.with_suffix(".result.json")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    job.save(job_path)
    args = [str(job_path), str(result_path), "--spawned-at", repr(time.time())]
    if calibration:
        args += ["--calibration", json.dumps(calibration)]
    before = snapshot()
    done = run_module(python, "harness.run.worker", args,
                      env=child_environment(env), timeout=timeout, log_path=log_path,
                      on_event=on_event, stop=stop)
    load = machine_load(before, snapshot(), done.wall_s)
    outcome = read_json(result_path)
    rc, wall_s = done.returncode, done.wall_s
    if done.timed_out:
        return ChildOutcome("timeout", f"timed out after {timeout:g} s and was killed",
                            outcome, rc, wall_s, load)
    if rc == 0 and "error" not in outcome and outcome:
        return ChildOutcome("ok", None, outcome, rc, wall_s, load)
    if "error" in outcome:
        return ChildOutcome("failed", outcome["error"], outcome, rc, wall_s, load)
    if rc is not None and rc < 0:
        name = signal.Signals(-rc).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return ChildOutcome("crashed", f"killed by {name}{hint}; log: {log_path}", outcome, rc,
                            wall_s)
    return ChildOutcome("crashed", f"exited with code {rc} without a result: "
                        f"{last_line(log_path)}", outcome, rc, wall_s)


@dataclass
class RunSettings:
    profile: str
    data: str
    device: str
    timeout: float
    results: Path
    data_dir: str | None = None
    weights: str | None = None
    seed: int = 0
    # Calibrations measured in this command, by (row, device): later runs of a row reuse its
    # calibration instead of spending 1-1.4 s each on it again (harness.run.utilisation).
    calibrations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def make_record(impl: Row, job: Job, child: ChildOutcome, started: datetime,
                settings: RunSettings, run_id: str, log_path: Path,
                host: dict[str, Any] | None = None, executor: str = "local",
                slurm: dict[str, Any] | None = None) -> dict[str, Any]:
    """One results line: what ran, how it went, its figures and its environment. `host` is the
    machine that ran it (default: this one); a Slurm job's record also says where and how it
    ran (`slurm`: job id, partition, node, what it had to itself, its overhead)."""
    out = child.outcome if child.status == "ok" else {}
    extra = out.get("extra", {}) or {}
    return {
        "schema": SCHEMA, "run_id": run_id,
        "benchmark": job.benchmark, "impl": impl.name,
        "variant": impl.options.get("variant", "default"), "description": impl.description,
        "framework": out.get("framework", impl.framework),
        "framework_version": out.get("framework_version"),
        "language": out.get("language", impl.language),
        "language_version": out.get("language_version"),
        "status": child.status, "reason": child.reason, "repeat": job.repeat,
        "profile": settings.profile,
        "data": out.get("data", "synthetic" if benchmarks.get(job.benchmark).synthetic_only
                        else settings.data),
        "device": out.get("device", settings.device), "device_name": out.get("device_name"),
        "precision": out.get("precision"), "cudnn": out.get("cudnn"),
        "attention": out.get("attention"),
        "timings": out.get("timings"), "accuracy": out.get("accuracy"),
        **{k: out.get(k) for k in ("n_train", "n_test", "epochs", "batch_size",
                                   "steps_per_epoch", "steps_run", "windows", "n_images",
                                   "passes", "feature_shape",
                                   "weights", "utilisation", "memory") if k in out},
        "env": {**(host_environment() if host is None else host), "framework_extra": extra,
                "seed": job.seed},
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(child.wall_s, 3), "wall": wall_of(out, child.wall_s),
        "load": child.load, "log": str(log_path),
        "executor": executor, **({"slurm": slurm} if slurm is not None else {}),
    }


def wall_of(outcome: dict[str, Any], wall_s: float) -> dict[str, Any] | None:
    """Where the run's wall time went: the child's phases (harness.run.worker.wall_split), and
    `other_s`, what they leave unexplained (writing the result, process exit, a kill)."""
    split = outcome.get("wall")
    if not isinstance(split, dict):
        return None
    parts = {k: v for k, v in split.items() if isinstance(v, (int, float))}
    return {**parts, "total_s": wall_s, "other_s": max(0.0, wall_s - sum(parts.values()))}


def new_run_id(benchmark: str, impl: str, repeat: int) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{benchmark}-{impl}-r{repeat}-{uuid.uuid4().hex[:6]}"


class ResultNotSaved(Exception):
    """A run finished but its record could not be appended (disk full, read-only): the record
    travels with the error so that the caller can show it rather than lose it."""

    def __init__(self, record: dict[str, Any], path: Path, error: OSError) -> None:
        super().__init__(f"could not append to {path}: {error.strerror or error}")
        self.record = record


def run_one(impl: Row, benchmark: str, repeat: int, settings: RunSettings,
            on_event: Callable[[Event], None] = lambda e: None,
            python: str | None = None, stop: threading.Event | None = None) -> dict[str, Any]:
    """Run one (implementation, benchmark, repeat) in a child and append its record (or raise
    ResultNotSaved with it); an interrupted run (KeyboardInterrupt, see `run_child`'s `stop`)
    appends nothing."""
    job = job_for(impl, benchmark, repeat, settings)
    run_id = new_run_id(benchmark, impl.name, repeat)
    log_path = log_path_for(settings, run_id)
    started = datetime.now(timezone.utc)
    key = (impl.name, settings.device)
    child = run_child(job, python=python or interpreter_for(impl.environment), env=dict(impl.env),
                      timeout=settings.timeout, log_path=log_path, on_event=on_event, stop=stop,
                      calibration=settings.calibrations.get(key))
    record = make_record(impl, job, child, started, settings, run_id, log_path)
    calibration = ((record.get("utilisation") or {}).get("calibration") or {})
    if calibration.get("flops_per_s") and not calibration.get("reused"):
        settings.calibrations[key] = calibration
    save_record(settings, record)
    return record


def job_for(impl: Row, benchmark: str, repeat: int, settings: RunSettings) -> Job:
    """What the worker is told to run, whichever executor starts it."""
    return Job(benchmark=benchmark, impl=impl.name, entry_point=impl.entry_points[benchmark],
               options=dict(impl.options), device=settings.device, profile=settings.profile,
               data=settings.data, data_dir=settings.data_dir, weights=settings.weights,
               seed=settings.seed, repeat=repeat)


def log_path_for(settings: RunSettings, run_id: str) -> Path:
    """The run's log (the worker's output), in `logs/` beside the results file."""
    return settings.results.parent / "logs" / f"{run_id}.log"


def save_record(settings: RunSettings, record: dict[str, Any]) -> None:
    """Append the record to the results file, or raise ResultNotSaved with it."""
    try:
        append_result(settings.results, record)
    except OSError as error:
        raise ResultNotSaved(record, settings.results, error) from error


def interrupted_record(impl: Row, benchmark: str, repeat: int, cause: str = "Ctrl-C"
                       ) -> dict[str, Any]:
    """A row for the table only (not stored): the run a stop signal ended, or never started."""
    return {"benchmark": benchmark, "impl": impl.name, "framework": impl.framework,
            "variant": impl.options.get("variant", "default"),
            "repeat": repeat, "status": "interrupted", "reason": f"stopped by {cause}",
            "timings": None, "accuracy": None}


def skipped_record(impl: Row, benchmark: str, reason: str, fix: str,
                   in_list: bool = True) -> dict[str, Any]:
    """A row for the table only: an implementation that cannot run here, and why. `in_list`:
    whether `python -m harness list` gives the reason (not for a precision the row lacks)."""
    text = f"{reason}; fix: {fix}" if fix else reason
    return {"benchmark": benchmark, "impl": impl.name, "framework": impl.framework,
            "variant": impl.options.get("variant", "default"),
            "repeat": 0, "status": "skipped", "reason": text, "timings": None,
            "accuracy": None, "in_list": in_list}
