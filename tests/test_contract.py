"""The contract every registered row meets, generated over the registry: a row is covered the
moment it is registered (TorchBench's one test over every model).

For each row, through the command line as a user runs it (smoke profile, synthetic data, CPU):
`all --impl ROWS` runs every benchmark the row implements, each training run beats chance, each
inference run gives (batch, feature_dim) features, every record carries its achieved FLOP/s, the
row's own matrix-multiply calibration and its memory high-water marks, the parent never imports
a framework; and
`verify --impl ROWS --strict` passes every check against the oracle, the initialisation rule's
on the weights the row builds itself among them (harness.verify.init_rule). A row that cannot run here
is skipped with its reason and the command that fixes it, never silently.

Per-framework test files keep only what is specific to their framework.
"""

from __future__ import annotations

import os

import pytest

from harness import benchmarks, registry
from harness.verify import init_rule
from tests.helpers import MARGIN, chance
from tests.smoke_runs import PROFILE, RowRun

# The verify hooks a row is known to lack (harness/interface.py): any other missing hook is a
# check the row used to run and cannot any more, and fails; one listed here that appears must be
# taken off the list, so that losing it again is caught.
KNOWN_MISSING_HOOKS = {("mxnet-module", "cnn"): {"activations"}}


@pytest.fixture(params=[row.name for row in registry.ROWS])
def row_run(request, smoke_runs) -> RowRun:
    """One row's records of the session's `all` and `verify` (tests/smoke_runs.py)."""
    return smoke_runs(request.param)


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", benchmarks.names())
def test_every_benchmark_runs_through_the_cli(row_run, benchmark):
    record = row_run.record(benchmark)
    assert "PARENT_IMPORTED []" in row_run.run.stdout, row_run.run.stdout[-2000:]
    assert record["status"] == "ok", record["reason"]
    assert record["profile"] == PROFILE and record["data"] == "synthetic"
    assert record["device"] == "cpu"
    # the thread settings the figures were made under: here the suite's passive OpenMP waits
    assert record["env"]["thread_env"]["OMP_WAIT_POLICY"] == os.environ["OMP_WAIT_POLICY"]
    utilisation, memory = record["utilisation"], record["memory"]
    assert utilisation["calibration"].get("flops_per_s", 0) > 0, utilisation["calibration"]
    assert utilisation["flops_per_s"] > 0 and utilisation["pct_of_measured_peak"] > 0
    assert memory["host_peak_bytes"] > 0
    assert memory["device_peak_bytes"] is not None or memory["device_reason"]
    spec = benchmarks.get(benchmark)
    if spec.training:
        assert record["accuracy"] > chance(benchmark) + MARGIN, record["accuracy"]
        assert record["epochs"] == spec.epochs(PROFILE)
        assert record["steps_per_epoch"] == spec.workload(PROFILE).n_train // spec.config.batch_size
        # adaptive windows: a steady state after the warm-up, within the epoch's steps
        assert record["windows"]["rule"] == "adaptive" and record["timings"]["steady"]
        assert 0 < record["steps_run"] <= record["steps_per_epoch"]
    else:
        config = spec.config_for(PROFILE)
        assert record["feature_shape"] == [config.batch_size, config.feature_dim]
        assert record["timings"][spec.headline] > 0


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", benchmarks.names())
def test_every_benchmark_passes_verify(row_run, benchmark):
    row_run.skip_unless_ready(benchmark)
    record = next((r for r in row_run.verified if r["benchmark"] == benchmark), None)
    check = row_run.verify
    assert record is not None, check.stdout[-3000:] + check.stderr[-3000:]
    failing = [c for c in record["checks"] if not c["passed"]]
    assert record["status"] == "passed", (record.get("reason"), record.get("first_divergence"),
                                          failing)
    # Breakage caught: a row whose `activations` hook raises NotImplementedError (its layer
    # checks gone) still passed: its status stays "passed", and verify's exit code went unread.
    assert set(record["unsupported"]) == KNOWN_MISSING_HOOKS.get((row_run.row.name, benchmark),
                                                                 set()), record["unsupported"]
    # --strict: the command (every row's) exits 0 exactly when all its records passed
    everyone_passed = all(r["status"] == "passed" for r in row_run.verified_beside)
    assert (check.returncode == 0) == everyone_passed, check.stdout[-3000:] + check.stderr[-3000:]
    if benchmark in init_rule.RULES:  # the row's own initial weights were checked, and passed
        made = [c for c in record["checks"] if c["name"].startswith(init_rule.PREFIX)]
        assert made and all(c["passed"] for c in made), made


def test_every_row_names_its_benchmarks_and_a_known_framework():
    """Cheap, and run everywhere: the registry itself is well-formed."""
    names = [row.name for row in registry.ROWS]
    assert len(names) == len(set(names))
    for row in registry.ROWS:
        assert set(row.entry_points) <= set(benchmarks.names()), row.name
        assert row.unavailable or all(":" in entry for entry in row.entry_points.values()), \
            row.name
