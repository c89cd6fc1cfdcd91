"""Isolated per-framework environments (harness.run.envs): where they live, when they count as
ready, that set-up records an environment only when every step succeeded, and that the registry
and the runner use them. Fake environments in a temporary HARNESS_ENVS_DIR; no framework is
installed here (the real set-ups run in CI, see test_mxnet.py and test_chainer.py)."""

import json
import os
import sys
from pathlib import Path

import pytest
from rich.console import Console

from harness import benchmarks, registry
from harness.run import envs
from harness.registry import Row
from harness.run.runner import RunSettings, run_one


@pytest.fixture
def envs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(envs.ENVS_DIR_VARIABLE, str(tmp_path / "envs"))
    return tmp_path / "envs"


def fake_environment(name: str, python: str | None = sys.executable, record: bool = True) -> Path:
    """An environment folder whose interpreter is `python` (a link; None: none) and, if
    `record`, the record a completed set-up writes."""
    where = envs.environment_dir(name)
    envs.interpreter(name).parent.mkdir(parents=True)
    (where / "pyvenv.cfg").write_text("home = /usr/bin\n")
    if python is not None:
        envs.interpreter(name).symlink_to(python)
    if record:
        (where / envs.RECORD_NAME).write_text(json.dumps(
            {"spec": envs.spec_as_recorded(envs.ENVIRONMENTS[name])}))
    return where


def test_environments_live_under_the_configured_folder(envs_dir):
    assert envs.interpreter("mxnet") == envs_dir / "mxnet" / "bin" / "python"
    assert set(envs.ENVIRONMENTS) >= {"mxnet", "chainer"}


def test_the_default_folder_is_the_gitignored_envs_in_the_repository(monkeypatch):
    monkeypatch.delenv(envs.ENVS_DIR_VARIABLE, raising=False)
    repo = Path(__file__).resolve().parent.parent
    assert envs.envs_dir() == repo / "envs"
    assert "/envs/" in (repo / ".gitignore").read_text().split()


def test_a_missing_environment_says_so(envs_dir):
    assert envs.environment_problem("mxnet") == (
        f"environment `mxnet` not set up ({envs_dir / 'mxnet'} does not exist)")


def test_an_unknown_environment_names_the_known_ones(envs_dir):
    assert envs.environment_problem("caffe") == "unknown environment `caffe` (known: " + \
        ", ".join(envs.ENVIRONMENTS) + ")"


def test_an_environment_without_its_record_is_broken(envs_dir):
    fake_environment("mxnet", record=False)
    assert envs.environment_problem("mxnet") == (
        "environment `mxnet` is broken: its set-up did not complete (no harness-environment.json)")


def test_an_environment_made_for_another_spec_is_out_of_date(envs_dir):
    where = fake_environment("chainer")
    (where / envs.RECORD_NAME).write_text(json.dumps({"spec": {"name": "chainer", "pins": []}}))
    assert "out of date" in envs.environment_problem("chainer")


def test_a_missing_interpreter_is_broken(envs_dir):
    fake_environment("mxnet", python=None)
    assert envs.environment_problem("mxnet").startswith(
        "environment `mxnet` is broken: its interpreter")
    assert "is missing" in envs.environment_problem("mxnet")


def test_an_interpreter_that_does_not_run_is_broken(envs_dir, tmp_path):
    failing = tmp_path / "failing-python"
    failing.write_text("#!/bin/sh\necho 'libpython3.11.so: cannot open shared object' >&2\n"
                       "exit 127\n")
    failing.chmod(0o755)
    fake_environment("mxnet", python=str(failing))
    assert envs.environment_problem("mxnet") == (
        "environment `mxnet` is broken: its interpreter exits with code 127 "
        "(libpython3.11.so: cannot open shared object)")


def test_a_complete_environment_is_ready(envs_dir):
    fake_environment("mxnet")
    assert envs.environment_problem("mxnet") is None


def test_readiness_of_a_row_in_an_environment(envs_dir):
    impl = registry.by_name("mxnet-gluon")
    ready = registry.readiness(impl, "cnn")
    assert not ready.ready and "environment `mxnet` not set up" in ready.reason
    assert ready.fix == "python -m harness setup mxnet"
    fake_environment("mxnet")
    assert registry.readiness(impl, "cnn").ready  # its packages are not looked for here


def test_registry_rows_name_their_environment():
    for name, environment in (("mxnet-gluon", "mxnet"), ("mxnet-module", "mxnet"),
                              ("chainer", "chainer")):
        impl = registry.by_name(name)
        assert impl.environment == environment
        assert impl.install == f"python -m harness setup {environment}"
    assert set(registry.by_name("mxnet-module").entry_points) == {"cnn"}
    assert set(registry.by_name("chainer").entry_points) == set(benchmarks.names())


def test_the_runner_starts_the_child_with_the_environments_interpreter(envs_dir, tmp_path,
                                                                      monkeypatch):
    """A fake `mxnet` environment whose interpreter is a wrapper that leaves a mark."""
    wrapper = tmp_path / "python-wrapper"
    mark = tmp_path / "used"
    wrapper.write_text(f"#!/bin/sh\ntouch {mark}\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    fake_environment("mxnet", python=str(wrapper))
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_registry")  # declares fake-ok's entry
    impl = Row(name="fake-ok", framework="NumPy", language="python",
                          entry_points={"inference": "tests.fake_impls:ZeroFeatures"},
                          description="test double", environment="mxnet")
    settings = RunSettings(profile="quick", data="synthetic", device="cpu", timeout=120,
                           results=tmp_path / "results.jsonl")
    record = run_one(impl, "inference", 0, settings)
    assert record["status"] == "ok", record["reason"]
    assert mark.exists()


def test_setup_of_an_unknown_environment_fails_with_the_known_names(envs_dir):
    console = Console(record=True, width=200)
    assert envs.setup_environment("caffe", console) == 2
    assert "known: mxnet, chainer" in console.export_text()


def test_setup_refuses_to_replace_a_folder_that_is_not_an_environment(envs_dir):
    where = envs.environment_dir("mxnet")
    where.mkdir(parents=True)
    (where / "notes.txt").write_text("mine")
    console = Console(record=True, width=200)
    assert envs.setup_environment("mxnet", console) == 1
    assert (where / "notes.txt").exists()
    assert "is not a virtual environment" in console.export_text()


def test_a_ready_environment_is_kept(envs_dir):
    where = fake_environment("chainer")
    console = Console(record=True, width=200)
    assert envs.setup_environment("chainer", console) == 0
    assert "is ready" in console.export_text() and (where / envs.RECORD_NAME).exists()


@pytest.mark.slow
def test_a_failed_setup_leaves_no_record(envs_dir, monkeypatch):
    """A step that fails (here: a package that does not exist, with no index to look in) ends
    set-up with exit status 1, the log's tail shown, and the environment still not ready."""
    spec = envs.EnvironmentSpec(name="mxnet", framework="MXNet",
                                steps=(("--no-index", "no-such-package-for-harness-tests"),),
                                pins=(), check="print(1)")
    monkeypatch.setitem(envs.ENVIRONMENTS, "mxnet", spec)
    fake_environment("mxnet", record=False)  # a half-made one: replaced from scratch
    console = Console(record=True, width=200)
    assert envs.setup_environment("mxnet", console) == 1
    text = console.export_text()
    assert "set-up of environment `mxnet` failed" in text
    assert "no-such-package-for-harness-tests" in text
    assert not (envs.environment_dir("mxnet") / envs.RECORD_NAME).exists()
    assert "did not complete" in envs.environment_problem("mxnet")
    assert os.path.exists(envs.interpreter("mxnet"))  # a real venv was made before the failure


def test_an_interpreter_linked_into_a_folder_others_can_write_is_not_trusted(envs_dir,
                                                                             tmp_path):
    """The environment's own folders are yours alone, but its `python` links to a file in a
    folder anyone can write: whoever writes there chooses what runs."""
    shared = tmp_path / "shared"
    shared.mkdir()
    python = shared / "python3"
    python.symlink_to(sys.executable)
    shared.chmod(0o777)
    fake_environment("mxnet", python=str(python))
    assert envs.environment_problem("mxnet") == (
        f"environment `mxnet` is not trusted: {shared} is writable by group or others (mode "
        f"0777), so another user could change the interpreter it runs; fix: chmod go-w {shared}")


@pytest.mark.slow
def test_setup_makes_an_environment_only_you_can_change_whatever_the_umask(envs_dir,
                                                                          monkeypatch):
    """Under a umask of 002 (usual where each user has a group of their own) set-up made
    group-writable folders, which the interpreter check then refused."""
    spec = envs.EnvironmentSpec(name="mxnet", framework="MXNet",
                                steps=(("--no-index", "no-such-package-for-harness-tests"),),
                                pins=(), check="print(1)")
    monkeypatch.setitem(envs.ENVIRONMENTS, "mxnet", spec)
    previous = os.umask(0o002)
    try:
        envs.setup_environment("mxnet", Console(record=True, width=200))  # fails after the venv
    finally:
        os.umask(previous)
    python = envs.interpreter("mxnet")
    assert python.exists()
    for folder in (envs_dir, python.parent.parent, python.parent):
        assert folder.stat().st_mode & 0o022 == 0, f"{folder} is group- or world-writable"
    assert envs.interpreter_problem("mxnet") is None
