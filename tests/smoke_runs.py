"""One smoke run of the registered rows, shared by every test that needs a record of a real run
(a pytest plugin: tests/conftest.py loads it). The rows the session's tests will ask for are
collected first (the contract's parameters, and each other test's `rows` marker), and the tests
that read them are moved to the end of the session. When the session's first test starts, they
all start in the background through the command line as a user would, in one command each -
`all --impl ROWS --profile smoke` (synthetic data, CPU) and `verify --impl ROWS --strict`, so the
oracle is computed once - in fresh processes that report which framework modules the parent
imported; the rest of the suite runs meanwhile, and the first test that asks waits for them. The
contract test asserts on these runs; the framework tests (Keras, TensorFlow, JAX) and the Slurm
comparison read the same records instead of training again. A row asked for that was not
collected (a test run alone) is run by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness import benchmarks, registry
from harness.run.results import read_results

REPO = Path(__file__).resolve().parent.parent
# The matrix runs beside the rest of the suite on the same cores, where libgomp's default - a
# waiting OpenMP thread spins - starves whoever holds the other core: a PyTorch GRU smoke run
# beside one busy core took 306 s with it and 12 s with passive waits (2-core AMD EPYC; the
# shared run's PyTorch rows and the tests that train PyTorch in process were hit the same way).
# Set before any test imports a framework; every record says so (env.thread_env), and these
# figures are not for comparison anyway. A value of your own is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
PROFILE = "smoke"
# Framework packages the parent process must never import (it only starts children).
FRAMEWORKS = ("torch", "jax", "tensorflow", "keras", "mxnet", "chainer", "juliacall", "mlx",
              "tinygrad")
# Rows CI mode verifies but does not train: their smoke runs would add about 20 minutes to CI's
# 30 on 2 cores (measured alone, 2-core AMD EPYC, `all --impl mlx,tinygrad --profile smoke`:
# mlx 718 s - its Linux CPU wheel runs single-threaded reference BLAS - tinygrad 524 s; their
# `verify --strict` together 171 s). Outside CI mode they train like every row.
NOT_TRAINED_IN_CI = {"mlx": "its smoke run takes about 12 minutes on 2 cores",
                     "tinygrad": "its smoke run takes about 9 minutes on 2 cores"}


class Command:
    """`python -m harness ARGS`, started now in a fresh process that reports which framework
    modules the parent ended up with; `result()` waits for it, `stop()` ends it early."""

    def __init__(self, args: list[str], timeout: float) -> None:
        script = ("import sys; from harness.commands import main; rc = main(sys.argv[1:]); "
                  f"print('PARENT_IMPORTED', sorted(m for m in {FRAMEWORKS!r} "
                  "if m in sys.modules)); sys.exit(rc)")
        self.args, self.timeout = args, timeout
        self.process = subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, "COLUMNS": "200"})
        self._done: list[subprocess.CompletedProcess] = []
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        try:
            out, err = self.process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            out, err = self.process.communicate()
            err += f"\nno result within {self.timeout:g} s"
        self._done.append(subprocess.CompletedProcess(self.args, self.process.returncode, out,
                                                      err))

    def result(self) -> subprocess.CompletedProcess:
        self._reader.join()
        return self._done[0]

    def stop(self) -> None:
        """As a user's Ctrl-C would: the harness stops its child's process group and keeps
        what finished; killed if it has not ended after a grace period."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class RowRun:
    """What one row's smoke run left: the commands' outputs (shared with the rows run beside
    it) and the records it wrote."""

    row: registry.Row
    ready: dict[str, registry.Readiness]
    untrained: str = ""  # why `all` does not run the row in this session (verify still does)
    run: subprocess.CompletedProcess | None = None
    verify: subprocess.CompletedProcess | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)
    verified_beside: list[dict[str, Any]] = field(default_factory=list)  # the whole command's

    def skip_unless_ready(self, benchmark: str) -> None:
        """Skips (with the reason) where the row cannot run `benchmark` here."""
        if benchmark not in self.row.entry_points:
            pytest.skip(f"{self.row.name} does not implement {benchmark}")
        readiness = self.ready[benchmark]
        if not readiness.ready:
            fix = f"; fix: {readiness.fix}" if readiness.fix else ""
            pytest.skip(f"{self.row.name} cannot run {benchmark} here: {readiness.reason}{fix}")

    def record(self, benchmark: str) -> dict[str, Any]:
        """The run's record of one benchmark; skips (with the reason) where the row cannot
        run it here or was not trained, fails where it should have run and did not."""
        self.skip_unless_ready(benchmark)
        if self.untrained:
            pytest.skip(f"{self.row.name} is verified but not trained in CI mode: "
                        f"{self.untrained} (tests/smoke_runs.py)")
        found = next((r for r in self.records if r["benchmark"] == benchmark), None)
        assert found is not None, self.output()
        return found

    def output(self) -> str:
        return "".join(done.stdout[-3000:] + done.stderr[-3000:]
                       for done in (self.run, self.verify) if done is not None)


class Batch:
    """Rows started together: their RowRuns and the two commands they share."""

    def __init__(self, runs: dict[str, RowRun], folder: Path) -> None:
        self.runs = runs
        self._finished = False
        ready = [name for name, run in runs.items() if any(r.ready for r in run.ready.values())]
        trained = [name for name in ready if not runs[name].untrained]
        self.commands: dict[str, Command] = {}
        folder.mkdir()
        self.results, self.verified = folder / "results.jsonl", folder / "verify.jsonl"
        # One process a run (`--repeat 1`): the tests read a run's record, not its figure, so
        # `verify` runs beside `all`, and the rest of the suite beside both (a smoke run trains
        # a fixed number of steps whatever the clock says). Each run keeps the harness's own
        # timeout; these bound the commands.
        if trained:
            self.commands["all"] = Command(
                ["all", "--impl", ",".join(trained), "--profile", PROFILE, "--data",
                 "synthetic", "--device", "cpu", "--repeat", "1", "--results",
                 str(self.results), "--data-dir", str(folder / "data")],
                timeout=1200 * len(trained))
        # ResNet-50 at 64x64 keeps the check quick; the network and its layers are the same.
        if ready:
            self.commands["verify"] = Command(
                ["verify", "--impl", ",".join(ready), "--device", "cpu", "--image-size", "64",
                 "--strict", "--results", str(self.verified)], timeout=600 * len(ready))

    def finish(self) -> None:
        """Wait for the commands (once) and hand each RowRun its records."""
        if self._finished:
            return
        run, verify = (self.commands[name].result() if name in self.commands else None
                       for name in ("all", "verify"))
        records = read_results(self.results) if self.results.exists() else []
        checked = read_results(self.verified) if self.verified.exists() else []
        for name, found in self.runs.items():
            found.run, found.verify, found.verified_beside = run, verify, checked
            found.records = [r for r in records if r["impl"] == name]
            found.verified = [r for r in checked if r["impl"] == name]
        self._finished = True

    def stop(self) -> None:
        for command in self.commands.values():
            command.stop()


class SmokeRuns:
    """Row name -> its RowRun. `start` launches rows in the background; asking for a row waits
    for its batch (and starts a row nobody planned, by itself)."""

    def __init__(self, folder: Path, planned: list[str],
                 untrained: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.planned = planned
        self.untrained = untrained or {}  # row -> why it is verified but not trained
        self._batches: dict[str, Batch] = {}
        self._started = 0

    def start(self, names: list[str]) -> None:
        names = [name for name in names if name not in self._batches]
        if not names:
            return
        runs = {}
        for name in names:
            row = registry.by_name(name)
            runs[name] = RowRun(row, {b: registry.readiness(row, b) for b in benchmarks.names()
                                      if b in row.entry_points}, self.untrained.get(name, ""))
        self._started += 1
        batch = Batch(runs, self.folder / f"run{self._started}")
        self._batches.update(dict.fromkeys(names, batch))

    def __call__(self, name: str) -> RowRun:
        self.start(self.planned if name in self.planned else [name])
        batch = self._batches[name]
        batch.finish()
        return batch.runs[name]

    def stop(self) -> None:
        """End what still runs (an interrupted or failed-fast session)."""
        for batch in set(self._batches.values()):
            batch.stop()


def planned_rows(items: list[pytest.Item]) -> list[str]:
    """The rows the collected tests will ask `smoke_runs` for: the contract's parameter, and
    the names in each other test's `rows` marker."""
    rows: list[str] = []
    for item in items:
        if "smoke_runs" not in getattr(item, "fixturenames", ()):
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "row_run" in callspec.params:
            rows.append(callspec.params["row_run"])
        for marker in item.iter_markers("rows"):
            rows.extend(marker.args)
    return list(dict.fromkeys(rows))


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what will not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash[PLANNED] = planned_rows(items)
    # The tests that read the shared run go last, so that everything else runs beside it; of
    # those, first the ones with work of their own to do before they read (`rows` marker's
    # `own_work_first`), which then runs beside the shared run's end.
    reads = [item for item in items if "smoke_runs" in getattr(item, "fixturenames", ())]
    first = [item for item in reads
             if any(m.kwargs.get("own_work_first") for m in item.iter_markers("rows"))]
    moved = set(reads)
    items[:] = ([item for item in items if item not in moved] + first
                + [item for item in reads if item not in first])


PLANNED = pytest.StashKey[list]()


@pytest.fixture(scope="session", autouse=True)
def smoke_runs_started(request: pytest.FixtureRequest,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmokeRuns]:
    """Starts the planned rows as the session's first test starts; stops whatever still runs
    when the session ends (Ctrl-C, -x)."""
    planned = request.config.stash.get(PLANNED, [])
    runs = SmokeRuns(tmp_path_factory.mktemp("smoke-runs"), planned,
                     NOT_TRAINED_IN_CI if getattr(request.config, "ci_mode", False) else {})
    runs.start(planned)
    yield runs
    runs.stop()


@pytest.fixture(scope="session")
def smoke_runs(smoke_runs_started: SmokeRuns) -> SmokeRuns:
    """Row name -> its RowRun, waiting for the row's run where it still goes on."""
    return smoke_runs_started
