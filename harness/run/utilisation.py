"""How close to the machine a run came, measured in the child after the timed work.

- **Achieved rate**: the benchmark's floating-point operations per sample (harness.flops: the
  counting convention) times the steady-state samples (or images) per second.
- **Measured peak**: a short calibration times the row's own framework multiplying two square
  matrices of the benchmark's precision on the run's device (`Implementation.matmul`), so the
  denominator of "% of peak" is what that framework reaches on this device, not a datasheet.
  The best of several products is taken, after one untimed warm-up product. A probe at a
  quarter of the size picks the largest size (up to the device's) whose product fits the budget,
  so that a precision the hardware only emulates (bf16 on a CPU without bf16 instructions: a
  minute a 2048 product) costs seconds, not minutes. It runs after the timed work and its
  evaluation, so it cannot disturb them; it costs 1.1-1.4 s on this project's 2-core CPU, so it
  is measured once per row, device and precision in a command and the later runs of that row
  reuse it (`reuse`, marked `reused: true` in the record).
- **Nominal peak**, where the device is a GPU in `NOMINAL_PEAKS` (dense figures from NVIDIA's
  datasheets): the rate as a percentage of that too.
- **Memory**: the child's resident-set high-water mark (the whole process: framework, data and
  model), and the device's, where the framework keeps one (`Implementation.device_memory_peak`).
  A field that cannot be filled says why.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

from harness.benchmarks import Benchmark
from harness.precision import FP32_STRICT
from harness.timing import Stopwatch

# Matrix size of the calibration: large enough to reach the attainable rate, small enough to
# take about a second (2 * n^3 operations: 17 GFLOP at 2048, 1.1 TFLOP at 8192).
CALIBRATION_SIZE = {"cpu": 2048, "cuda": 8192}
CALIBRATION_BUDGET_S = 1.0  # timed products stop after this, once MIN_PRODUCTS are done
MIN_PRODUCTS, MAX_PRODUCTS = 3, 50

# Dense peaks, FLOP/s, by a substring of the device name (NVIDIA datasheets; SXM parts where a
# card comes in several forms). fp32 is plain single precision; tf32 is fp32 on tensor cores.
NOMINAL_PEAKS: dict[str, dict[str, float]] = {
    "H200": {"fp32": 67e12, "tf32": 494.7e12, "bf16": 989.4e12},
    "H100": {"fp32": 67e12, "tf32": 494.7e12, "bf16": 989.4e12},
    "A100": {"fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12},
    "L4": {"fp32": 30.3e12, "tf32": 60e12, "bf16": 121e12},
    "V100": {"fp32": 15.7e12},
    "P100": {"fp32": 10.6e12},
    "K80": {"fp32": 4.37e12},  # one of the card's two GK210 chips, as a framework sees it
}


def calibrate(impl: Any, device: str) -> dict[str, Any]:
    """The attainable matrix-multiply rate of this framework on this device, or why not. A
    failure here is recorded and never fails the run: the timed work is already done."""
    largest = CALIBRATION_SIZE.get(device, CALIBRATION_SIZE["cpu"])
    started = time.perf_counter()
    try:
        n = largest // 4
        multiply = impl.matmul(n)
        multiply()  # warm-up: allocation, kernel selection, compilation
        watch = Stopwatch(impl.sync)
        multiply()
        probe = watch.lap()
        # Each doubling is 8x the work: the largest size whose product fits the budget's share.
        while n < largest and probe * 8 <= CALIBRATION_BUDGET_S / MIN_PRODUCTS:
            n, probe = 2 * n, probe * 8
        if n != largest // 4:
            multiply = impl.matmul(n)
            multiply()
            watch.lap()
        times: list[float] = []
        while len(times) < MAX_PRODUCTS and (len(times) < MIN_PRODUCTS
                                             or sum(times) < CALIBRATION_BUDGET_S):
            multiply()
            times.append(watch.lap())
    except NotImplementedError as error:
        return {"flops_per_s": None, "reason": f"not measured: {error}"}
    except Exception as error:  # noqa: BLE001 - reported in the record, the run stays ok
        return {"flops_per_s": None, "reason": f"failed: {type(error).__name__}: {error}"[:300]}
    best = min(times)
    return {"size": n, "products": len(times), "best_s": best,
            "flops_per_s": 2 * n ** 3 / best, "seconds": time.perf_counter() - started}


def achieved(benchmark: Benchmark, timings: dict[str, Any]) -> float | None:
    """FLOP/s of the steady state: work per sample times samples (images) per second."""
    if benchmark.training:
        per_sample, rate = benchmark.flops.train_step, timings.get("samples_per_s")
    else:
        per_sample, rate = benchmark.flops.forward, timings.get("images_per_s")
    return per_sample * rate if per_sample and rate else None


def nominal_peak(device_name: str, precision: str) -> tuple[str, float] | None:
    """(which peak, FLOP/s) of a known GPU at the precision in effect; None when unknown."""
    kind = ("fp32" if precision.startswith(FP32_STRICT) else "bf16" if "bf16" in precision else
            "tf32" if "tf32" in precision.lower() and "tf32=false" not in precision.lower()
            else "fp32")
    for name, peaks in NOMINAL_PEAKS.items():
        if name in device_name and kind in peaks:
            return kind, peaks[kind]
    return None


def host_peak_bytes() -> int:
    """This process's resident-set high-water mark (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def device_peak(impl: Any, device: str) -> dict[str, Any]:
    if device != "cuda":
        return {"device_peak_bytes": None, "device_reason": "ran on the CPU: see host_peak_bytes"}
    try:
        peak = impl.device_memory_peak()
    except NotImplementedError as error:
        return {"device_peak_bytes": None, "device_reason": f"not measured: {error}"}
    if peak is None:
        return {"device_peak_bytes": None,
                "device_reason": "the framework keeps no device high-water mark"}
    return {"device_peak_bytes": int(peak), "device_reason": None}


def reusable(calibration: dict[str, Any] | None, outcome: dict[str, Any]) -> bool:
    """Whether an earlier run's calibration measured this run's device and precision."""
    return bool(calibration and calibration.get("flops_per_s")
                and calibration.get("device") == outcome.get("device", "cpu")
                and calibration.get("precision") == outcome.get("precision"))


def measure(impl: Any, benchmark: Benchmark, outcome: dict[str, Any],
            reuse: dict[str, Any] | None = None) -> None:
    """Add `utilisation` and `memory` to a finished run's outcome (after `info()` is in it).
    `reuse`: the same row's calibration from an earlier run of this command, used when it
    measured the same device and precision."""
    device = outcome.get("device", "cpu")
    memory = {"host_peak_bytes": host_peak_bytes(), **device_peak(impl, device)}
    if reusable(reuse, outcome):
        calibration = {**reuse, "reused": True}
    else:
        calibration = {**calibrate(impl, device), "device": device,
                       "precision": outcome.get("precision"), "reused": False}
    rate = achieved(benchmark, outcome.get("timings") or {})
    peak = calibration.get("flops_per_s")
    nominal = nominal_peak(outcome.get("device_name") or "", outcome.get("precision") or "")
    outcome["utilisation"] = {
        "flops_per_sample": (benchmark.flops.train_step if benchmark.training
                             else benchmark.flops.forward),
        "flops_per_s": rate,
        "pct_of_measured_peak": 100 * rate / peak if rate and peak else None,
        "calibration": calibration,
        "nominal_peak": {"precision": nominal[0], "flops_per_s": nominal[1]} if nominal else None,
        "pct_of_nominal_peak": 100 * rate / nominal[1] if rate and nominal else None,
    }
    outcome["memory"] = memory
