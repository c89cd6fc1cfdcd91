"""CI mode (tests/conftest.py): with CI=true a skip fails the run unless tests/allowed_skips.txt
allows its reason, whether the test skips itself or its module does; without it, skips are skips.
Run on a small suite of its own, in a pytest process of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SUITE = {
    "test_allowed.py": '''
import pytest

def test_julia_row():
    pytest.skip("knet cannot run cnn here: julia not found on PATH (need Julia 1.6-1.9)")

def test_runs():
    pass
''',
    "test_not_allowed.py": '''
import pytest

def test_skips_for_no_good_reason():
    pytest.skip("a temporary skip outside the allow-list")
''',
    "test_module_skip.py": '''
import pytest

pytest.importorskip("no_such_framework_anywhere")

def test_never_collected():
    pass
''',
}


def run_suite(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    for name, code in SUITE.items():
        (tmp_path / name).write_text(code)
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(TESTS / "allowed_skips.txt", tmp_path / "allowed_skips.txt")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
                           "--continue-on-collection-errors",
                           str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("ci", [True, False], ids=["CI=true", "locally"])
def test_a_skip_outside_the_allow_list_fails_only_in_ci(tmp_path, ci):
    """Breakage caught: a hook that is not active (or lets every reason through): CI passes with
    tests that never ran."""
    done = run_suite(tmp_path, ci)
    out = done.stdout
    if ci:
        assert done.returncode != 0, out
        assert "FAILED test_not_allowed.py::test_skips_for_no_good_reason" in out, out
        assert "ERROR test_module_skip.py" in out and "no_such_framework_anywhere" in out, out
        assert "not allowed by tests/allowed_skips.txt" in out
        assert "julia not found on PATH" in out and "1 skipped" in out  # allowed: a skip
    else:
        assert done.returncode == 0, out
        assert "3 skipped" in out and "1 passed" in out, out
