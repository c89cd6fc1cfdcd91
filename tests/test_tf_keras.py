"""TensorFlow (py_impls.tf_keras) and its XLA variant, each variant's checks in one fresh process
(as the harness runs it; TensorFlow is not imported into the test process). The checks
themselves are those of tests/test_keras3.py, run on the TensorFlow classes."""

import importlib.util

import pytest

from tests.test_keras3 import run_child

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("TensorFlow is not installed: pip install -e '.[tensorflow]'",
                allow_module_level=True)

VARIANTS = [pytest.param("", id="tensorflow"), pytest.param("XLA", id="tensorflow-xla")]
# What one child runs for each variant (tests/test_keras3.py: run_child).
CHECKS = {"": ("weights", "resnet50"), "XLA": ("weights",)}


@pytest.mark.slow
@pytest.mark.rows("tensorflow", "tensorflow-xla")
@pytest.mark.parametrize("suffix", VARIANTS)
def test_each_variant_runs_and_records_itself(suffix, smoke_runs):
    """The row's smoke run through the CLI (shared with the contract test, which asserts that
    it trains and beats chance): XLA on or off as the row says, TensorFlow's CPU layout, and
    no cuDNN for the GRU on the CPU."""
    run = smoke_runs("tensorflow-xla" if suffix == "XLA" else "tensorflow")
    cnn, rnn = run.record("cnn"), run.record("rnn")
    extra = cnn["env"]["framework_extra"]
    assert cnn["framework"] == "TensorFlow"
    assert extra["xla_jit_compile"] is (suffix == "XLA")
    assert extra["data_format"] == "channels_last"  # TensorFlow's CPU layout
    assert rnn["cudnn"] is False


@pytest.mark.slow
@pytest.mark.parametrize("suffix", VARIANTS)
def test_canonical_weights_round_trip_and_match_the_oracle(suffix):
    out = run_child("py_impls.tf_keras", "weights", "tensorflow", suffix, together=CHECKS[suffix])
    for model in ("cnn", "rnn"):
        assert out[model]["same_names"] and out[model]["exact"], out
        assert out[model]["logits_rel_err"] < 1e-4, out


@pytest.mark.slow
def test_resnet50_features():
    out = run_child("py_impls.tf_keras", "resnet50", "tensorflow", together=CHECKS[""])
    assert out["shape"] == [2, 2048] and out["dtype"] == "float32"
    assert out["repeatable"] and out["round_trip"]
    assert out["rel_err"] < 1e-4, out


@pytest.mark.slow
def test_a_tf_keras_import_under_another_keras_backend_says_what_to_do():
    """tf.keras is Keras 3 on KERAS_BACKEND: the module refuses a non-TensorFlow backend."""
    pytest.importorskip("jax", reason="needs a second Keras backend to import Keras with")
    import subprocess
    import sys

    from tests.test_keras3 import REPO

    done = subprocess.run(
        [sys.executable, "-c", "import keras; import py_impls.tf_keras"], cwd=REPO,
        capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO)})
    assert done.returncode != 0 and "KERAS_BACKEND=tensorflow" in done.stderr
