"""docs/benchmarks.md §3's initialisation rule, checked on every Python row that can run here:
a freshly built GRU classifier has an N(0, 1) embedding and every GRU matrix and bias in
U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's nn.Embedding and nn.GRU defaults). Each row is built in
its own interpreter (its isolated environment where it has one) and reports its canonical
weights' statistics; no training. Julia rows: julia_impls/test/runtests.jl checks the same."""

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

PYTHON_RNN_ROWS = [row.name for row in registry.ROWS
                   if row.language == "python" and row.entry_points.get("rnn")]


@pytest.mark.slow
@pytest.mark.parametrize("name", PYTHON_RNN_ROWS)
def test_every_row_initialises_embedding_and_gru_by_the_rule(name):
    row = registry.by_name(name)
    ready = registry.readiness(row, "rnn", gpu=False)
    if not ready.ready:
        pytest.skip(f"{name}: {ready.reason} ({ready.fix})")
    done = subprocess.run([interpreter_for(row.environment), "-c", BUILD,
                           row.entry_points["rnn"], json.dumps(row.options), name],
                          capture_output=True, text=True, timeout=600,
                          env=child_environment(row.env))
    assert done.returncode == 0, done.stderr[-2000:]
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    bound = 1 / RNNConfig().hidden ** 0.5
    # 30000 x 125 draws of N(0, 1); 68,100 of U(-0.1, 0.1), whose std is 0.1 / sqrt(3)
    assert abs(stats["embedding_std"] - 1) < 0.01 and abs(stats["embedding_mean"]) < 0.01
    assert 0.99 * bound < stats["gru_max"] <= bound * (1 + 1e-6)
    assert abs(stats["gru_std"] - bound / 3 ** 0.5) < 0.01 * bound
