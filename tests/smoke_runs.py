"""One smoke run of the registered rows, shared by every test that needs a record of a real run
(a pytest plugin: tests/conftest.py loads it). The rows the session's tests will ask for are
collected first (the contract's parameters, and each other test's `rows` marker); the first test
that asks runs them all through the command line as a user would, in one command each -
`all --impl ROWS --profile smoke` (synthetic data, CPU) and `verify --impl ROWS --strict`, so the
oracle is computed once - in fresh processes that report which framework modules the parent
imported. The contract test asserts on these runs; the framework tests (Keras, TensorFlow, JAX)
and the Slurm comparison read the same records instead of training again. A row asked for that
was not collected (a test run alone) is run by itself."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from harness import benchmarks, registry
from harness.run.results import read_results

REPO = Path(__file__).resolve().parent.parent
PROFILE = "smoke"
# Framework packages the parent process must never import (it only starts children).
FRAMEWORKS = ("torch", "jax", "tensorflow", "keras", "mxnet", "chainer", "juliacall", "mlx",
              "tinygrad")


def harness(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """`python -m harness ARGS` in a fresh process that reports which framework modules the
    parent ended up with."""
    script = ("import sys; from harness.commands import main; rc = main(sys.argv[1:]); "
              f"print('PARENT_IMPORTED', sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)); "
              "sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def beside(args: list[str], timeout: float) -> Callable[[], subprocess.CompletedProcess]:
    """`harness(args)` started in a thread; call the result to wait for it."""
    done: list[subprocess.CompletedProcess] = []
    thread = threading.Thread(target=lambda: done.append(harness(args, timeout)), daemon=True)
    thread.start()

    def wait() -> subprocess.CompletedProcess:
        thread.join()
        if not done:  # it raised (a timeout): the test reading it fails with this
            return subprocess.CompletedProcess(args, -1, "", f"no result within {timeout:g} s")
        return done[0]
    return wait


@dataclass
class RowRun:
    """What one row's smoke run left: the commands' outputs (shared with the rows run beside
    it) and the records it wrote."""

    row: registry.Row
    ready: dict[str, registry.Readiness]
    run: subprocess.CompletedProcess | None = None
    verify: subprocess.CompletedProcess | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)
    verified_beside: list[dict[str, Any]] = field(default_factory=list)  # the whole command's

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


class SmokeRuns:
    """Row name -> its RowRun; the first request runs every planned row."""

    def __init__(self, folder: Path, planned: list[str]) -> None:
        self.folder = folder
        self.planned = planned
        self._done: dict[str, RowRun] = {}

    def __call__(self, name: str) -> RowRun:
        if name not in self._done:
            self._run([row for row in self.planned if row not in self._done]
                      if name in self.planned else [name])
        return self._done[name]

    def _run(self, names: list[str]) -> None:
        runs = {}
        for name in names:
            row = registry.by_name(name)
            runs[name] = RowRun(row, {b: registry.readiness(row, b) for b in benchmarks.names()
                                      if b in row.entry_points})
        self._done.update(runs)
        ready = [name for name, run in runs.items() if any(r.ready for r in run.ready.values())]
        if not ready:
            return
        folder = self.folder / f"run{len(list(self.folder.iterdir()))}"
        folder.mkdir()
        results, verified = folder / "results.jsonl", folder / "verify.jsonl"
        # One process a run (`--repeat 1`): the tests read a run's record, not its figure, so
        # `verify` runs beside `all` (a smoke run trains a fixed number of steps whatever the
        # clock says). Each run keeps the harness's own timeout; these bound the commands.
        wait = beside(["all", "--impl", ",".join(ready), "--profile", PROFILE, "--data",
                       "synthetic", "--device", "cpu", "--repeat", "1", "--results", str(results),
                       "--data-dir", str(folder / "data")], timeout=1200 * len(ready))
        # ResNet-50 at 64x64 keeps the check quick; the network and its layers are the same.
        verify = harness(["verify", "--impl", ",".join(ready), "--device", "cpu",
                          "--image-size", "64", "--strict", "--results", str(verified)],
                         timeout=600 * len(ready))
        run = wait()
        records = read_results(results) if results.exists() else []
        checked = read_results(verified) if verified.exists() else []
        for name in ready:
            found = runs[name]
            found.run, found.verify, found.verified_beside = run, verify, checked
            found.records = [r for r in records if r["impl"] == name]
            found.verified = [r for r in checked if r["impl"] == name]


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


PLANNED = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def smoke_runs(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> SmokeRuns:
    return SmokeRuns(tmp_path_factory.mktemp("smoke-runs"),
                     request.config.stash.get(PLANNED, []))
