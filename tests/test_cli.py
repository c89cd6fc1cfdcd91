"""`list` and the profile choice."""

from harness import registry
from harness import commands as cli
from harness.commands import run as run_command


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
