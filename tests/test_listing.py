"""`python -m harness list`: text printed intact (rich markup escaped), the installed versions
against the supported range and the tested set, and a row that would run on the CPU of a machine
with a GPU named as such: in the matrix's cells and footnotes, and in `--verbose`'s tables;
`list ROW` for some rows' detail."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import commands as cli
from harness import registry, versions
from tests.list_output import footnotes, matrix, row_text

REPO = Path(__file__).resolve().parent.parent
RICH = importlib.metadata.version("rich")


def make_row(name: str, *requires: registry.Requirement,
             install: str = 'pip install -e ".[tensorflow]"',
             entry_points: tuple[str, ...] = ("cnn",)) -> registry.Row:
    return registry.Row(name=name, framework="Imaginary", language="python",
                        entry_points={b: f"nowhere:{b.upper()}" for b in entry_points},
                        description="", requires=requires, install=install)


def marked(out: str, name: str, column: str = "cnn") -> tuple[str, list[str]]:
    """Row `name`'s matrix cell in `column`, and the text of each footnote it marks."""
    cell = dict(matrix(out)[1])[name][column]
    numbers = cell.strip("✓[]").split(",") if "[" in cell else []
    return cell, [footnotes(out)[int(n)] for n in numbers]


@pytest.fixture
def listed(monkeypatch, capsys, tmp_path):
    """`list` over the rows given, with `tested` as the CI constraints file; its output."""
    def run(rows: list[registry.Row], tested: str = "", *argv: str) -> str:
        constraints = tmp_path / "ci-cpu.txt"
        constraints.write_text(tested)
        monkeypatch.setattr(registry, "ROWS", rows)
        monkeypatch.setattr(registry, "gpu_present", lambda: False)
        monkeypatch.setattr(versions, "CI_CONSTRAINTS", constraints)
        versions.tested_versions.cache_clear()
        try:
            assert cli.main(["list", *argv]) == 0
        finally:
            versions.tested_versions.cache_clear()
        return capsys.readouterr().out
    return run


def test_the_fix_and_the_reason_keep_their_brackets(listed):
    row = make_row("imaginary", registry.Requirement("imaginary-dl[gpu]", "imaginary_pkg"))
    cell, notes = marked(listed([row]), "imaginary")
    assert cell == "[1]"
    assert notes == ['imaginary-dl[gpu] is not installed - fix: pip install -e ".[tensorflow]"']
    text = row_text(listed([row], "", "--verbose"), "imaginary")
    assert 'pip install -e ".[tensorflow]"' in text
    assert "imaginary-dl[gpu] is not installed" in text


def test_rows_sharing_a_reason_share_one_footnote_with_each_fix(listed):
    missing = registry.Requirement("imaginary-dl", "imaginary_pkg")
    rows = [make_row("one", missing, entry_points=("cnn", "rnn")), make_row("two", missing),
            make_row("three", missing, install='pip install -e ".[keras]"'),
            make_row("four", entry_points=("rnn",))]
    out = listed(rows)
    _, table = matrix(out)
    assert [cells["cnn"] for _, cells in table] == ["[1]", "[1]", "[1]", "-"]
    assert [cells["rnn"] for _, cells in table] == ["[1]", "-", "-", "✓"]
    assert footnotes(out) == {1: 'imaginary-dl is not installed - fix: pip install -e '
                                 '".[tensorflow]" (one, two); pip install -e ".[keras]" (three)'}


def test_the_installed_version_and_the_supported_range_are_shown(listed):
    row = make_row("light", registry.Requirement("rich", "rich", "13", "99"))
    out = listed([row], f"rich=={RICH}\n")
    assert marked(out, "light") == ("✓", [])
    assert dict(matrix(out)[1])["light"]["version"] == f"rich {RICH}"
    text = row_text(listed([row], f"rich=={RICH}\n", "--verbose"), "light")
    assert f"rich {RICH}" in text and "rich >=13,<99" in text and "ready" in text
    assert "outside the tested set" not in text and "newer than" not in text


def test_a_version_other_than_the_tested_one_runs_and_is_marked(listed):
    row = make_row("light", registry.Requirement("rich", "rich", "13", "99"))
    note = f"rich {RICH} is outside the tested set (CI tests 13.0.0)"
    assert marked(listed([row], "rich==13.0.0\n"), "light") == ("✓[1]", [note])
    text = row_text(listed([row], "rich==13.0.0\n", "--verbose"), "light")
    assert "ready" in text and note in text


def test_a_version_past_the_supported_range_runs_and_is_marked(listed):
    below = str(int(RICH.split(".")[0]))  # the installed major: RICH is at or past it
    row = make_row("light", registry.Requirement("rich", "rich", "1", below))
    note = f"rich {RICH} is newer than the supported range >=1,<{below}"
    assert marked(listed([row]), "light") == ("✓[1]", [note])
    text = row_text(listed([row], "", "--verbose"), "light")
    assert "ready" in text and note in text


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


def list_with_gpu(tmp_path: Path, site: Path, *argv: str) -> str:
    """`python -m harness list ARGV` on a machine whose nvidia-smi lists a GPU, with `site`
    first on the path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)'\n")
    smi.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "300",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("HARNESS_PLUGINS", None)
    done = subprocess.run([sys.executable, "-m", "harness", "list", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "GPU: yes" in done.stdout
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="a stand-in nvidia-smi is a shell script")
def test_a_cpu_only_build_on_a_gpu_machine_is_named_with_its_fix(tmp_path):
    site = stand_in_torch(tmp_path, "None")
    says = "runs on the CPU although this machine has a GPU: torch 2.11.0 is a CPU-only build"
    cell, notes = marked(list_with_gpu(tmp_path, site), "pytorch")
    assert cell.startswith("✓[")
    note = next(note for note in notes if note.startswith(says))
    assert "fix: pip uninstall -y torch" in note and "download.pytorch.org/whl/cu" in note
    text = row_text(list_with_gpu(tmp_path, site, "--verbose"), "pytorch")
    assert "ready" in text and says in text
    assert "pip uninstall -y torch" in text and "download.pytorch.org/whl/cu" in text


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="a stand-in nvidia-smi is a shell script")
def test_a_cuda_build_on_a_gpu_machine_is_not_marked(tmp_path):
    site = stand_in_torch(tmp_path, "'12.8'")
    _, notes = marked(list_with_gpu(tmp_path, site), "pytorch")
    assert not any("runs on the CPU" in note for note in notes)
    text = row_text(list_with_gpu(tmp_path, site, "--verbose"), "pytorch")
    assert "ready" in text and "torch 2.11.0" in text
    assert "runs on the CPU" not in text


def test_a_ready_rows_own_caveat_is_shown(listed):
    row = registry.Row(name="caveat", framework="Imaginary", language="python",
                       entry_points={"cnn": "nowhere:CNN"}, description="",
                       notice=lambda: "runs on the CPU here [sm_90 is too new]")
    assert marked(listed([row]), "caveat") == ("✓[1]", ["runs on the CPU here [sm_90 is too new]"])
    text = row_text(listed([row], "", "--verbose"), "caveat")
    assert "ready" in text and "runs on the CPU here [sm_90 is too new]" in text


def test_list_row_gives_the_detail_of_the_rows_named(listed):
    rows = [make_row("one"), make_row("two", entry_points=("rnn",)), make_row("three")]
    out = listed(rows, "", "three", "two")
    assert "CNN: VGG-style" in out and "RNN: GRU" in out  # each benchmark a named row has
    assert "Inference" not in out and "┃ cnn" not in out  # neither the others nor the matrix
    assert "ready" in row_text(out, "three") and "ready" in row_text(out, "two")
    assert "│ one " not in out


def test_list_of_an_unknown_row_names_the_known_ones(monkeypatch, capsys):
    monkeypatch.setattr(registry, "ROWS", [make_row("one"), make_row("two")])
    assert cli.main(["list", "one", "nine"]) == 2
    assert "unknown implementation 'nine'; known: one, two" in capsys.readouterr().out


def test_the_rows_having_each_precision_are_named_once_below_the_matrix_and_the_tables(listed):
    rows = [dataclasses.replace(make_row(name), precisions=precisions) for name, precisions in
            (("mixed-a", {"bf16-mixed": "autocast"}), ("plain", {}),
             ("mixed-b", {"bf16-mixed": "a dtype policy"}))]
    for argv in ((), ("--verbose",)):
        out = listed(rows, "", *argv)
        [line] = [line for line in out.splitlines() if "--precision bf16-mixed" in line]
        assert "mixed-a, mixed-b (the other rows run their default only" in line
        assert "plain" not in line
