"""Installing the project beside frameworks that are already there (README "Set-up"): in a fresh
virtual environment holding a stand-in torch 2.11.0 - not the version CI tests - `pip install -e .
--no-deps` leaves it alone and `list` calls the row ready; `pip install -e ".[torch]"` would keep
it too. And pyproject.toml's extras agree with the registry's ranges and the constraints file."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from harness import registry, versions
from harness.run import envs
from tests.list_output import row_text

REPO = Path(__file__).resolve().parent.parent
STAND_IN_TORCH = "2.11.0"


def stand_in_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal pure-Python wheel (no download): `files` inside it, with its metadata."""
    dist_info = f"{name}-{version}.dist-info"
    contents = {**files,
                f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                      "Tag: py3-none-any\n"}
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


def project_copy(destination: Path) -> Path:
    """The project's sources (what `pip install -e .` needs), so the test writes nothing into
    the checkout."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, destination / name)
    for name in ("harness", "py_impls", "constraints"):
        shutil.copytree(REPO / name, destination / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return destination


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "HARNESS_PLUGINS")}
    env["COLUMNS"] = "300"  # `list` folds long cells less
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, **kwargs)


@pytest.fixture(scope="module")
def venv_with_torch(tmp_path_factory) -> tuple[Path, Path]:
    """A fresh venv (no system site-packages) holding the stand-in torch and the project's light
    dependencies, then the project installed with --no-deps. Returns (its python, the project)."""
    root = tmp_path_factory.mktemp("install")
    made = run([sys.executable, "-m", "venv", str(root / "venv")])
    if made.returncode != 0:
        pytest.skip(f"cannot make a virtual environment here: {made.stderr.strip()[-300:]}")
    python = root / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    light = run(pip + ["-c", str(REPO / "constraints" / "ci-cpu.txt"), "numpy", "h5py", "rich",
                       "pygments"])
    if light.returncode != 0:
        pytest.skip("cannot install numpy, h5py, rich and pygments (no package index reachable?): "
                    + light.stderr.strip()[-300:])
    torch = stand_in_wheel(root, "torch", STAND_IN_TORCH, {
        "torch/__init__.py": f"__version__ = '{STAND_IN_TORCH}'\n",
        "torch/version.py": f"__version__ = '{STAND_IN_TORCH}'\ncuda = '13.0'\n"})
    done = run(pip + [str(torch)])
    assert done.returncode == 0, done.stderr
    (root / "project").mkdir()
    project = project_copy(root / "project")
    done = run(pip + ["--no-deps", "-e", str(project)])
    assert done.returncode == 0, done.stderr
    return python, project


def installed_version(python: Path, distribution: str) -> str:
    done = run([str(python), "-c", "import importlib.metadata as m, sys; "
                                   f"print(m.version({distribution!r}))"])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.slow
def test_no_deps_install_beside_an_existing_torch_leaves_it_and_list_calls_it_ready(
        venv_with_torch):
    python, project = venv_with_torch
    assert installed_version(python, "torch") == STAND_IN_TORCH
    assert installed_version(python, "rosetta-dl-harness")
    listed = run([str(python), "-m", "harness", "list", "--verbose"], cwd=project)
    assert listed.returncode == 0, listed.stderr
    pytorch = row_text(listed.stdout, "pytorch")
    assert "ready" in pytorch and f"torch {STAND_IN_TORCH}" in pytorch
    tested = versions.tested_versions()["torch"]
    assert f"torch {STAND_IN_TORCH} is outside the tested set (CI tests {tested})" in pytorch


@pytest.mark.slow
def test_the_torch_extra_would_keep_the_installed_torch(venv_with_torch, tmp_path):
    python, project = venv_with_torch
    report = tmp_path / "report.json"
    done = run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--dry-run",
                "--report", str(report), "-e", f"{project}[torch]"])
    assert done.returncode == 0, done.stderr
    to_install = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())
                  ["install"]}
    assert "torch" not in to_install
    assert installed_version(python, "torch") == STAND_IN_TORCH


# ---------------------------------------------------------------- pyproject and constraints

def extras() -> dict[str, list[str]]:
    """pyproject.toml's [project.optional-dependencies], read without a TOML parser (Python
    3.10 has none): each extra's quoted requirement strings."""
    text = (REPO / "pyproject.toml").read_text()
    block = text.split("[project.optional-dependencies]")[1].split("\n[")[0]
    found: dict[str, list[str]] = {}
    for name, body in re.findall(r"^([\w-]+)\s*=\s*\[(.*?)\]\s*$", block, re.M | re.S):
        found[name] = re.findall(r'"([^"]+)"', body)
    return found


def split(requirement: str) -> tuple[str, str]:
    """('torch', '>=2.0,<3') of 'torch>=2.0,<3; marker' (extras such as [cuda12] dropped)."""
    name, spec = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?\s*([^;]*)", requirement).groups()
    return versions.normalize(name), spec.strip()


def registry_ranges() -> dict[str, set[str]]:
    ranges: dict[str, set[str]] = {}
    for row in registry.ROWS:
        for requirement in row.requires:
            for name in (requirement.distribution, *requirement.alternatives):
                ranges.setdefault(versions.normalize(name), set()).add(requirement.supported)
    return ranges


def test_no_extra_pins_an_exact_version():
    for extra, requirements in extras().items():
        assert not [r for r in requirements if "==" in r.split(";")[0]], extra


def test_every_framework_range_in_the_extras_is_one_the_registry_checks():
    ranges = registry_ranges()
    checked = 0
    for extra, requirements in extras().items():
        for name, spec in map(split, requirements):
            if name in ranges and extra != "test":
                assert spec in ranges[name], f"[{extra}] {name}{spec}: registry has {ranges[name]}"
                checked += 1
    assert checked >= 8


def test_the_tested_versions_lie_inside_the_supported_ranges():
    for row in registry.ROWS:
        for requirement in row.requires:
            tested = versions.tested_version(requirement, row.environment)
            if tested:
                assert not versions.version_notes(requirement, requirement.distribution, tested,
                                                  row.environment), (row.name, tested)


def test_ci_installs_with_the_constraints_file():
    """The README's CI block (what .ci/run executes) runs tests/run_all.sh, which installs the
    project with the constraints file CI tests."""
    block = (REPO / "README.md").read_text().split("<!-- ci:test-commands -->")[1]
    block = block.split("<!-- /ci:test-commands -->")[0]
    assert "bash tests/run_all.sh" in block
    script = (REPO / "tests" / "run_all.sh").read_text()
    assert re.search(r"pip install -c constraints/ci-cpu\.txt -e \"\.\[all,mlx,tinygrad,test\]\"",
                     script)


def test_the_isolated_environments_install_with_their_constraints(tmp_path, monkeypatch):
    """`python -m harness setup mxnet`: every pip install gets -c constraints/envs-cpu.txt (the
    set-up is stopped at its first pip step; the real set-ups run in CI)."""
    monkeypatch.setenv(envs.ENVS_DIR_VARIABLE, str(tmp_path / "envs"))
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 1 if "pip" in command else 0, "", "")

    monkeypatch.setattr(envs.subprocess, "run", fake_run)
    assert envs.setup_environment("mxnet", Console(file=io.StringIO())) == 1
    pip = next(c for c in commands if "pip" in c)
    assert pip[pip.index("-c") + 1] == str(envs.CONSTRAINTS) and envs.CONSTRAINTS.exists()
    assert "mxnet==1.9.1" in pip
