"""A hand-written results file for the report tests: repeats, failed runs, two devices, a
damaged line. The expected figures in the tests are worked out by hand from these numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

H100 = "NVIDIA H100 80GB HBM3"


def record(benchmark: str, impl: str, headline: float | None = None,
           accuracy: float | None = None, status: str = "ok", reason: str | None = None,
           device_name: str = H100, profile: str = "full", data: str = "real",
           repeat: int = 0, framework: str = "PyTorch", version: str = "2.13.0",
           **extra: Any) -> dict[str, Any]:
    """One results line in the harness's schema 1 layout. `headline` is the benchmark's headline
    figure: samples/s (training; one value a run, as schema 1 has no windows) or s / 1000
    images (inference)."""
    timings = None
    if status == "ok":
        if benchmark == "inference":
            timings = {"prepare_s": 0.1, "build_s": 0.5, "warmup_s": 0.2,
                       "pass_s": [headline * 1.28], "s_per_1000": headline,
                       "images_per_s": 1000.0 / headline}
        else:
            steady = 49984 / headline
            epochs = [steady * 2] + [steady] * 9
            timings = {"prepare_s": 0.1, "build_s": 0.2, "epoch_s": epochs,
                       "train_s": sum(epochs), "first_epoch_s": epochs[0],
                       "steady_epoch_s": steady, "eval_s": 1.0, "samples_per_s": headline}
    return {
        "schema": 1, "run_id": f"{benchmark}-{impl}-{repeat}", "benchmark": benchmark,
        "impl": impl, "variant": "default", "framework": framework,
        "framework_version": version, "language": "python", "language_version": "3.11.7",
        "status": status, "reason": reason, "repeat": repeat, "profile": profile,
        "data": data, "device": "cuda" if device_name else "cpu", "device_name": device_name,
        "precision": "fp32", "cudnn": None, "timings": timings,
        "accuracy": accuracy if status == "ok" else None,
        "env": {"python": "3.11.7", "cpu": "AMD EPYC", "threads": 2, "host": "vm"},
        "started_at": "2026-11-26T18:00:00+00:00", "finished_at": "2026-11-26T18:01:00+00:00",
        "wall_s": 60.0, **extra,
    }


def standard_records() -> list[dict[str, Any]]:
    return [
        # CNN on the H100, full profile, real data
        record("cnn", "pytorch", 20.0, 0.77, repeat=0),
        record("cnn", "pytorch", 22.0, 0.78, repeat=1),
        record("cnn", "pytorch", 21.0, 0.76, repeat=2),
        record("cnn", "jax-flax", 14.0, 0.75, framework="JAX", version="0.8.1"),
        record("cnn", "jax-flax", 15.0, 0.76, framework="JAX", version="0.8.1", repeat=1),
        record("cnn", "jax-flax", status="timeout", reason="no result after 1200 s",
               framework="JAX", version="0.8.1", repeat=2),
        record("cnn", "keras-tensorflow", status="crashed",
               reason="killed by signal 9 (out of memory?)", framework="Keras"),
        # inference on the H100
        record("inference", "pytorch", 0.4),
        record("inference", "pytorch", 0.5, repeat=1),
        record("inference", "jax-flax", 0.3, framework="JAX", version="0.8.1"),
        # CNN on a CPU, quick profile, synthetic data: a table of its own
        record("cnn", "pytorch", 5.0, 0.4, device_name="", profile="quick", data="synthetic"),
        # table-only rows of a live run never reach a stored report
        record("cnn", "cntk", status="skipped", reason="not installable"),
    ]


def write_results(path: Path, records: list[dict[str, Any]], damaged: bool = True) -> Path:
    lines = [json.dumps(r) for r in records]
    if damaged:
        lines.insert(3, '{"schema": 1, "benchmark": "cnn", "impl": "pyt')  # killed mid-write
        lines.insert(5, json.dumps({"schema": 1, "benchmark": "cnn"}))  # no impl
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
