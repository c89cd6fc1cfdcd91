"""The report's footnotes name results measured with a framework version outside the tested set
(constraints/) and results that ran on the CPU of a machine with a GPU (harness.versions)."""

from __future__ import annotations

import json

import pytest

from harness import commands as cli
from harness import versions
from tests.report_fixtures import H100, record

TESTED = "torch==2.13.0+cpu\njax==0.10.2\nflax==0.12.8\noptax==0.2.8\n"


@pytest.fixture
def report_of(monkeypatch, capsys, tmp_path):
    def run(records: list[dict]) -> str:
        constraints = tmp_path / "ci-cpu.txt"
        constraints.write_text(TESTED)
        monkeypatch.setattr(versions, "CI_CONSTRAINTS", constraints)
        versions.tested_versions.cache_clear()
        results = tmp_path / "results.jsonl"
        results.write_text("".join(json.dumps(r) + "\n" for r in records))
        try:
            assert cli.main(["report", str(results)]) == 0
        finally:
            versions.tested_versions.cache_clear()
        return " ".join(capsys.readouterr().out.split())
    return run


def test_a_version_outside_the_tested_set_is_a_footnote(report_of):
    out = report_of([
        record("cnn", "pytorch", 20.0, 0.77, version="2.11.0+cu130"),
        record("cnn", "jax-flax", 14.0, 0.75, framework="JAX/Flax",
               version="jax 0.10.2, flax 0.13.0, optax 0.2.8"),
    ])
    assert "pytorch: torch 2.11.0+cu130 is outside the tested set (CI tests 2.13.0+cpu)" in out
    assert "jax-flax: flax 0.13.0 is outside the tested set (CI tests 0.12.8)" in out
    assert "jax-flax: jax" not in out


def test_the_tested_versions_give_no_footnote(report_of):
    out = report_of([record("cnn", "pytorch", 20.0, 0.77, version="2.13.0+cu130"),
                     record("cnn", "jax-flax", 14.0, 0.75, framework="JAX/Flax",
                            version="jax 0.10.2, flax 0.12.8, optax 0.2.8")])
    assert "outside the tested set" not in out and "ran on the CPU" not in out


def test_a_cpu_run_on_a_machine_with_a_gpu_is_a_footnote(report_of):
    env = {"python": "3.11.7", "cpu": "AMD EPYC", "threads": 2, "gpu": H100}
    out = report_of([record("cnn", "pytorch", 200.0, 0.77, device_name="",
                            version="2.13.0+cpu", env=env),
                     record("cnn", "jax-flax", 14.0, 0.75, framework="JAX/Flax",
                            version="jax 0.10.2, flax 0.12.8, optax 0.2.8", env=env)])
    assert f"pytorch: ran on the CPU on a machine with a GPU ({H100})" in out
    assert "jax-flax: ran on the CPU" not in out
