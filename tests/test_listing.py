"""`python -m harness list`: text printed intact (rich markup escaped), the installed versions
against the supported range and the tested set, and a row that would run on the CPU of a machine
with a GPU named as such."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import commands as cli
from harness import registry, versions
from tests.list_output import row_text

REPO = Path(__file__).resolve().parent.parent
RICH = importlib.metadata.version("rich")


def make_row(name: str, *requires: registry.Requirement,
             install: str = 'pip install -e ".[tensorflow]"') -> registry.Row:
    return registry.Row(name=name, framework="Imaginary", language="python",
                        entry_points={"cnn": "nowhere:CNN"}, description="", requires=requires,
                        install=install)


@pytest.fixture
def listed(monkeypatch, capsys, tmp_path):
    """`list` over the rows given, with `tested` as the CI constraints file; its output."""
    def run(rows: list[registry.Row], tested: str = "") -> str:
        constraints = tmp_path / "ci-cpu.txt"
        constraints.write_text(tested)
        monkeypatch.setattr(registry, "ROWS", rows)
        monkeypatch.setattr(registry, "gpu_present", lambda: False)
        monkeypatch.setattr(versions, "CI_CONSTRAINTS", constraints)
        versions.tested_versions.cache_clear()
        try:
            assert cli.main(["list"]) == 0
        finally:
            versions.tested_versions.cache_clear()
        return capsys.readouterr().out
    return run


def test_the_fix_and_the_reason_keep_their_brackets(listed):
    out = listed([make_row("imaginary", registry.Requirement("imaginary-dl[gpu]", "imaginary_pkg"))])
    text = row_text(out, "imaginary")
    assert 'pip install -e ".[tensorflow]"' in text
    assert "imaginary-dl[gpu] is not installed" in text


def test_the_installed_version_and_the_supported_range_are_shown(listed):
    out = listed([make_row("light", registry.Requirement("rich", "rich", "13", "99"))],
                 tested=f"rich=={RICH}\n")
    text = row_text(out, "light")
    assert f"rich {RICH}" in text and "rich >=13,<99" in text and "ready" in text
    assert "outside the tested set" not in text and "newer than" not in text


def test_a_version_other_than_the_tested_one_runs_and_is_marked(listed):
    out = listed([make_row("light", registry.Requirement("rich", "rich", "13", "99"))],
                 tested="rich==13.0.0\n")
    text = row_text(out, "light")
    assert "ready" in text
    assert f"rich {RICH} is outside the tested set (CI tests 13.0.0)" in text


def test_a_version_past_the_supported_range_runs_and_is_marked(listed):
    below = str(int(RICH.split(".")[0]))  # the installed major: RICH is at or past it
    out = listed([make_row("light", registry.Requirement("rich", "rich", "1", below))])
    text = row_text(out, "light")
    assert "ready" in text
    assert f"rich {RICH} is newer than the supported range >=1,<{below}" in text


def stand_in_torch(where: Path, cuda: str) -> Path:
    """A package `torch` 2.11.0 whose build info says `cuda = <cuda>`, as torch's own does."""
    site = where / f"site-{cuda.strip(chr(39))}"
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "__init__.py").write_text("")
    (site / "torch" / "version.py").write_text(f"__version__ = '2.11.0'\ncuda = {cuda}\n")
    (site / "torch-2.11.0.dist-info").mkdir()
    (site / "torch-2.11.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: torch\nVersion: 2.11.0\n")
    return site


def list_with_gpu(tmp_path: Path, site: Path) -> str:
    """`python -m harness list` on a machine whose nvidia-smi lists a GPU, with `site` first on
    the path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)'\n")
    smi.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "300",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("HARNESS_PLUGINS", None)
    done = subprocess.run([sys.executable, "-m", "harness", "list"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "GPU: yes" in done.stdout
    return done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="a stand-in nvidia-smi is a shell script")
def test_a_cpu_only_build_on_a_gpu_machine_is_named_with_its_fix(tmp_path):
    text = row_text(list_with_gpu(tmp_path, stand_in_torch(tmp_path, "None")), "pytorch")
    assert "ready" in text
    assert "runs on the CPU although this machine has a GPU: torch 2.11.0 is a CPU-only build" \
        in text
    assert "pip uninstall -y torch" in text and "download.pytorch.org/whl/cu" in text


@pytest.mark.skipif(sys.platform == "win32", reason="a stand-in nvidia-smi is a shell script")
def test_a_cuda_build_on_a_gpu_machine_is_not_marked(tmp_path):
    text = row_text(list_with_gpu(tmp_path, stand_in_torch(tmp_path, "'12.8'")), "pytorch")
    assert "ready" in text and "torch 2.11.0" in text
    assert "runs on the CPU" not in text


def test_a_ready_rows_own_caveat_is_shown(listed):
    row = registry.Row(name="caveat", framework="Imaginary", language="python",
                       entry_points={"cnn": "nowhere:CNN"}, description="",
                       notice=lambda: "runs on the CPU here [sm_90 is too new]")
    text = row_text(listed([row]), "caveat")
    assert "ready" in text and "runs on the CPU here [sm_90 is too new]" in text
