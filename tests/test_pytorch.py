"""PyTorch end to end through the CLI: all three benchmarks, quick profile, synthetic data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.run.results import read_results

pytest.importorskip("torch", reason="PyTorch is not installed: pip install -e '.[torch]'")

REPO = Path(__file__).resolve().parent.parent

CHANCE = {"cnn": 0.10, "rnn": 0.50}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One `all --impl pytorch` run; the parent reports whether it ever imported torch."""
    tmp = tmp_path_factory.mktemp("pytorch")
    results = tmp / "results.jsonl"
    script = (
        "import sys; from harness.commands import main; "
        f"rc = main(['all', '--impl', 'pytorch', '--profile', 'quick', '--data', 'synthetic', "
        f"'--device', 'cpu', '--results', {str(results)!r}, '--data-dir', {str(tmp / 'data')!r}]); "
        "print('PARENT_IMPORTED_TORCH', 'torch' in sys.modules); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "COLUMNS": "200"})
    return done, read_results(results) if results.exists() else []


def test_the_run_succeeds_and_prints_the_tables(quick_run):
    done, records = quick_run
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PARENT_IMPORTED_TORCH False" in done.stdout
    assert "SYNTHETIC data" in done.stdout and "profile quick" in done.stdout
    for title in ("CNN: VGG-style", "RNN: GRU", "ResNet-50"):
        assert title in done.stdout
    assert sorted(r["benchmark"] for r in records) == ["cnn", "inference", "rnn"]


@pytest.mark.parametrize("benchmark", ["cnn", "rnn"])
def test_training_beats_chance_on_synthetic_data(quick_run, benchmark):
    record = next(r for r in quick_run[1] if r["benchmark"] == benchmark)
    assert record["status"] == "ok", record["reason"]
    assert record["data"] == "synthetic" and record["profile"] == "quick"
    assert record["framework"] == "PyTorch" and record["device"] == "cpu"
    assert record["accuracy"] > CHANCE[benchmark] + 0.15, record["accuracy"]
    assert record["epochs"] == 1 and record["steps_per_epoch"] == 50
    assert len(record["timings"]["epoch_s"]) == 1 and record["timings"]["steady_epoch_s"] is None


def test_resnet50_features(quick_run):
    record = next(r for r in quick_run[1] if r["benchmark"] == "inference")
    assert record["status"] == "ok", record["reason"]
    assert record["feature_shape"] == [32, 2048]
    assert record["timings"]["s_per_1000"] > 0
    assert "resnet50" in record["env"]["framework_extra"]


def test_pytorch_resnet50_matches_torchvision_names():
    """The torch.nn fallback has torchvision's parameter names and shapes (canonical weights)."""
    from py_impls.pytorch import _ResNet50

    state = _ResNet50().state_dict()
    assert state["conv1.weight"].shape == (64, 3, 7, 7)
    assert state["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert state["layer2.0.conv2.weight"].shape == (128, 128, 3, 3)  # v1.5: stride on the 3x3
    assert state["layer4.2.bn3.running_var"].shape == (2048,)
    n_params = sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k)
    assert n_params == 25_557_032  # torchvision's resnet50 parameter count


def test_pytorch_resnet50_uses_stride_on_3x3():
    import torch

    from py_impls.pytorch import _ResNet50

    block = _ResNet50().layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    with torch.no_grad():
        assert _ResNet50().eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)
