"""What `verify` checks and how (the command's options and output: harness.commands.verify): does
each implementation compute the network docs/benchmarks.md §2-4 defines?

For each (implementation, benchmark), on a fixed seeded batch and the canonical seeded weights
(harness/verify/weights.py), in a fresh child process (harness/verify/worker.py), verify compares
with the float64 NumPy oracle (harness/verify/oracle/):

- training (CNN, GRU, Transformer): the logits with the initial weights; the loss and the weight update of
  one optimizer step with dropout off, then of a second step (momentum and Adam's moments only
  show from the second step on); the logits after the two steps;
- inference (ResNet-50): the 2048-d features.

Where a check fails and the implementation exposes intermediate activations, the first layer
whose output departs from the oracle's is named. What this proves and what it does not:
harness/verify/oracle/README.md.
"""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from harness import precision, registry
from harness.benchmarks import get as get_benchmark
from harness.run.child import child_environment, interpreter_for, read_json, run_module
from harness.run.host import host_environment
from harness.verify import init_rule
from harness.verify.case import Case, make_case
from harness.verify.checks import TOLERANCES, evaluate, first_divergence, precision_tier
from harness.verify.child_run import ChildRun


def run_child(impl: registry.Row, case_file: Path, benchmark: str, device: str,
              seed: int, timeout: float, log_dir: Path,
              stop: threading.Event | None = None) -> ChildRun:
    """One fresh process, as for a timed run (harness.run.child), computing in strict fp32
    where the libraries allow it (precision.STRICT_FP32_ENV: verify checks the function; the
    precision a timed run used is recorded with that run); never raises for anything
    the child does. When `stop` is set the child's group is killed and KeyboardInterrupt
    raised."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    base = log_dir / f"verify-{stamp}-{benchmark}-{impl.name}-{uuid.uuid4().hex[:6]}"
    log, out, report = (base.with_suffix(".log"), base.with_suffix(".out.npz"),
                        base.with_suffix(".report.json"))
    job = {"benchmark": benchmark, "entry_point": impl.entry_points[benchmark],
           "options": dict(impl.options), "device": device, "seed": seed,
           "case": str(case_file), "out": str(out), "report": str(report)}
    job_file = base.with_suffix(".job.json")
    job_file.write_text(json.dumps(job))
    done = run_module(interpreter_for(impl.environment), "harness.verify.worker", [str(job_file)],
                      env=child_environment({**precision.STRICT_FP32_ENV, **impl.env}), timeout=timeout,
                      log_path=log, stop=stop)
    error = f"timed out after {timeout:g} s and was killed; log: {log}" if done.timed_out \
        else None
    child_report = read_json(report)
    outputs: dict[str, np.ndarray] = {}
    if out.exists():
        with np.load(out) as f:
            outputs = {k: f[k] for k in f.files}
        out.unlink()
    error = error or child_report.get("error")
    if error is None and done.returncode != 0:
        error = f"the child exited with code {done.returncode} without a report; log: {log}"
    return ChildRun(outputs, child_report, error, log, done.wall_s)


@dataclass
class Settings:
    device: str = "auto"
    seed: int = 0
    timeout: float = 900.0
    results: Path | None = None
    image_size: int = 224
    batch: dict[str, int] = field(default_factory=dict)
    weights: str | None = None  # canonical ResNet-50 file instead of the seeded one
    weights_dir: Path | None = None
    precisions: list[str] = field(default_factory=lambda: [precision.DEFAULT])


def verify_one(impl: registry.Row, case: Case, case_file: Path,
               settings: Settings, log_dir: Path,
               stop: threading.Event | None = None) -> dict[str, Any]:
    started = datetime.now(timezone.utc)
    child = run_child(impl, case_file, case.benchmark, settings.device, settings.seed,
                      settings.timeout, log_dir, stop)
    info = child.report.get("info") or {}
    asked = impl.options.get("precision", precision.DEFAULT)
    tier = "bf16" if asked == precision.BF16_MIXED else precision_tier(info)
    checks, layers = evaluate(case, child, tier)
    checks += init_rule.evaluate(case.benchmark, child)
    made = [c for c in checks if c.passed is not None]
    unsupported = child.report.get("unsupported", {})
    # Figures of another precision must not pass as this one's (as in a timed run).
    wrong = None if child.error else precision.check(asked, info.get("precision"))
    error = child.error or wrong
    checks_failed = any(c.passed is False for c in made)
    if checks_failed or wrong:
        status = "failed"
    elif error:
        status = "error"
    elif len(made) < len(checks):
        status = "unsupported"
    else:
        status = "passed"
    divergence = first_divergence(layers)
    computed = [c for c in made if not c.name.startswith(init_rule.PREFIX)]
    if checks_failed and divergence is None and all(c.passed for c in computed):
        divergence = ("none in the computation: the weights the row builds itself break the "
                      "initialisation rule (docs/benchmarks.md §3)")
    elif checks_failed and divergence is None:
        divergence = ("not located: the implementation exposes no activations"
                      if not layers else "none: every layer's forward output agrees; the "
                      "difference is in the training step")
    return {
        "record": "verify", "schema": 1,
        "run_id": f"{started.strftime('%Y%m%dT%H%M%S')}-verify-{case.benchmark}-{impl.name}-"
                  f"{uuid.uuid4().hex[:6]}",
        "benchmark": case.benchmark, "impl": impl.name,
        "variant": impl.options.get("variant", "default"), "asked_precision": asked,
        "framework": info.get("framework", impl.framework),
        "framework_version": info.get("framework_version"),
        "language": info.get("language", impl.language),
        "language_version": info.get("language_version"),
        "device": info.get("device", settings.device), "device_name": info.get("device_name"),
        "precision": info.get("precision"), "tier": tier, "tolerances": TOLERANCES[tier],
        "status": status, "reason": error, "unsupported": unsupported,
        "checks": [c.as_dict() for c in checks], "layers": [c.as_dict() for c in layers],
        "first_divergence": divergence if checks_failed else None,
        "case": case.description, "env": {**host_environment(), "strict_fp32_env": precision.STRICT_FP32_ENV},
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(child.wall_s, 3), "log": str(child.log),
    }


def skipped(impl: registry.Row, benchmark: str, reason: str) -> dict[str, Any]:
    return {"record": "verify", "benchmark": benchmark, "impl": impl.name,
            "variant": impl.options.get("variant", "default"), "framework": impl.framework,
            "status": "skipped", "reason": reason, "checks": [], "layers": []}


def verify(names: list[str], benchmarks: list[str], settings: Settings,
           on_record: Callable[[dict[str, Any]], None] = lambda record: None,
           stop: threading.Event | None = None,
           on_unsaved: Callable[[dict[str, Any], str], None] | None = None
           ) -> list[dict[str, Any]]:
    """Verify every selected implementation on every selected benchmark; records in order.
    When `stop` is set (a stop signal, harness.run.runner.stop_signals_as_request) the child
    in progress is ended and the records so far returned. A record that cannot be appended
    goes to `on_unsaved` with the reason (OSError without it) and the others go on."""
    from harness.run.results import append_result

    results = settings.results or default_verify_results()
    records = []
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        for benchmark in benchmarks:
            if stop is not None and stop.is_set():
                break
            ready = []
            for impl in at_precisions(registry.select(names, benchmark), settings.precisions,
                                      benchmark, records, on_record):
                readiness = registry.readiness(impl, benchmark)
                if readiness.ready:
                    ready.append(impl)
                else:
                    fix = f"; fix: {readiness.fix}" if readiness.fix else ""
                    record = skipped(impl, benchmark, readiness.reason + fix)
                    records.append(record)
                    on_record(record)
            if not ready:
                continue
            case = make_case(benchmark, settings.seed, settings.batch.get(benchmark),
                             settings.image_size,
                             None if get_benchmark(benchmark).training else settings.weights,
                             settings.weights_dir)
            case_file = Path(tmp) / f"{benchmark}.npz"
            np.savez(case_file, **case.inputs, **{f"w/{k}": v for k, v in case.weights.items()})
            for impl in ready:
                if stop is not None and stop.is_set():
                    return records
                try:
                    record = verify_one(impl, case, case_file, settings, results.parent / "logs",
                                        stop)
                except KeyboardInterrupt:
                    if stop is None or not stop.is_set():
                        raise
                    return records
                try:
                    append_result(results, record)
                except OSError as error:
                    if on_unsaved is None:
                        raise
                    on_unsaved(record, f"could not append to {results}: "
                                       f"{error.strerror or error}")
                records.append(record)
                on_record(record)
    return records


def at_precisions(impls: list[registry.Row], precisions: list[str], benchmark: str,
                  records: list[dict[str, Any]],
                  on_record: Callable[[dict[str, Any]], None]) -> list[registry.Row]:
    """Each row at each precision asked for (harness.precision); one it lacks becomes a
    skipped record saying so."""
    rows = []
    for impl in impls:
        for asked in precisions:
            row, why = precision.at_precision(impl, asked)
            if why:
                records.append(skipped(row, benchmark, why))
                on_record(records[-1])
            else:
                rows.append(row)
    return rows


def default_verify_results() -> Path:
    from harness.run.results import default_results_path

    return default_results_path().parent / "verify.jsonl"
