"""`list`, the profile choice and `--repeat`. (Every row in `list` and `show`:
tests/test_listing_all_rows.py.)"""

import os
import pytest

from harness import registry
from harness import commands as cli
from harness.commands import run as run_command
from harness.run.results import read_results
from tests import fake_process_group


def test_list_names_every_row_with_its_status(capsys, monkeypatch):
    monkeypatch.setattr(registry, "gpu_present", lambda: False)
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "pytorch" in out
    assert "cntk" in out and "Python 3.5/3.6" in out
    assert "caffe2" in out


def test_a_missing_package_is_reported_with_its_fix(monkeypatch):
    impl = registry.Row(
        name="imaginary", framework="Imaginary", language="python",
        entry_points={"cnn": "nowhere:CNN"}, description="",
        requires=(registry.Requirement("imaginary-dl", "imaginary_dl_pkg"),),
        install='pip install -e ".[imaginary]"')
    ready = registry.readiness(impl, "cnn", gpu=False)
    assert not ready.ready
    assert ready.reason == "imaginary-dl is not installed"
    assert ready.fix == 'pip install -e ".[imaginary]"'


def test_a_too_old_package_is_reported():
    req = registry.Requirement("numpy", "numpy", minimum="999.0")
    assert "too old (need >= 999.0)" in req.problem()


def test_gpu_only_rows_say_so():
    impl = registry.Row(name="g", framework="G", language="python",
                                   entry_points={"cnn": "m:C"}, description="", needs_gpu=True)
    assert "needs an NVIDIA GPU" in registry.readiness(impl, "cnn", gpu=False).reason


def test_without_a_gpu_the_default_profile_is_quick_and_says_so(capsys, monkeypatch):
    monkeypatch.setattr(registry, "gpu_present", lambda: False)
    assert run_command.choose_profile(None) == "quick"
    assert "--profile full" in capsys.readouterr().out
    assert run_command.choose_profile("full") == "full"


def test_with_a_gpu_the_default_profile_is_full(monkeypatch):
    monkeypatch.setattr(registry, "gpu_present", lambda: True)
    assert run_command.choose_profile(None) == "full"


@pytest.mark.slow
def test_repeat_2_gives_two_records_from_two_fresh_processes(tmp_path, monkeypatch):
    """Breakage caught: repeats run in one process (warm caches, compiled code carried over)
    or one repeat dropped."""
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + fake_process_group.ROWS)
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_process_group")  # the child's rows too
    results = tmp_path / "r.jsonl"
    assert cli.main(["inference", "--impl", "fake-pid", "--repeat", "2", "--profile", "quick",
                     "--results", str(results)]) == 0
    records = read_results(results)
    assert len(records) == 2 and len({r["repeat"] for r in records}) == 2
    pids = {r["env"]["framework_extra"]["pid"] for r in records}
    assert len(pids) == 2 and os.getpid() not in pids
