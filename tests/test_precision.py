"""`--precision`: a row runs each precision it declares as its own variant, a precision it lacks
is a skipped row with the reason, and a run whose outputs were not in the precision asked for
fails instead of standing as that precision's figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import precision, registry
from harness.commands import main
from harness.interface import TrainingData
from harness.run.results import read_results
from tests import helpers

REPO = Path(__file__).resolve().parent.parent


def test_the_option_reads_a_comma_list_and_names_the_known_precisions():
    assert precision.parse("default, bf16-mixed,default") == ["default", "bf16-mixed"]
    with pytest.raises(ValueError, match="unknown precision bf16: choose from default, "
                                         "fp32-strict, bf16-mixed"):
        precision.parse("bf16")
    with pytest.raises(ValueError):
        precision.parse(" , ")


def test_a_declared_precision_is_a_variant_and_a_missing_one_says_why():
    pytorch = registry.by_name("pytorch")
    assert precision.at_precision(pytorch, "default") == (pytorch, None)
    row, why = precision.at_precision(pytorch, "bf16-mixed")
    assert why is None and row.name == "pytorch"
    assert row.options == {"precision": "bf16-mixed", "variant": "bf16-mixed"}
    assert "torch.autocast" in row.description
    row, why = precision.at_precision(registry.by_name("chainer"), "bf16-mixed")
    assert row.options["variant"] == "bf16-mixed"
    assert why.startswith("chainer has no bf16-mixed here (it has fp32-strict;")


def test_outputs_in_another_precision_fail_the_run():
    assert precision.check("bf16-mixed", "bf16-mixed (torch.autocast cpu bfloat16)") is None
    assert "not a bf16-mixed run" in precision.check(
        "bf16-mixed", "fp32 (bf16-mixed was asked for; outputs torch.float32)")
    assert precision.check("default", "fp32") is None
    assert precision.check("strict", "fp32-strict (...)") is None  # an option of a row's own


def test_a_strict_run_is_recorded_from_its_outputs_and_its_own_switch():
    def record(computed: str, settings: str | None) -> str:
        return precision.recorded("fp32-strict", computed, "bf16 how", "fp32", settings)

    strict = record("float32", "jax_default_matmul_precision=highest")
    assert strict == "fp32-strict (jax_default_matmul_precision=highest)"
    assert precision.check("fp32-strict", strict) is None
    for computed, settings in (("bfloat16", "x=1"), ("float32", None), ("None", "x=1")):
        assert "not a fp32-strict run" in precision.check("fp32-strict", record(computed, settings))
    assert record("float32", "x=1") != precision.recorded("default", "float32", "", "fp32", "x=1")


def test_fp32_strict_is_a_variant_in_the_strict_environment_and_a_row_without_it_says_why():
    row, why = precision.at_precision(registry.by_name("keras-jax"), "fp32-strict")
    assert why is None and row.options == {"precision": "fp32-strict", "variant": "fp32-strict"}
    assert row.env == {"KERAS_BACKEND": "jax", **precision.STRICT_FP32_ENV}
    assert "jax_default_matmul_precision='highest'" in row.description
    assert registry.by_name("keras-jax").env == {"KERAS_BACKEND": "jax"}  # the row is unchanged
    row, why = precision.at_precision(registry.by_name("cntk"), "fp32-strict")
    assert why.startswith("cntk has no fp32-strict here")


# Each row's own switch, in a fresh process of the row's interpreter (the switches are
# process-wide), on the one benchmark every row implements, and what each records (a new row
# needs no line here: any `fp32-strict (...)` record passes). A row whose classes share
# another's run class and prediction (pytorch-compile, tensorflow-xla, jax-flax-scan) is
# covered by that row's run.
PYTHON_ROWS = sorted(row.name for row in registry.ROWS
                     if row.language == "python" and not row.unavailable)
STRICT_SWITCHES = {"pytorch": "fp32_precision ieee: cuBLAS, cuDNN conv, cuDNN RNN, oneDNN matmul",
                   "tensorflow": "TensorFlow tensor_float_32_execution=False",
                   "keras-tensorflow": "TensorFlow tensor_float_32_execution=False",
                   "keras-jax": "jax_default_matmul_precision=highest",
                   "keras-torch": "fp32_precision ieee: cuBLAS",
                   "jax-flax": "jax_default_matmul_precision=highest",
                   "mxnet-gluon": "MXNET_CUDA_ALLOW_TENSOR_CORE=0",
                   "mxnet-module": "MXNET_CUDA_ALLOW_TENSOR_CORE=0",
                   "chainer": "chainer.config.use_cudnn_tensor_core=never",
                   "mlx": "MLX_ENABLE_TF32=0",
                   "tinygrad": "ALLOW_TF32=0"}
SAME_SWITCH_AS = {"pytorch-compile": "pytorch", "tensorflow-xla": "tensorflow",
                  "jax-flax-scan": "jax-flax"}
BUILD_AND_PREDICT = """
import importlib, json, sys
import numpy as np
from harness import precision, registry
from harness.benchmarks import get
from harness.interface import TrainingData
row, _ = precision.at_precision(registry.by_name(sys.argv[1]), "fp32-strict")
module, name = row.entry_points["cnn"].split(":")
impl = getattr(importlib.import_module(module), name)(device="cpu", **row.options)
images = np.random.default_rng(0).random((64, 3, 32, 32), dtype=np.float32)
labels = np.arange(64, dtype=np.int32) % 10
impl.prepare(TrainingData(images, labels, images[:8], labels[:8]))
impl.build(get("cnn").config, seed=0)
impl.predict()
print(json.dumps(impl.info().precision))
"""


def test_every_python_row_that_runs_has_fp32_strict():
    assert {"pytorch", "mlx", "chainer"} <= set(PYTHON_ROWS)
    assert all("fp32-strict" in registry.by_name(name).precisions for name in PYTHON_ROWS)
    for name, same in SAME_SWITCH_AS.items():
        assert registry.by_name(name).precisions == registry.by_name(same).precisions


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in PYTHON_ROWS if name not in SAME_SWITCH_AS])
def test_each_row_sets_its_own_strict_switch_and_records_it_read_back(name):
    from harness.run.child import interpreter_for

    row = registry.by_name(name)
    ready = registry.readiness(row, "cnn")
    if not ready.ready:
        pytest.skip(f"{name}: {ready.reason}")
    strict, _ = precision.at_precision(row, "fp32-strict")
    done = subprocess.run([interpreter_for(row.environment), "-c", BUILD_AND_PREDICT, name],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **strict.env})
    assert done.returncode == 0, done.stderr[-3000:]
    recorded = json.loads(done.stdout.strip().splitlines()[-1])
    assert recorded.startswith(f"fp32-strict ({STRICT_SWITCHES.get(name, '')}"), recorded


def test_an_unknown_precision_stops_before_anything_runs(tmp_path, capsys):
    code = main(["transformer", "--impl", "pytorch", "--precision", "fp8",
                 "--results", str(tmp_path / "r.jsonl")])
    assert code == 2
    assert "--precision: unknown precision fp8" in capsys.readouterr().out
    assert not (tmp_path / "r.jsonl").exists()


def test_a_row_without_the_precision_is_a_skipped_row_and_nothing_runs(tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    code = main(["transformer", "--impl", "chainer", "--precision", "bf16-mixed",
                 "--profile", "quick", "--device", "cpu", "--results", str(results)])
    out = " ".join(capsys.readouterr().out.split())
    assert code != 0  # nothing ran
    assert "chainer (bf16-mixed)" in out and "chainer has no bf16-mixed here" in out
    assert not results.exists() or not read_results(results)


def _cnn(options: dict) -> object:
    helpers.torch()
    from harness.benchmarks import get

    impl = helpers.pytorch_class("cnn")(device="cpu", **options)
    images = np.random.default_rng(0).random((64, 3, 32, 32), dtype=np.float32)
    labels = np.arange(64, dtype=np.int32) % 10
    impl.prepare(TrainingData(images, labels, images[:3], labels[:3]))
    impl.build(get("cnn").config, seed=0)
    impl.train_epoch(np.arange(64))
    return impl


def test_pytorch_bf16_computes_in_bf16_and_says_so():
    torch = helpers.torch()
    impl = _cnn({"precision": "bf16-mixed"})
    logits = impl.predict()
    assert logits.dtype == np.float32 and np.all(np.isfinite(logits))  # the harness reads fp32
    assert impl.computed == torch.bfloat16
    assert impl.info().precision.startswith("bf16-mixed (torch.autocast cpu bfloat16")
    assert next(impl.model.parameters()).dtype == torch.float32  # fp32 master weights
    assert impl.matmul(64) is not None  # the calibration multiplies in bf16 too
    plain = _cnn({})
    plain.predict()
    assert plain.computed == torch.float32 and plain.info().precision == "fp32"


@pytest.mark.slow
def test_default_bf16_and_strict_run_side_by_side_as_three_rows(tmp_path):
    helpers.torch()
    results = tmp_path / "r.jsonl"
    done = subprocess.run(
        # inference's smoke workload: three batches of 8 (bf16 training without bf16
        # instructions took 6 minutes for the Transformer's quick run)
        [sys.executable, "-m", "harness", "inference", "--impl", "pytorch", "--precision",
         "default,bf16-mixed,fp32-strict", "--profile", "smoke", "--device", "cpu",
         "--results", str(results)], cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = {r["variant"]: r for r in read_results(results)}
    assert records.keys() == {"default", "bf16-mixed", "fp32-strict"}
    assert records["default"]["precision"] == "fp32"
    assert records["fp32-strict"]["precision"].startswith("fp32-strict (fp32_precision ieee")
    assert records["bf16-mixed"]["precision"].startswith("bf16-mixed")
    assert records["bf16-mixed"]["utilisation"]["calibration"]["precision"].startswith("bf16")
    assert all(r["status"] == "ok" for r in records.values()), json.dumps(records)[:2000]
    assert "pytorch (bf16-mixed)" in done.stdout and "pytorch (fp32-strict)" in done.stdout


def test_a_cpu_without_bf16_instructions_is_named_before_bf16_runs():
    amd = "avx avx2 f16c fma sse4_1 sse4_2 sse4a ssse3"
    assert "no bf16 instructions" in precision.cpu_bf16_warning(amd)
    assert precision.cpu_bf16_warning(amd + " avx512_bf16 avx512f") is None
    assert precision.cpu_bf16_warning("amx_bf16 amx_tile avx2") is None
    assert precision.cpu_bf16_warning(None) is None  # not Linux: nothing to say


def test_a_gru_that_autocast_leaves_in_fp32_is_not_called_bf16():
    """On the CPU torch.autocast runs nn.GRU in fp32 and only the last dense layer in bf16: the
    logits' dtype would call that run bf16; the GRU's own output decides instead."""
    torch = helpers.torch()
    from harness.benchmarks import get

    config = get("rnn").config
    impl = helpers.pytorch_class("rnn")(device="cpu", precision="bf16-mixed")
    tokens = np.ones((config.batch_size, config.seq_len), np.int32)
    labels = np.zeros(config.batch_size, np.int32)
    impl.prepare(TrainingData(tokens, labels, tokens[:2], labels[:2]))
    impl.build(config, seed=0)
    impl.predict()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        gru = impl.model.gru(impl.model.embedding(torch.ones(1, 3, dtype=torch.long)))[0].dtype
    reported = impl.info().precision
    assert reported.startswith("bf16-mixed") == (gru == torch.bfloat16), reported
