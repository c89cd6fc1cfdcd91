"""One quick run of each registered row, shared by every test that needs a record of a real run
(a pytest plugin: tests/conftest.py loads it). Each row is run once a session, through the
command line as a user runs it - `all --impl ROW` (quick profile, synthetic data, CPU) and
`verify --impl ROW --strict` - in fresh processes that report which framework modules the
parent imported. The contract test asserts on these runs; the framework tests (Keras,
TensorFlow, JAX) and the Slurm comparison read the same records instead of training again."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import benchmarks, registry
from harness.run.results import read_results

REPO = Path(__file__).resolve().parent.parent
# Framework packages the parent process must never import (it only starts children).
FRAMEWORKS = ("torch", "jax", "tensorflow", "keras", "mxnet", "chainer", "juliacall", "mlx",
              "tinygrad")


def harness(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """`python -m harness ARGS` in a fresh process that reports which framework modules the
    parent ended up with."""
    script = ("import sys; from harness.commands import main; rc = main(sys.argv[1:]); "
              f"print('PARENT_IMPORTED', sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)); "
              "sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"})


@dataclass
class RowRun:
    """What one row's quick run left: the commands' outputs and the records they wrote."""

    row: registry.Row
    ready: dict[str, registry.Readiness]
    run: subprocess.CompletedProcess | None = None
    verify: subprocess.CompletedProcess | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)

    def record(self, benchmark: str) -> dict[str, Any]:
        """The run's record of one benchmark; skips (with the reason) where the row cannot
        run it here, fails where it should have and did not."""
        if benchmark not in self.row.entry_points:
            pytest.skip(f"{self.row.name} does not implement {benchmark}")
        readiness = self.ready[benchmark]
        if not readiness.ready:
            fix = f"; fix: {readiness.fix}" if readiness.fix else ""
            pytest.skip(f"{self.row.name} cannot run {benchmark} here: {readiness.reason}{fix}")
        found = next((r for r in self.records if r["benchmark"] == benchmark), None)
        assert found is not None, self.output()
        return found

    def output(self) -> str:
        return "".join(done.stdout[-3000:] + done.stderr[-3000:]
                       for done in (self.run, self.verify) if done is not None)


class QuickRuns:
    """Row name -> its RowRun, run on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data_dir = folder / "data"
        self._done: dict[str, RowRun] = {}

    def __call__(self, name: str) -> RowRun:
        if name not in self._done:
            self._done[name] = self._run(registry.by_name(name))
        return self._done[name]

    def _run(self, row: registry.Row) -> RowRun:
        ready = {b: registry.readiness(row, b) for b in benchmarks.names() if b in row.entry_points}
        found = RowRun(row, ready)
        if not any(r.ready for r in ready.values()):
            return found
        folder = self.folder / row.name
        folder.mkdir()
        results, verified = folder / "results.jsonl", folder / "verify.jsonl"
        # Each run keeps the harness's own timeout; this bounds the row's four together (mlx's
        # took 35 minutes on 2 busy cores: its Linux CPU backend bundles the reference BLAS).
        # One process a run (`--repeat 1`): the tests read a run's record, not its figure.
        found.run = harness(["all", "--impl", row.name, "--profile", "quick", "--data",
                             "synthetic", "--device", "cpu", "--repeat", "1",
                             "--results", str(results),
                             "--data-dir", str(self.data_dir)], folder, timeout=3600)
        # ResNet-50 at 64x64 keeps the check quick; the network and its layers are the same.
        found.verify = harness(["verify", "--impl", row.name, "--device", "cpu",
                                "--image-size", "64", "--strict", "--results", str(verified)],
                               folder, timeout=1800)
        found.records = read_results(results) if results.exists() else []
        found.verified = read_results(verified) if verified.exists() else []
        return found


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory: pytest.TempPathFactory) -> QuickRuns:
    return QuickRuns(tmp_path_factory.mktemp("quick-runs"))
