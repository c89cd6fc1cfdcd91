"""The child process of one run: `python -m harness.run.worker JOB.json RESULT.json --events-fd N`.

It imports exactly one implementation, runs the timed protocol and writes the result as JSON.
Progress events go, one JSON object a line, to the pipe `--events-fd` (the framework's own
output goes to stdout/stderr, which the parent keeps in the run's log). Any exception is written
to the result file as a one-line reason before the process exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from harness import benchmarks, precision
from harness.interface import TrainingData
from harness.run import utilisation
from harness.run.child import end_with_parent
from harness.run.job import Job, declared_entry_point
from harness.plugins import load_plugins
from harness.protocol import Emit, run_inference, run_training
from harness.verify.weights import load_weights


def load_class(benchmark: str, entry_point: str, impl: str | None = None) -> type:
    """The class behind `entry_point`, imported only once the registry is found to declare it
    (harness.run.job.declared_entry_point)."""
    module_name, _, class_name = declared_entry_point(benchmark, entry_point, impl).partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def training_data(job: Job) -> TrainingData:
    """The benchmark's training and test arrays in the canonical layout, preprocessed once for
    every framework: from the data store, or generated where the benchmark has no stored data."""
    benchmark = benchmarks.get(job.benchmark)
    workload = benchmark.workload(job.profile)
    if benchmark.generate is not None:
        return benchmark.generate(workload.n_train, workload.n_test, job.seed)
    from harness.data.store import load_dataset

    dataset = load_dataset(benchmark.dataset, kind=job.data, data_dir=job.data_dir,
                           n_train=workload.n_train, n_test=workload.n_test)
    x_train, x_test = dataset.x_train, dataset.x_test
    if benchmark.pixel_scale:  # e.g. pixels 0..255 -> 0..1 float32
        scale = np.float32(benchmark.pixel_scale)
        x_train = np.ascontiguousarray(x_train, dtype=np.float32) / scale
        x_test = np.ascontiguousarray(x_test, dtype=np.float32) / scale
    return TrainingData(x_train=np.ascontiguousarray(x_train), x_test=np.ascontiguousarray(x_test),
                        y_train=np.asarray(dataset.y_train, dtype=np.int32),
                        y_test=np.asarray(dataset.y_test, dtype=np.int32), kind=dataset.kind)


def run(job: Job, emit: Emit, calibration: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's outcome, with `wall`: where the child's time went, phase by phase."""
    benchmark = benchmarks.get(job.benchmark)
    config = benchmark.config_for(job.profile)
    clock = time.perf_counter()
    implementation = load_class(job.benchmark, job.entry_point, job.impl)  # before any data
    import_s = time.perf_counter() - clock
    clock = time.perf_counter()
    if benchmark.training:
        data = training_data(job)
        data_s = time.perf_counter() - clock
        impl = implementation(device=job.device, **job.options)
        outcome = run_training(impl, config, data, benchmark.epochs(job.profile), job.seed, emit,
                               windows=benchmark.windows(job.profile))
        outcome["data"] = data.kind
    else:
        rng = np.random.default_rng(job.seed)  # uniform [0, 1), seeded (docs/benchmarks.md)
        images = rng.random((config.timed_batches * config.batch_size, 3, config.image_size,
                             config.image_size), dtype=np.float32)
        weights = load_weights(job.weights, benchmark.model) if job.weights else None
        data_s = time.perf_counter() - clock
        impl = implementation(device=job.device, **job.options)
        outcome = run_inference(impl, config, images, weights, job.seed, emit)
        outcome["data"] = "synthetic"  # random images by design
        outcome["weights"] = job.weights or "random (seeded, framework's own init)"
    outcome.update(run_info(impl))
    wrong = precision.check(job.options.get("precision", precision.DEFAULT), outcome["precision"])
    if wrong:  # figures of another precision must not stand as this one's
        raise precision.NotThatPrecision(wrong)
    # After the timed work, so it cannot disturb it; a calibration of this row made earlier in
    # the same command is reused when it matches this run's device and precision.
    utilisation.measure(impl, benchmark, outcome, reuse=calibration)
    outcome["wall"] = wall_split(outcome, import_s, data_s)
    return outcome


def wall_split(outcome: dict[str, Any], import_s: float, data_s: float) -> dict[str, float]:
    """Seconds of each part of the child's work (the parent adds process start and the rest)."""
    t = outcome.get("timings") or {}
    warmup = t.get("warmup_s") or 0.0
    timed = t.get("train_s", sum(t.get("batch_s") or [])) - (
        warmup if "train_s" in t else 0.0)
    calibration = (outcome.get("utilisation") or {}).get("calibration") or {}
    return {"import_s": import_s, "data_s": data_s, "prepare_s": t.get("prepare_s") or 0.0,
            "build_s": t.get("build_s") or 0.0, "warmup_s": warmup, "timed_s": timed,
            "eval_s": t.get("eval_s") or 0.0,
            "calibration_s": 0.0 if calibration.get("reused") else
            calibration.get("seconds") or 0.0}


def run_info(impl: Any) -> dict[str, Any]:
    """What the implementation says about itself, with the Python version where it left that
    empty."""
    info = asdict(impl.info())
    info["language_version"] = info["language_version"] or (
        platform.python_version() if info["language"] == "python" else "")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("job", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--events-fd", type=int, default=None)
    parser.add_argument("--spawned-at", type=float, default=None,
                        help="the parent's time.time() when it started this process")
    parser.add_argument("--calibration", default=None,
                        help="JSON: this row's matrix-multiply calibration, to reuse")
    args = parser.parse_args(argv)
    end_with_parent()  # a run nobody will record, or past its time, must not go on
    # Interpreter start and the harness's own imports, before any framework is imported.
    start_s = time.time() - args.spawned_at if args.spawned_at else None
    events = os.fdopen(args.events_fd, "w", buffering=1) if args.events_fd is not None else None

    def emit(event: dict[str, Any]) -> None:
        if events is not None:
            events.write(json.dumps(event) + "\n")

    try:
        load_plugins()  # a plugin's benchmark is needed here as much as in the parent
        reuse = json.loads(args.calibration) if args.calibration else None
        outcome = run(Job.load(args.job), emit, reuse)
        outcome["wall"]["start_s"] = start_s
        status = 0
    except BaseException as error:  # noqa: BLE001 - every failure becomes a reported row
        traceback.print_exc()
        outcome = {"error": one_line(error)}
        status = 130 if isinstance(error, KeyboardInterrupt) else 1
    tmp = args.result.with_suffix(".tmp")
    tmp.write_text(json.dumps(outcome, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    os.replace(tmp, args.result)
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return reason if len(reason) <= 300 else reason[:297] + "..."


if __name__ == "__main__":
    # The result is written and the output flushed: skip the interpreter's teardown (a
    # framework's atexit hooks and thread joins took 0.4-0.9 s a run, none of it measurement).
    os._exit(main())
