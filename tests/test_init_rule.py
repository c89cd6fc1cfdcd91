"""The initialisation rules of docs/benchmarks.md §3 and §3b, checked on every Python row that can
run here. A freshly built GRU classifier has an N(0, 1) embedding and every GRU matrix and bias
in U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's nn.Embedding and nn.GRU defaults); a freshly built
Transformer has N(0, 0.02) embeddings, Glorot-uniform dense weights with zero biases, and
LayerNorm 1 and 0. Each row is built in its own interpreter (its isolated environment where it
has one) and reports its canonical weights' statistics; no training. Julia rows:
julia_impls/test/runtests.jl checks the same."""

from __future__ import annotations

import json
import subprocess

import pytest

from harness import registry
from harness.config import RNNConfig
from harness.run.child import child_environment, interpreter_for

BUILD = """
import json, sys
import numpy as np
from harness.config import RNNConfig
from harness.run.worker import load_class
impl = load_class("rnn", sys.argv[1], sys.argv[3])(device="cpu", **json.loads(sys.argv[2]))
impl.build(RNNConfig(), seed=0)
w = impl.get_weights()
gru = np.concatenate([w[k].ravel() for k in
                      ("gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0")])
print(json.dumps({"embedding_std": float(w["embedding.weight"].std()),
                  "embedding_mean": float(w["embedding.weight"].mean()),
                  "gru_max": float(np.abs(gru).max()), "gru_std": float(gru.std())}))
"""

TRANSFORMER = """
import json, sys
import numpy as np
from harness.config import TransformerConfig
from harness.run.worker import load_class
impl = load_class("transformer", sys.argv[1], sys.argv[3])(device="cpu", **json.loads(sys.argv[2]))
impl.build(TransformerConfig(), seed=0)
w = impl.get_weights()
dense = {k: v for k, v in w.items() if v.ndim == 2 and "embedding" not in k and "position" not in k}
print(json.dumps({
    "tables": {k: [float(w[k].mean()), float(w[k].std())] for k in ("embedding.weight", "position.weight")},
    "dense": {k: [float(np.abs(v).max()), float(v.std()), list(v.shape)] for k, v in dense.items()},
    "biases": float(max(np.abs(v).max() for k, v in w.items() if k.endswith("bias"))),
    "ln_scales": sorted({float(x) for k, v in w.items() if ".ln" in "." + k and k.endswith("weight")
                         for x in np.unique(v)})}))
"""

PYTHON_RNN_ROWS = [row.name for row in registry.ROWS
                   if row.language == "python" and row.entry_points.get("rnn")]
PYTHON_TRANSFORMER_ROWS = [row.name for row in registry.ROWS
                           if row.language == "python" and row.entry_points.get("transformer")]


def built_statistics(name: str, benchmark: str, script: str) -> dict:
    row = registry.by_name(name)
    ready = registry.readiness(row, benchmark, gpu=False)
    if not ready.ready:
        pytest.skip(f"{name}: {ready.reason} ({ready.fix})")
    done = subprocess.run([interpreter_for(row.environment), "-c", script,
                           row.entry_points[benchmark], json.dumps(row.options), name],
                          capture_output=True, text=True, timeout=600,
                          env=child_environment(row.env))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", PYTHON_RNN_ROWS)
def test_every_row_initialises_embedding_and_gru_by_the_rule(name):
    stats = built_statistics(name, "rnn", BUILD)
    bound = 1 / RNNConfig().hidden ** 0.5
    # 30000 x 125 draws of N(0, 1); 68,100 of U(-0.1, 0.1), whose std is 0.1 / sqrt(3)
    assert abs(stats["embedding_std"] - 1) < 0.01 and abs(stats["embedding_mean"]) < 0.01
    assert 0.99 * bound < stats["gru_max"] <= bound * (1 + 1e-6)
    assert abs(stats["gru_std"] - bound / 3 ** 0.5) < 0.01 * bound


@pytest.mark.slow
@pytest.mark.parametrize("name", PYTHON_TRANSFORMER_ROWS)
def test_every_row_initialises_the_transformer_by_the_rule(name):
    stats = built_statistics(name, "transformer", TRANSFORMER)
    for table, (mean, std) in stats["tables"].items():  # N(0, 0.02): 3.84M and 19,200 draws
        assert abs(std - 0.02) < 0.0006 and abs(mean) < 0.001, (table, mean, std)
    for tensor, (largest, std, (out, inputs)) in stats["dense"].items():
        limit = (6 / (inputs + out)) ** 0.5  # Glorot-uniform, whose std is limit / sqrt(3)
        assert 0.95 * limit < largest <= limit * (1 + 1e-6), tensor
        assert abs(std - limit / 3 ** 0.5) < 0.1 * limit, tensor
    assert stats["biases"] == 0.0  # every bias zero, LayerNorm shifts included
    assert stats["ln_scales"] == [1.0]
