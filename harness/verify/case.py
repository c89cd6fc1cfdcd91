"""`verify`'s case for one benchmark: a seeded batch, the canonical weights, and everything the
float64 oracle computes from them (the benchmark's oracle module, harness/verify/oracle/)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness import benchmarks


@dataclass
class Case:
    benchmark: str
    inputs: dict[str, np.ndarray]  # "x", and "y" for training
    weights: dict[str, np.ndarray]
    weights_source: str
    expected: dict[str, Any]  # the oracle's outputs
    seed: int
    seconds: float = 0.0

    @property
    def description(self) -> dict[str, Any]:
        return {"batch": len(self.inputs["x"]), "input_shape": list(self.inputs["x"].shape),
                "seed": self.seed, "weights": self.weights_source,
                "oracle_s": round(self.seconds, 2)}


def make_case(benchmark: str, seed: int = 0, batch: int | None = None, image_size: int = 224,
              weights_file: str | None = None, weights_dir: Path | None = None) -> Case:
    """Inputs, weights and everything the oracle computes from them."""
    from harness.verify import weights as canonical

    record = benchmarks.get(benchmark)
    oracle = record.oracle_module()
    model = record.model
    if weights_file:
        params, source = canonical.load_weights(weights_file, model), str(weights_file)
    else:
        path = canonical.ensure_seeded_weights(model, seed, weights_dir)
        params, source = canonical.load_weights(path, model), f"seeded random, seed {seed}"
    rng = np.random.default_rng([seed, benchmarks.order(benchmark)])
    inputs = oracle.sample_inputs(rng, batch or record.verify_batch, image_size)
    start = time.perf_counter()
    x = inputs["x"]
    if not record.training:
        acts = oracle.forward(params, x)
        expected = {"activations": acts, "features": acts[oracle.ACTIVATIONS[-1]],
                    "order": oracle.ACTIVATIONS}
    else:
        acts = oracle.forward(params, x)
        loss1, w1, state = oracle.train_step(params, None, x, inputs["y"])
        loss2, w2, _ = oracle.train_step(w1, state, x, inputs["y"])
        expected = {"activations": acts, "logits0": acts[oracle.LOGITS], "loss1": loss1,
                    "update1": {n: w1[n] - params[n].astype(np.float64) for n in w1},
                    "loss2": loss2, "update2": {n: w2[n] - w1[n] for n in w2},
                    "logits2": oracle.forward(w2, x)[oracle.LOGITS],
                    "order": oracle.ACTIVATIONS}
    return Case(benchmark, inputs, params, source, expected, seed, time.perf_counter() - start)
