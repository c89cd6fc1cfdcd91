"""A fourth benchmark registered from outside the harness (tests/plugin_mlp.py, through
`HARNESS_PLUGINS`) goes through every command: `all` runs it and prints its table, `report`
rebuilds the table, exports and plots from the stored records, `verify` checks it against its
own oracle, `show` finds its sections and `data weights` writes its canonical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plugin")

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "HARNESS_PLUGINS": "tests.plugin_mlp", "COLUMNS": "200",
               "HARNESS_DATA_DIR": str(tmp / "data"), "HARNESS_RESULTS": str(tmp / "r.jsonl")}
        return subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)

    run.tmp = tmp
    return run


@pytest.fixture(scope="module")
def ran(harness):
    done = harness("all", "--impl", "numpy-mlp", "--profile", "quick", "--repeat", "2")
    return done, [json.loads(line) for line in (harness.tmp / "r.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_all_runs_the_plugin_benchmark_and_prints_its_table(ran):
    done, records = ran
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MLP: a plugin benchmark" in done.stdout
    assert [r["benchmark"] for r in records] == ["mlp", "mlp"]
    for record in records:
        assert record["status"] == "ok", record["reason"]
        assert record["data"] == "synthetic" and record["framework"] == "NumPy"
        assert record["accuracy"] > 1 / 3 + 0.3  # the blobs are easy
        assert record["n_train"] == 512 and record["steps_per_epoch"] == 16
        calibration = record["utilisation"]["calibration"]
        # the largest size whose product fits the budget on this machine (harness.run.utilisation)
        assert calibration["size"] in (512, 1024, 2048) and calibration["flops_per_s"] > 0
        assert record["utilisation"]["flops_per_sample"] == 3 * 2 * (20 * 32 + 32 * 3)
        assert record["memory"]["host_peak_bytes"] > 0


@pytest.mark.slow
def test_report_tables_exports_and_plots(ran, harness):
    table = harness("report")
    assert table.returncode == 0, table.stderr
    assert "MLP: a plugin benchmark" in table.stdout and "numpy-mlp" in table.stdout
    csv = harness("report", "--format", "csv")
    header, row = csv.stdout.splitlines()[:2]
    assert "train_s" in header and row.startswith("mlp,")
    pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install -e '.[report]'")
    plots = harness("report", "--plots", "--out", str(harness.tmp / "plots"))
    assert plots.returncode == 0, plots.stderr
    assert sorted(p.name.split("-")[-1] for p in (harness.tmp / "plots").glob("mlp-*.png")) \
        == ["peak.png", "time.png"]  # generated data: accuracy is seed noise, no front


@pytest.mark.slow
def test_verify_checks_it_against_its_own_oracle(harness):
    done = harness("verify", "--impl", "numpy-mlp", "--strict",
                   "--results", str(harness.tmp / "verify.jsonl"))
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((harness.tmp / "verify.jsonl").read_text().splitlines()[-1])
    assert record["benchmark"] == "mlp" and record["status"] == "passed"
    assert len(record["checks"]) == 6 and [c["name"] for c in record["layers"]] == \
        ["fc1", "relu", "fc2"]


@pytest.mark.slow
def test_show_and_data_weights(harness):
    shown = harness("show", "mlp", "numpy-mlp", "--stacked")
    assert shown.returncode == 0, shown.stderr
    for section in ("data", "model", "loss and optimizer", "training epoch", "prediction"):
        assert section in shown.stdout
    weights = harness("data", "weights", "mlp", "--out", str(harness.tmp / "mlp.h5"))
    assert weights.returncode == 0, weights.stderr
    assert "4 tensors" in weights.stdout
