"""The initialisation rules of docs/benchmarks.md §3 and §3b, checked by `verify` on the weights a
row builds from its seed, before the canonical weights replace them (the child hands them back
as `init/<tensor>`). A run trains from the row's own initial weights, so a row drawing them
differently would learn differently while every other check passes.

- GRU classifier (rnn): the embedding N(0, 1); every GRU matrix and bias U(-1/sqrt(H), 1/sqrt(H))
  (PyTorch's nn.Embedding and nn.GRU defaults).
- Transformer: token and position tables N(0, 0.02); every dense matrix Glorot-uniform
  U(-sqrt(6 / (in + out)), +sqrt(6 / (in + out))); every bias (LayerNorm shifts included) zero;
  every LayerNorm scale one.

Each statistic is judged with room for sampling: the tables hold 68,100 to 3.84M draws, so the
sample standard deviation is within a percent of the rule's; the largest of a uniform draw
reaches 95% of its bound; its standard deviation (bound / sqrt(3)) within 10% even for the
smallest matrix (the 2 x 128 output layer).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from harness import benchmarks
from harness.verify.checks import Check, missing_reason
from harness.verify.child_run import ChildRun

PREFIX = "init: "  # every check of the rule is named so: it compares with a distribution, not the oracle
GRU_TENSORS = ("gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0")
TABLES = ("embedding.weight", "position.weight")


def _normal(name: str, values: np.ndarray, std: float, tolerance: float) -> Check:
    """A table drawn from N(0, std): its sample std and mean within `tolerance` x std."""
    off = max(abs(float(values.std()) - std), abs(float(values.mean()))) / std
    return Check(f"{PREFIX}{name} ~ N(0, {std:g})", rel=off, tolerance=tolerance,
                 passed=off <= tolerance,
                 detail=f"std {values.std():.4g}, mean {values.mean():.2g}")


def _uniform(name: str, values: np.ndarray, bound: float) -> Check:
    """Drawn from U(-bound, bound): never past it, reaching 95% of it, std within 10%."""
    largest, std = float(np.abs(values).max()), float(values.std())
    off = abs(std - bound / 3 ** 0.5) / (bound / 3 ** 0.5)
    inside = 0.95 * bound < largest <= bound * (1 + 1e-6)
    return Check(f"{PREFIX}{name} ~ U(-{bound:.3g}, {bound:.3g})", max_abs=largest, rel=off,
                 tolerance=0.1, passed=inside and off <= 0.1,
                 detail=f"largest |w| {largest:.4g}, std {std:.4g}")


def rnn(weights: dict[str, np.ndarray], config: Any) -> list[Check]:
    bound = 1 / config.hidden ** 0.5
    gru = np.concatenate([weights[k].ravel() for k in GRU_TENSORS])
    return [_normal("embedding", weights["embedding.weight"], 1.0, 0.01),
            _uniform("GRU matrices and biases", gru, bound)]


def transformer(weights: dict[str, np.ndarray], config: Any) -> list[Check]:
    checks = [_normal(table.removesuffix(".weight"), weights[table], 0.02, 0.03)
              for table in TABLES]
    dense = {k: v for k, v in weights.items() if v.ndim == 2 and k not in TABLES}
    worst = None
    for name, matrix in dense.items():
        out, inputs = matrix.shape
        check = _uniform(f"{name} (Glorot)", matrix, (6 / (inputs + out)) ** 0.5)
        if worst is None or (not check.passed, check.rel) > (not worst.passed, worst.rel):
            worst = check
    if worst is not None:
        checks.append(Check(f"{PREFIX}{len(dense)} dense matrices Glorot-uniform",
                            worst.max_abs, worst.rel, worst.tolerance, worst.passed,
                            f"worst: {worst.name.removeprefix(PREFIX)}: {worst.detail}"))
    biases = max((float(np.abs(v).max()) for k, v in weights.items() if k.endswith("bias")),
                 default=0.0)
    checks.append(Check(f"{PREFIX}every bias zero", max_abs=biases, passed=biases == 0.0,
                        detail="" if biases == 0.0 else f"largest |bias| {biases:.3g}"))
    scales = sorted({float(x) for k, v in weights.items()
                     if ".ln" in "." + k and k.endswith("weight") for x in np.unique(v)})
    checks.append(Check(f"{PREFIX}every LayerNorm scale one", passed=scales == [1.0],
                        detail="" if scales == [1.0] else f"values {scales[:4]}"))
    return checks


RULES: dict[str, Callable[[dict[str, np.ndarray], Any], list[Check]]] = {
    "rnn": rnn, "transformer": transformer}


def evaluate(benchmark: str, child: ChildRun) -> list[Check]:
    """The rule's checks of what verify's child handed back (`init/<tensor>`)."""
    built = {k.removeprefix("init/"): v for k, v in child.outputs.items() if k.startswith("init/")}
    return checks(benchmark, built, benchmarks.get(benchmark).config,
                  missing_reason(child, "get_weights"))


def checks(benchmark: str, weights: dict[str, np.ndarray], config: Any,
           missing: str) -> list[Check]:
    """The rule's checks of a benchmark that has one ([] otherwise); without the built weights,
    one check not made, saying why (`missing`)."""
    rule = RULES.get(benchmark)
    if rule is None:
        return []
    if not weights:
        return [Check(f"{PREFIX}the initialisation rule", detail=missing)]
    try:
        return rule(weights, config)
    except KeyError as error:
        return [Check(f"{PREFIX}the initialisation rule", passed=False,
                      detail=f"get_weights() lacks {error.args[0]}")]
