"""Keras 3 on each backend (py_impls.keras3), each backend's checks in one process of its own:
Keras reads KERAS_BACKEND once, at import, exactly as the harness's child processes do.

Small generated data and shortened models keep each check to seconds of compute on 2 CPU
cores: the CNN at batch 16 (its 32x32 input is fixed by fc1), the GRU on the last 40 tokens.
"""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import helpers  # noqa: E402

helpers.framework("keras", "keras", "pip install -e '.[keras]'")

REPO = Path(__file__).resolve().parent.parent

# Run in a child: `python -c CHILD MODULE CHECKS [SUFFIX]` runs each of the comma-separated
# checks and prints one JSON line, check -> its output (or the traceback it raised).
CHILD = r'''
import importlib, json, sys, traceback
import numpy as np
from harness.config import CNNConfig, InferenceConfig, RNNConfig
from harness.interface import TrainingData
from harness.verify.oracle import cnn as cnn_oracle, gru as gru_oracle, resnet50 as resnet_oracle
from harness.verify.weights import seeded_weights

module = importlib.import_module(sys.argv[1])
suffix = sys.argv[3] if len(sys.argv) > 3 else ""

def rel(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))

def run(check):
    out = {}
    if check == "weights":  # canonical weights in and out, and the oracle's logits
        rng = np.random.default_rng(0)
        images = rng.random((4, 3, 32, 32), dtype=np.float32)
        tokens = rng.integers(0, 30_000, (4, 150)).astype(np.int32)
        labels = np.zeros(4, np.int32)
        for name, cls, config, x in (("cnn", "CNN", CNNConfig(), images),
                                     ("rnn", "RNN", RNNConfig(), tokens)):
            impl = getattr(module, cls + suffix)(device="cpu")
            impl.prepare(TrainingData(x, labels, x, labels))
            impl.build(config, 0)
            params = seeded_weights(name)
            impl.load_weights(params)
            back = impl.get_weights()
            oracle = (cnn_oracle.forward(params, x)["fc2"] if name == "cnn"
                      else gru_oracle.forward(params, x)["fc"])
            out[name] = {"same_names": sorted(back) == sorted(params),
                         "exact": all(np.array_equal(back[k], params[k]) for k in params),
                         "logits_rel_err": rel(impl.predict(), oracle)}
    elif check == "resnet50":
        images = np.random.default_rng(1).random((2, 3, 64, 64), dtype=np.float32)
        params = seeded_weights("resnet50")
        impl = getattr(module, "ResNet50Features" + suffix)(device="cpu")
        impl.prepare(images)
        impl.build(InferenceConfig(batch_size=2), params, seed=0)
        first, second = impl.extract(0, 2), impl.extract(0, 2)
        back = impl.get_weights()
        out = {"shape": list(first.shape), "dtype": str(first.dtype),
               "repeatable": bool(np.array_equal(first, second)),
               "rel_err": rel(first, resnet_oracle.forward(params, images)["avgpool"]),
               "round_trip": sorted(back) == sorted(params)
                             and all(np.array_equal(back[k], params[k]) for k in params)}
    elif check == "attention":  # the path layers.MultiHeadAttention takes, and what info() records
        from keras.src import ops
        from harness.config import TransformerConfig
        calls, dot_product_attention = [], ops.dot_product_attention

        def spy(*args, **kwargs):
            calls.append(kwargs.get("flash_attention"))
            return dot_product_attention(*args, **kwargs)

        ops.dot_product_attention = spy  # the layer looks it up on keras.src.ops at each call
        try:
            tokens, labels = np.zeros((2, 150), np.int32), np.zeros(2, np.int32)
            impl = getattr(module, "Transformer" + suffix)(device="cpu")
            impl.prepare(TrainingData(tokens, labels, tokens, labels))
            impl.build(TransformerConfig(), 0)
            impl.activations(tokens)
            out = {"attention": impl.info().attention, "calls": calls}
        finally:
            ops.dot_product_attention = dot_product_attention
    elif check == "fit":  # what one training epoch hands fit(), and in which order
        rng = np.random.default_rng(0)
        images, labels = rng.random((6, 3, 32, 32), dtype=np.float32), np.arange(6, dtype=np.int32)
        impl = getattr(module, "CNN" + suffix)(device="cpu")
        impl.prepare(TrainingData(images, labels, images, labels))
        impl.build(CNNConfig(batch_size=2), 0)
        given, fit = [], impl.model.fit

        def spy(x, *args, **kwargs):
            given.append(x)
            return fit(x, *args, **kwargs)

        impl.model.fit = spy
        impl.train_epoch(np.array([4, 0, 2, 5, 1, 3]))
        (x,) = given
        if hasattr(x, "options"):  # a tf.data pipeline: its batches' labels, and its autotuning
            out = {"labels": [y.numpy().tolist() for _, y in x],
                   "autotune": x.options().autotune.enabled}
        else:
            out = {"labels": None, "autotune": None}
    return out

results = {}
for check in sys.argv[2].split(","):
    try:
        results[check] = run(check)
    except Exception:
        results[check] = {"child_error": traceback.format_exc()}
print("RESULT " + json.dumps(results))
'''


# The checks one child runs for each backend: Keras and its backend are imported once for all.
CHECKS = ("weights", "resnet50", "fit", "attention")


def run_child(module: str, check: str, backend: str, suffix: str = "",
              together: tuple[str, ...] = CHECKS) -> dict:
    """`check`'s output, from a fresh interpreter with KERAS_BACKEND set before anything
    imports keras, which runs the checks `together` once for the session (a check that raises
    fails only its own test)."""
    out = child_checks(module, backend, suffix, together)[check]
    assert "child_error" not in out, out["child_error"]
    return out


@functools.lru_cache(maxsize=None)
def child_checks(module: str, backend: str, suffix: str, checks: tuple[str, ...],
                 timeout: float = 900) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", CHILD, module, ",".join(checks), suffix],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


BACKENDS = [
    pytest.param("tensorflow", marks=pytest.mark.skipif(
        __import__("importlib").util.find_spec("tensorflow") is None,
        reason="TensorFlow is not installed: pip install -e '.[keras]'")),
    pytest.param("jax", marks=pytest.mark.skipif(
        __import__("importlib").util.find_spec("jax") is None,
        reason="JAX is not installed: pip install -e '.[keras]'")),
    pytest.param("torch", marks=pytest.mark.skipif(
        __import__("importlib").util.find_spec("torch") is None,
        reason="PyTorch is not installed: pip install -e '.[keras]'")),
]


@pytest.mark.slow
@pytest.mark.rows("keras-tensorflow", "keras-jax", "keras-torch")
@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_runs_and_records_itself(backend, smoke_runs):
    """The row's smoke run through the CLI (shared with the contract test, which asserts that
    it trains and beats chance): the record names the backend that ran, and the GRU says it
    ran without cuDNN on the CPU."""
    run = smoke_runs(f"keras-{backend}")
    cnn, rnn = run.record("cnn"), run.record("rnn")
    assert cnn["framework"] == f"Keras ({backend})"
    assert cnn["env"]["framework_extra"]["backend"] == backend
    assert rnn["cudnn"] is False  # CPU: no cuDNN, and the record says so


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_canonical_weights_round_trip_and_match_the_oracle(backend):
    out = run_child("py_impls.keras3", "weights", backend)
    for model in ("cnn", "rnn"):
        assert out[model]["same_names"] and out[model]["exact"], out
        # flatten order (C,H,W vs H,W,C) and GRU gate order (r,z,n vs z,r,h) are both in here
        assert out[model]["logits_rel_err"] < 1e-4, out


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_resnet50_features(backend):
    out = run_child("py_impls.keras3", "resnet50", backend)
    assert out["shape"] == [2, 2048] and out["dtype"] == "float32"
    assert out["repeatable"] and out["round_trip"]
    assert out["rel_err"] < 1e-4, out  # v1.5 strides, PyTorch-style padding, BN eps 1e-5


# What layers.MultiHeadAttention runs in fp32 on a CPU (no GPU kernels to choose from here).
ATTENTION = {"tensorflow": "einsum + softmax (ops.dot_product_attention)",
             "jax": "jax.nn.dot_product_attention (xla)",
             "torch": "F.scaled_dot_product_attention ("}


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_transformer_records_the_attention_keras_runs(backend):
    """Keras routes MultiHeadAttention (no dropout, no returned scores) through
    ops.dot_product_attention and leaves the kernel to the backend (flash_attention=None):
    `info().attention` names that backend's kernel, found by Keras' own private checks, so a
    Keras release that moves them fails here rather than in a benchmark run."""
    out = run_child("py_impls.keras3", "attention", backend)
    assert out["calls"] and set(out["calls"]) == {None}, out
    assert out["attention"].startswith("layers.MultiHeadAttention: " + ATTENTION[backend]), out


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_epoch_goes_to_fit_in_the_harness_order_without_tf_data_autotuning(backend):
    """On TensorFlow, fit() over arrays builds a tf.data pipeline whose autotuning thread the end
    of each call waited for, about 0.5 s on some calls and not others: quick windows of 3 steps
    came out 0.80 or 1.31 s, a bimodal figure. The row hands fit() the batches itself, in the
    harness's order, with autotuning off; other backends take the arrays."""
    out = run_child("py_impls.keras3", "fit", backend)
    if backend == "tensorflow":
        assert out == {"labels": [[4, 0], [2, 5], [1, 3]], "autotune": False}
    else:
        assert out == {"labels": None, "autotune": None}
