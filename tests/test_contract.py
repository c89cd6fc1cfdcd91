"""The contract every registered row meets, generated over the registry: a row is covered the
moment it is registered (TorchBench's one test over every model).

For each row, through the command line as a user runs it (quick profile, synthetic data, CPU):
`all --impl ROW` runs every benchmark the row implements, each training run beats chance, each
inference run gives (batch, feature_dim) features, every record carries its achieved FLOP/s, the
row's own matrix-multiply calibration and its memory high-water marks, the parent never imports
a framework; and
`verify --impl ROW --strict` passes every check against the oracle. A row that cannot run here
is skipped with its reason and the command that fixes it, never silently.

Per-framework test files keep only what is specific to their framework.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import benchmarks, registry
from harness.run.results import read_results
from tests.helpers import MARGIN, chance

REPO = Path(__file__).resolve().parent.parent
# Framework packages the parent process must never import (it only starts children).
FRAMEWORKS = ("torch", "jax", "tensorflow", "keras", "mxnet", "chainer", "juliacall")
# The verify hooks a row is known to lack (harness/interface.py): any other missing hook is a
# check the row used to run and cannot any more, and fails; one listed here that appears must be
# taken off the list, so that losing it again is caught.
KNOWN_MISSING_HOOKS = {("mxnet-module", "cnn"): {"activations"}}


def _harness(args: list[str], tmp: Path, timeout: float) -> subprocess.CompletedProcess:
    """`python -m harness ARGS` in a fresh process that reports which framework modules the
    parent ended up with."""
    script = ("import sys; from harness.commands import main; rc = main(sys.argv[1:]); "
              f"print('PARENT_IMPORTED', sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)); "
              "sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("contract-data")


@pytest.fixture(scope="module", params=[row.name for row in registry.ROWS])
def row_run(request, tmp_path_factory, data_dir) -> dict[str, Any]:
    """One row: `all` and `verify` through the CLI, once for every test of that row."""
    row = registry.by_name(request.param)
    ready = {b: registry.readiness(row, b) for b in benchmarks.names() if b in row.entry_points}
    runnable = [b for b, r in ready.items() if r.ready]
    if not runnable:
        return {"row": row, "ready": ready}
    tmp = tmp_path_factory.mktemp(row.name)
    results, verified = tmp / "results.jsonl", tmp / "verify.jsonl"
    run = _harness(["all", "--impl", row.name, "--profile", "quick", "--data", "synthetic",
                    "--device", "cpu", "--results", str(results), "--data-dir", str(data_dir)],
                   tmp, timeout=1800)
    check = _harness(["verify", "--impl", row.name, "--device", "cpu", "--image-size", "64",
                      "--strict", "--results", str(verified)], tmp, timeout=1800)
    return {"row": row, "ready": ready, "run": run, "verify": check,
            "records": read_results(results) if results.exists() else [],
            "verified": read_results(verified) if verified.exists() else []}


def _require(row_run: dict[str, Any], benchmark: str) -> None:
    row = row_run["row"]
    if benchmark not in row.entry_points:
        pytest.skip(f"{row.name} does not implement {benchmark}")
    readiness = row_run["ready"][benchmark]
    if not readiness.ready:
        fix = f"; fix: {readiness.fix}" if readiness.fix else ""
        pytest.skip(f"{row.name} cannot run {benchmark} here: {readiness.reason}{fix}")


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", benchmarks.names())
def test_every_benchmark_runs_through_the_cli(row_run, benchmark):
    _require(row_run, benchmark)
    run = row_run["run"]
    assert "PARENT_IMPORTED []" in run.stdout, run.stdout[-2000:]
    record = next((r for r in row_run["records"] if r["benchmark"] == benchmark), None)
    assert record is not None, run.stdout[-3000:] + run.stderr[-3000:]
    assert record["status"] == "ok", record["reason"]
    assert record["profile"] == "quick" and record["data"] == "synthetic"
    assert record["device"] == "cpu"
    utilisation, memory = record["utilisation"], record["memory"]
    assert utilisation["calibration"].get("flops_per_s", 0) > 0, utilisation["calibration"]
    assert utilisation["flops_per_s"] > 0 and utilisation["pct_of_measured_peak"] > 0
    assert memory["host_peak_bytes"] > 0
    assert memory["device_peak_bytes"] is not None or memory["device_reason"]
    spec = benchmarks.get(benchmark)
    if spec.training:
        assert record["accuracy"] > chance(benchmark) + MARGIN, record["accuracy"]
        assert record["epochs"] == spec.epochs("quick")
        assert record["steps_per_epoch"] == spec.workload("quick").n_train // spec.config.batch_size
    else:
        config = spec.config_for("quick")
        assert record["feature_shape"] == [config.batch_size, config.feature_dim]
        assert record["timings"][spec.headline] > 0


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", benchmarks.names())
def test_every_benchmark_passes_verify(row_run, benchmark):
    _require(row_run, benchmark)
    record = next((r for r in row_run["verified"] if r["benchmark"] == benchmark), None)
    check = row_run["verify"]
    assert record is not None, check.stdout[-3000:] + check.stderr[-3000:]
    failing = [c for c in record["checks"] if not c["passed"]]
    assert record["status"] == "passed", (record.get("reason"), record.get("first_divergence"),
                                          failing)
    # Breakage caught: a row whose `activations` hook raises NotImplementedError (its layer
    # checks gone) still passed: its status stays "passed", and verify's exit code went unread.
    assert set(record["unsupported"]) == KNOWN_MISSING_HOOKS.get((row_run["row"].name, benchmark),
                                                                 set()), record["unsupported"]
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]  # --strict


def test_every_row_names_its_benchmarks_and_a_known_framework():
    """Cheap, and run everywhere: the registry itself is well-formed."""
    names = [row.name for row in registry.ROWS]
    assert len(names) == len(set(names))
    for row in registry.ROWS:
        assert set(row.entry_points) <= set(benchmarks.names()), row.name
        assert row.unavailable or all(":" in entry for entry in row.entry_points.values()), \
            row.name
