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
# bf16 keeps 8 significant bits: each rounding errs by up to u = 2**-8 (3.9e-3) relative. A
# forward value that went through a few rounded products and sums (fp32 accumulation, as every
# framework's bf16 matmul does) lands within a few u; 16u leaves room for the deepest network
# (ResNet-50) while a wrong layer (a missing bias, a wrong eps, tanh GELU) still moves it by more.
BF16_U = 2.0 ** -8
TOLERANCES: dict[str, dict[str, float]] = {
    "fp32": {"forward": 1e-4, "loss": 1e-4, "update": 5e-2, "after": 1e-3},
    # --precision bf16-mixed (docs/benchmarks.md §10 has the rule and the measured deviations).
    "bf16": {"forward": 16 * BF16_U, "loss": 16 * BF16_U, "update": 3e-1, "after": 16 * BF16_U},
    # A row whose default precision is bf16 or fp16 (8 or 11 bits of mantissa): only gross errors
    # are visible.
    "low-precision": {"forward": 5e-2, "loss": 5e-2, "update": 3e-1, "after": 5e-2},
}
LOW_PRECISION = re.compile(r"bf16|fp16|half|float16|mixed", re.IGNORECASE)
# A bf16 run whose outputs agree with float64 within fp32's forward tolerance computed in fp32.
BF16_FLOOR = TOLERANCES["fp32"]["forward"]


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
                   no_gradient: tuple[str, ...] = (), pooled: bool = False) -> Check:
    """Each tensor's update (after - before) against the oracle's; the worst tensor is judged,
    or, `pooled`, all tensors as one vector (the worst one still named).

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
    max_abs = max(c.max_abs or 0.0 for c, _ in checks)
    if pooled and not any(c.detail for c, _ in checks):  # shapes agree, values finite
        diff = np.concatenate([(np.asarray(after[t], np.float64) - np.asarray(before[t], np.float64)
                                - want[t]).ravel() for _, t in checks])
        scale = np.linalg.norm(np.concatenate([np.ravel(want[t]) for _, t in checks]))
        rel = float(np.linalg.norm(diff) / scale) if scale > 0 else float(np.linalg.norm(diff))
        return Check(name, max_abs, rel, tolerance, rel <= tolerance,
                     f"all {len(checks)} tensors pooled; worst alone: {tensor} {worst.rel:.1e}")
    return Check(name, max_abs, worst.rel, tolerance, all(c.passed for c, _ in checks),
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
                checks.append(Check(label, detail=missing_reason(child, "get_weights")))
                continue
            # In bf16 a tensor whose gradient is all near-cancelling terms (a bias inside
            # attention, a 2-element output bias) gets Adam steps of +-lr in random directions
            # (Adam normalises magnitudes away), so the update is judged as a whole there.
            checks.append(compare_update(label, weights[step - 1], weights[step], exp[key],
                                         tol[kind], no_gradient, pooled=tier == "bf16"))
        elif key in out:
            checks.append(compare(label, out[key], exp[key], tol[kind]))
        else:
            checks.append(Check(label, detail=missing_reason(child, _hook_for(key))))
    if tier == "bf16":
        checks += bf16_checks(out, exp, tol["forward"], checks[0])
    return checks, layers


def bf16_checks(out: dict[str, Any], exp: dict[str, Any], tolerance: float,
                first: Check) -> list[Check]:
    """What a bf16 run must show beyond its tolerances: that its first outputs (`first`: the
    check of the logits with the initial weights, or of the features) deviate from float64 more
    than fp32's would (else it did not compute in bf16), and, for a classifier, that its argmax
    agrees on every sample whose oracle margin is beyond that tolerance's reach."""
    key = "logits0" if "logits0" in exp else "features"
    checks = []
    if first.rel is not None:
        at_fp32 = first.rel <= BF16_FLOOR
        checks.append(Check(
            "bf16 computation", passed=not at_fp32,
            detail=(f"{key} rel err {first.rel:.1e} {'<=' if at_fp32 else '>'} "
                    f"{BF16_FLOOR:.0e}, " + ("fp32's level: not computed in bf16"
                                             if at_fp32 else "above fp32's level"))))
    for label, logits in (("argmax, initial weights", "logits0"),
                          ("argmax after 2 steps", "logits2")):
        if logits in exp and logits in out:
            checks.append(argmax_check(label, out[logits], exp[logits], tolerance))
    return checks


def argmax_check(name: str, got: Any, want: Any, tolerance: float) -> Check:
    """Predicted classes against the oracle's, on the samples whose top-two margin exceeds twice
    the per-logit error the tolerance allows (its relative bound times the logits' RMS): a
    nearer tie may flip in bf16 without anything being wrong."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or got.ndim != 2 or not np.all(np.isfinite(got)):
        return Check(name, passed=False, detail=f"logits of shape {got.shape}, expected "
                                                f"{want.shape}, all finite")
    top2 = np.sort(want, axis=1)[:, -2:]
    allowed = tolerance * float(np.sqrt(np.mean(want ** 2)))
    decisive = (top2[:, 1] - top2[:, 0]) > 2 * allowed
    agree = np.argmax(got, axis=1) == np.argmax(want, axis=1)
    wrong = int(np.sum(decisive & ~agree))
    return Check(name, passed=wrong == 0,
                 detail=f"{int(agree.sum())}/{len(agree)} agree; {wrong} of "
                        f"{int(decisive.sum())} decisive disagree")


def _hook_for(key: str) -> str:
    return {"loss1": "verify_step", "loss2": "verify_step"}.get(key, "load_weights")


def missing_reason(child: ChildRun, hook: str) -> str:
    """Why a check that needed `hook` was not made."""
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
