"""CI mode (CI=true in the environment, or --fail-on-skip): a skipped test fails the run unless its
reason matches a line of tests/allowed_skips.txt. pytest passes a run with skips, so without this
a test whose package broke, or whose environment went missing, would vanish from a green run.

Also: the session's stop signals as under a terminal, whoever started pytest."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

# One smoke run of the rows the session needs, shared by the tests that need real records
# (tests/smoke_runs.py: its fixture and the hook that plans the rows); not there when
# tests/test_ci_skips.py copies this file to run a small suite of its own.
try:
    from tests.smoke_runs import (  # noqa: F401
        pytest_collection_modifyitems, smoke_runs, smoke_runs_started)
except ImportError:
    pass

ALLOWED_SKIPS = Path(__file__).with_name("allowed_skips.txt")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fail-on-skip", action="store_true",
                     help=f"fail every skip whose reason is not allowed by {ALLOWED_SKIPS.name} "
                          f"(on by default when CI=true)")


def allowed_patterns(path: Path = ALLOWED_SKIPS) -> list[re.Pattern[str]]:
    """The allow-list's patterns: one per line, a comment after '  # ', blank lines ignored."""
    patterns = []
    for line in path.read_text().splitlines():
        pattern = line.split("  # ", 1)[0].strip()
        if pattern and not pattern.startswith("#"):
            patterns.append(re.compile(pattern))
    return patterns


def _ci_mode(config: pytest.Config) -> bool:
    return config.getoption("--fail-on-skip") or os.environ.get("CI", "").lower() == "true"


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _fail_unallowed_skip(config: pytest.Config,
                         report: pytest.CollectReport | pytest.TestReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail") or not _ci_mode(config):
        return
    reason = _skip_reason(report)
    if any(pattern.search(reason) for pattern in config._allowed_skips):
        return
    report.outcome = "failed"
    report.longrepr = (f"skipped in CI mode, and the reason is not allowed by "
                       f"tests/{ALLOWED_SKIPS.name}: {reason}")


def _stop_signals_as_under_a_terminal() -> None:
    """A script's background job and `nohup` start pytest with SIGINT (and SIGHUP) ignored, and
    every process it starts inherits that; the harness rightly leaves an ignored signal ignored,
    so the tests that stop it by signal would wait out their deadlines (9 of them did, and a
    hung Slurm job of one held the local cluster's node). Handlers instead of SIG_IGN: children
    get the default at exec, while pytest under nohup still outlives a hangup."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        signal.signal(signal.SIGHUP, lambda signum, frame: None)


def pytest_configure(config: pytest.Config) -> None:
    _stop_signals_as_under_a_terminal()
    config.ci_mode = _ci_mode(config)  # also read by tests/smoke_runs.py
    config._allowed_skips = allowed_patterns() if config.ci_mode else []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    _fail_unallowed_skip(item.config, outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield  # a module-level skip (pytest.skip(allow_module_level=True), importorskip)
    _fail_unallowed_skip(collector.config, outcome.get_result())
