"""Environment variables that make the harness import or execute code, tried as a hostile or
careless user would (README, "Environment variables and the trust model"): none of them may run
code the user did not write or own.

Each case plants code that leaves a marker file when it runs, then checks the message, the exit
code, and that the marker is absent: a module in the current directory named by
`HARNESS_PLUGINS`, bad `HARNESS_PLUGINS` values, a job file naming code the registry does not
declare, a `HARNESS_ENVS_DIR` another user could write to. Plugins named as the README says
still work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from harness.run import envs
from harness.run.job import Job
from tests.report_fixtures import record

REPO = Path(__file__).resolve().parent.parent


def planted(path: Path, marker: Path, body: str = "") -> Path:
    """A Python file that leaves `marker` when it is imported."""
    path.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n{body}")
    return path


def harness(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("HARNESS_") and k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**base, "COLUMNS": "1000", **env})


def results_file(tmp_path: Path) -> Path:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record("cnn", "pytorch", 100.0, 0.7)) + "\n")
    return path


# -- HARNESS_PLUGINS ---------------------------------------------------------------------------

@pytest.mark.slow
def test_a_module_in_the_current_directory_is_not_imported_by_name(tmp_path):
    marker = tmp_path / "marker"
    planted(tmp_path / "evil.py", marker, "ROWS = []\n")
    results = results_file(tmp_path)
    shown = harness("harness", "report", str(results), cwd=tmp_path, HARNESS_PLUGINS="evil")
    assert shown.returncode == 0, shown.stderr
    assert "pytorch" in shown.stdout  # the stored results are still reported
    ran = harness("harness", "cnn", "--impl", "pytorch", "--profile", "quick",
                  "--results", str(tmp_path / "new.jsonl"), cwd=tmp_path,
                  HARNESS_PLUGINS="evil")
    assert ran.returncode == 2
    assert ran.stderr.strip() == (
        "error: HARNESS_PLUGINS='evil': no module named 'evil' (the current directory is not "
        "searched); to run the one here, name its file: HARNESS_PLUGINS=./evil.py")
    assert not marker.exists() and not (tmp_path / "new.jsonl").exists()


BAD_VALUES = {  # value -> (file to plant in the current directory, what the message says)
    "no_such_plugin_module": (None, "no module named 'no_such_plugin_module'; install it"),
    "./missing.py": (None, "no such file"),
    "./broken.py": ("raise RuntimeError('plugin bug')\n",
                    "importing it failed: RuntimeError: plugin bug; fix the plugin"),
    "./not_a_plugin.py": ("X = 1\n", "has neither BENCHMARKS nor ROWS, so it is not a plugin"),
    "./wrong_rows.py": ("ROWS = ['pytorch']\n", "ROWS holds 'pytorch', not a harness.registry.Row"),
    "./clash.py": ("from harness.registry import Row\nROWS = [Row(name='pytorch', framework='X', "
                   "language='python', entry_points={}, description='')]\n",
                   "a row named 'pytorch' already exists; rename the plugin's row"),
    "json": (None, "module json has neither BENCHMARKS nor ROWS"),
    "not a module!": (None, "neither a module name nor a path to a .py file"),
}


@pytest.mark.slow
@pytest.mark.parametrize("value", list(BAD_VALUES))
def test_a_bad_plugin_value_is_one_line_runs_stop_and_report_goes_on(tmp_path, value):
    body, says = BAD_VALUES[value]
    if body is not None:
        (tmp_path / value.removeprefix("./")).write_text(body)
    results = results_file(tmp_path)
    ran = harness("harness", "all", "--profile", "quick", "--results", str(tmp_path / "new.jsonl"),
                  cwd=tmp_path, HARNESS_PLUGINS=value)
    assert ran.returncode == 2
    assert ran.stderr.startswith(f"error: HARNESS_PLUGINS={value!r}: ") and says in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1 and "Traceback" not in ran.stderr
    assert not (tmp_path / "new.jsonl").exists()
    shown = harness("harness", "report", str(results), cwd=tmp_path, HARNESS_PLUGINS=value)
    assert shown.returncode == 0, shown.stderr
    assert "pytorch" in shown.stdout
    assert shown.stderr.startswith(f"warning: HARNESS_PLUGINS={value!r}: ")
    assert shown.stderr.rstrip().endswith("; going on without it")


def test_a_plugin_file_others_can_write_is_not_imported(tmp_path):
    marker = tmp_path / "marker"
    plugin = planted(tmp_path / "shared_plugin.py", marker, "ROWS = []\n")
    plugin.chmod(0o666)
    ran = harness("harness", "all", cwd=tmp_path, HARNESS_PLUGINS=str(plugin))
    assert ran.returncode == 2
    assert f"{plugin} is writable by group or others (mode 0666)" in ran.stderr
    assert f"chmod go-w {plugin}" in ran.stderr
    assert not marker.exists()


def test_a_plugin_file_of_another_user_is_not_imported_and_chmod_is_not_the_fix(tmp_path):
    marker = tmp_path / "marker"
    plugin = planted(tmp_path / "their_plugin.py", marker, "ROWS = []\n")
    plugin.chmod(0o644)
    lend_to_another_user(plugin)
    ran = harness("harness", "all", cwd=tmp_path, HARNESS_PLUGINS=str(plugin))
    assert ran.returncode == 2
    assert f"{plugin} is owned by another user (uid 65534)" in ran.stderr
    assert ("read it, copy it to a file of your own and name that copy, or remove it from "
            "HARNESS_PLUGINS") in ran.stderr and "chmod" not in ran.stderr
    assert not marker.exists()


PLUGIN = """
from harness.registry import Row
from tests.fake_impls import ZeroFeatures


class Zero(ZeroFeatures):
    pass


ROWS = [Row(name="planted-zero", framework="NumPy", language="python",
            entry_points={"inference": f"{__name__}:Zero"}, description="test double")]
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["relative file", "module on PYTHONPATH"])
def test_a_plugin_named_as_documented_runs_in_the_children(tmp_path, how):
    """A file named relative to where the harness starts (its children start elsewhere), or a
    module in a folder PYTHONPATH names."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "zero_plugin.py").write_text(PLUGIN)
    env = ({"HARNESS_PLUGINS": "./lib/zero_plugin.py"} if how == "relative file"
           else {"HARNESS_PLUGINS": "zero_plugin", "PYTHONPATH": str(lib)})
    results = tmp_path / "r.jsonl"
    ran = harness("harness", "inference", "--impl", "planted-zero", "--profile", "quick", "--repeat", "1",
                  "--device", "cpu", "--results", str(results), cwd=tmp_path, **env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    [stored] = [json.loads(line) for line in results.read_text().splitlines()]
    assert stored["impl"] == "planted-zero" and stored["status"] == "ok", stored["reason"]


# -- the workers run only what the registry declares ------------------------------------------

UNDECLARED = [
    ("pytorch", "inference", "evil:Planted"),  # a module outside the registry
    ("pytorch", "cnn", "os:system"),
    ("pytorch", "cnn", "py_impls.tf_keras:CNN"),  # another row's entry point
    ("no-such-row", "cnn", "py_impls.pytorch:CNN"),
]


@pytest.mark.slow
@pytest.mark.parametrize("impl, benchmark, entry_point", UNDECLARED)
def test_the_run_worker_refuses_an_entry_point_the_registry_does_not_declare(
        tmp_path, impl, benchmark, entry_point):
    marker = tmp_path / "marker"
    planted(tmp_path / "evil.py", marker, "class Planted:\n    pass\n")
    job = tmp_path / "job.json"
    Job(benchmark=benchmark, impl=impl, entry_point=entry_point, device="cpu",
        data="synthetic").save(job)
    result = tmp_path / "result.json"
    done = harness("harness.run.worker", str(job), str(result), cwd=tmp_path,
                   PYTHONPATH=str(tmp_path))
    assert done.returncode == 1
    error = json.loads(result.read_text())["error"]
    assert error.startswith(f"UndeclaredEntryPoint: the job names entry point {entry_point!r} "
                            f"for benchmark {benchmark!r}, which row {impl!r} does not declare")
    assert not marker.exists()


def test_the_verify_worker_refuses_an_entry_point_the_registry_does_not_declare(tmp_path):
    marker = tmp_path / "marker"
    planted(tmp_path / "evil.py", marker, "class Planted:\n    pass\n")
    case = tmp_path / "case.npz"
    np.savez(case, x=np.zeros((1, 3, 8, 8), np.float32))
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"benchmark": "inference", "entry_point": "evil:Planted",
                               "options": {}, "device": "cpu", "seed": 0, "case": str(case),
                               "out": str(tmp_path / "out.npz"),
                               "report": str(tmp_path / "report.json")}))
    done = harness("harness.verify.worker", str(job), cwd=tmp_path, PYTHONPATH=str(tmp_path))
    assert done.returncode == 1
    error = json.loads((tmp_path / "report.json").read_text())["error"]
    assert "entry point 'evil:Planted' for benchmark 'inference', which no registry row " \
           "declares" in error
    assert not marker.exists()


# -- HARNESS_ENVS_DIR --------------------------------------------------------------------------

def planted_environment(envs_root: Path, marker: Path) -> None:
    """An `mxnet` environment as a completed set-up leaves it, whose interpreter leaves
    `marker` and then runs this Python."""
    where = envs_root / "mxnet"
    (where / "bin").mkdir(parents=True)
    python = where / "bin" / "python"
    python.write_text(f"#!/bin/sh\necho ran > {marker}\nexec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    (where / envs.RECORD_NAME).write_text(
        json.dumps({"spec": envs.spec_as_recorded(envs.ENVIRONMENTS["mxnet"])}))


def lend_to_another_user(path: Path) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("only root can give a folder to another user")
    os.chown(path, 65534, -1)  # nobody


@pytest.mark.slow
@pytest.mark.parametrize("how, says, fix", [
    ("writable by others", "is writable by group or others (mode 0777)",
     "use a directory of yours (chmod go-w {top}) or unset HARNESS_ENVS_DIR"),
    ("owned by another user", "is owned by another user (uid 65534)",
     "set it to a directory you own or unset HARNESS_ENVS_DIR"),  # chmod would not do
])
def test_list_does_not_run_an_interpreter_another_user_could_plant(tmp_path, how, says, fix):
    envs_root, marker = tmp_path / "envs", tmp_path / "marker"
    planted_environment(envs_root, marker)
    if how == "writable by others":
        envs_root.chmod(0o777)
    else:
        lend_to_another_user(envs_root)
    listed = harness("harness", "list", cwd=tmp_path, HARNESS_ENVS_DIR=str(envs_root))
    assert listed.returncode == 0, listed.stderr
    assert f"HARNESS_ENVS_DIR={envs_root} {says}: another user could plant its " \
           f"interpreters; {fix.format(top=envs_root)}" in listed.stdout
    assert not marker.exists()


@pytest.mark.slow
def test_list_does_not_run_an_interpreter_planted_below_a_safe_top_folder(tmp_path):
    """The top folder is yours alone, but its `mxnet/bin` is writable by everyone and the
    `python` in it belongs to another user: it was run, and the rows were called ready."""
    envs_root, marker = tmp_path / "envs", tmp_path / "marker"
    planted_environment(envs_root, marker)
    envs_root.chmod(0o755)
    where = envs_root / "mxnet"
    (where / "bin").chmod(0o777)
    lend_to_another_user(where / "bin" / "python")
    listed = harness("harness", "list", cwd=tmp_path, HARNESS_ENVS_DIR=str(envs_root))
    assert listed.returncode == 0, listed.stderr
    assert not marker.exists()
    assert (f"environment `mxnet` is not trusted: {where / 'bin'} is writable by group or "
            f"others (mode 0777); {where / 'bin' / 'python'} is owned by another user (uid "
            f"65534), so another user could change the interpreter it runs; fix: remove "
            f"{where} (as root if its files are not yours) and make it again: python -m "
            f"harness setup mxnet") in listed.stdout
    assert "mxnet-gluon" in listed.stdout and "ready" not in row_of(listed.stdout, "mxnet-gluon")


@pytest.mark.slow
def test_a_writable_folder_below_the_top_names_that_folder_and_chmod(tmp_path):
    envs_root, marker = tmp_path / "envs", tmp_path / "marker"
    planted_environment(envs_root, marker)
    envs_root.chmod(0o755)
    (envs_root / "mxnet").chmod(0o775)
    variables = {envs.ENVS_DIR_VARIABLE: str(envs_root)}
    listed = harness("harness", "list", cwd=tmp_path, **variables)
    assert (f"environment `mxnet` is not trusted: {envs_root / 'mxnet'} is writable by group "
            f"or others (mode 0775), so another user could change the interpreter it runs; "
            f"fix: chmod go-w {envs_root / 'mxnet'}") in listed.stdout
    assert not marker.exists()
    (envs_root / "mxnet").chmod(0o755)  # the fix the message names
    listed = harness("harness", "list", cwd=tmp_path, **variables)
    assert "not trusted" not in listed.stdout and marker.exists()


def row_of(listing: str, impl: str) -> str:
    return next(line for line in listing.splitlines() if f" {impl} " in f" {line} ")


@pytest.mark.slow
def test_an_environments_folder_only_you_can_write_is_used(tmp_path):
    envs_root, marker = tmp_path / "envs", tmp_path / "marker"
    planted_environment(envs_root, marker)
    envs_root.chmod(0o755)
    listed = harness("harness", "list", cwd=tmp_path, HARNESS_ENVS_DIR=str(envs_root))
    assert listed.returncode == 0, listed.stderr
    assert "HARNESS_ENVS_DIR" not in listed.stdout
    assert marker.exists()  # its interpreter was checked: the folder is yours


def test_setup_refuses_an_environments_folder_others_can_write(tmp_path, monkeypatch):
    envs_root, marker = tmp_path / "envs", tmp_path / "marker"
    planted_environment(envs_root, marker)
    envs_root.chmod(0o777)
    monkeypatch.setenv(envs.ENVS_DIR_VARIABLE, str(envs_root))
    console = Console(record=True, width=400)
    assert envs.setup_environment("mxnet", console) == 1
    assert "is writable by group or others" in console.export_text()
    assert not marker.exists() and (envs_root / "mxnet" / envs.RECORD_NAME).exists()
