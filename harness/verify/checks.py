"""Comparing what an implementation computed with the oracle: relative errors, tolerances by
precision tier, the layer where an implementation first departs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness import benchmarks
from harness.verify.case import Case
from harness.verify.child_run import ChildRun

# Each check's error is relative: ||impl - oracle||_2 / ||oracle||_2 over the whole tensor
# (for a loss, |impl - oracle| / |oracle|). Measured with PyTorch fp32 on CPU against the
# oracle: forward values 1e-7..1e-6, losses 1e-7, weight updates 1e-5 (up to 2e-2 when fp32
# and float64 take different branches of a ReLU or max-pool near-tie, see
# harness/verify/oracle/cnn.py: decision_margin). The bugs verify exists for move them by 1e-3 to 1.
TOLERANCES: dict[str, dict[str, float]] = {
    "fp32": {"forward": 1e-4, "loss": 1e-4, "update": 5e-2, "after": 1e-3},
    # bf16 / fp16 variants keep 8 or 11 bits of mantissa: only gross errors are visible.
    "low-precision": {"forward": 5e-2, "loss": 5e-2, "update": 3e-1, "after": 5e-2},
}
LOW_PRECISION = re.compile(r"bf16|fp16|half|float16|mixed", re.IGNORECASE)


@dataclass
class Check:
    name: str
    max_abs: float | None = None
    rel: float | None = None
    tolerance: float | None = None
    passed: bool | None = None  # None: not made (not supported, or the run stopped before)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def compare(name: str, got: Any, want: Any, tolerance: float) -> Check:
    """Relative L2 error of one tensor (or scalar) against the oracle's."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return Check(name, tolerance=tolerance, passed=False,
                     detail=f"shape {got.shape}, expected {want.shape}")
    if not np.all(np.isfinite(got)):
        return Check(name, tolerance=tolerance, passed=False, detail="non-finite values")
    diff = got - want
    scale = np.linalg.norm(want)
    rel = float(np.linalg.norm(diff) / scale) if scale > 0 else float(np.linalg.norm(diff))
    return Check(name, float(np.abs(diff).max()) if diff.size else 0.0, rel, tolerance,
                 rel <= tolerance)


def compare_update(name: str, before: dict[str, np.ndarray], after: dict[str, np.ndarray],
                   want: dict[str, np.ndarray], tolerance: float,
                   no_gradient: tuple[str, ...] = ()) -> Check:
    """Each tensor's update (after - before) against the oracle's; reports the worst.

    A tensor of `no_gradient` (the oracle's NO_GRADIENT: its exact gradient is zero, so Adam
    turns whatever rounding leaves into a step of up to lr) is only required to stay finite."""
    missing = sorted(set(want) - set(after))
    if missing:
        return Check(name, tolerance=tolerance, passed=False,
                     detail=f"get_weights() lacks {', '.join(missing[:4])}")
    unfinite = [t for t in no_gradient if t in after and not np.all(np.isfinite(after[t]))]
    if unfinite:
        return Check(name, tolerance=tolerance, passed=False,
                     detail=f"non-finite values in {', '.join(unfinite[:4])}")
    checks = []
    for tensor in (t for t in want if t not in no_gradient):
        got = np.asarray(after[tensor], np.float64) - np.asarray(before[tensor], np.float64)
        checks.append((compare(tensor, got, want[tensor], tolerance), tensor))
    worst, tensor = max(checks, key=lambda c: (not c[0].passed, c[0].rel or 0.0))
    return Check(name, max(c.max_abs or 0.0 for c, _ in checks), worst.rel, tolerance,
                 all(c.passed for c, _ in checks),
                 f"worst: {tensor}" + (f" ({worst.detail})" if worst.detail else ""))


def evaluate(case: Case, child: ChildRun, tier: str) -> tuple[list[Check], list[Check]]:
    """The checks, and the layer-by-layer activation comparison (may be empty)."""
    tol = TOLERANCES[tier]
    out, exp = child.outputs, case.expected
    layers = [compare(name, out[f"act/{name}"], exp["activations"][name], tol["forward"])
              for name in exp["order"] if f"act/{name}" in out]
    if not benchmarks.get(case.benchmark).training:
        spec = [("features", "features", "forward")]
    else:
        spec = [("logits, initial weights", "logits0", "forward"),
                ("loss, step 1", "loss1", "loss"), ("update, step 1", "update1", "update"),
                ("loss, step 2", "loss2", "loss"), ("update, step 2", "update2", "update"),
                ("logits after 2 steps", "logits2", "after")]
    no_gradient = tuple(getattr(benchmarks.get(case.benchmark).oracle_module(), "NO_GRADIENT",
                                ()))
    weights = {0: case.weights, **{s: {k[3:]: v for k, v in out.items() if k.startswith(f"w{s}/")}
                                   for s in (1, 2)}}
    checks = []
    for label, key, kind in spec:
        if key.startswith("update"):
            step = int(key[-1])
            if not weights[step]:
                checks.append(Check(label, detail=_missing_reason(child, "get_weights")))
                continue
            checks.append(compare_update(label, weights[step - 1], weights[step], exp[key],
                                         tol[kind], no_gradient))
        elif key in out:
            checks.append(compare(label, out[key], exp[key], tol[kind]))
        else:
            checks.append(Check(label, detail=_missing_reason(child, _hook_for(key))))
    return checks, layers


def _hook_for(key: str) -> str:
    return {"loss1": "verify_step", "loss2": "verify_step"}.get(key, "load_weights")


def _missing_reason(child: ChildRun, hook: str) -> str:
    unsupported = child.report.get("unsupported", {})
    for name in (hook, "load_weights", "verify_step", "get_weights"):
        if name in unsupported:
            return f"not supported: {unsupported[name]}"
    return "not made: the run stopped before this check" if child.error else "not made"


def first_divergence(layers: list[Check]) -> str | None:
    failing = next((layer for layer in layers if not layer.passed), None)
    if failing is None:
        return None
    before = layers[:layers.index(failing)]
    agree = (f"; the {len(before)} layer(s) before it agree (worst rel err "
             f"{max(c.rel or 0 for c in before):.1e})") if before else ""
    what = failing.detail or f"rel err {failing.rel:.2e} > {failing.tolerance:g}"
    return f"{failing.name} ({what}){agree}"


def precision_tier(info: dict[str, Any]) -> str:
    return "low-precision" if LOW_PRECISION.search(str(info.get("precision", ""))) else "fp32"
