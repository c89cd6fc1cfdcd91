"""`python -m harness verify`: does each implementation compute the network SPEC 1-3 defines?

For each (implementation, benchmark), on a fixed seeded batch and the canonical seeded weights
(harness/verify/weights.py), in a fresh child process (harness/verify/worker.py), verify compares
with the float64 NumPy oracle (harness/verify/oracle/):

- training (CNN, GRU): the logits with the initial weights; the loss and the weight update of
  one optimizer step with dropout off, then of a second step (momentum and Adam's moments only
  show from the second step on); the logits after the two steps;
- inference (ResNet-50): the 2048-d features.

Where a check fails and the implementation exposes intermediate activations, the first layer
whose output departs from the oracle's is named. What this proves and what it does not:
harness/verify/oracle/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from harness import registry
from harness.config import BENCHMARK_TITLES, BENCHMARKS, RNNConfig
from harness.run.host import REPO_ROOT, host_environment

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

# The child computes in strict fp32 where the libraries allow it: cuBLAS/cuDNN honour
# NVIDIA_TF32_OVERRIDE, JAX its default matmul precision. Verify checks the function; the
# precision a timed run used is recorded with that run.
STRICT_FP32_ENV = {"NVIDIA_TF32_OVERRIDE": "0", "JAX_DEFAULT_MATMUL_PRECISION": "highest"}

DEFAULT_BATCH = {"cnn": 8, "rnn": 8, "inference": 2}
MODEL_OF = {"cnn": "cnn", "rnn": "rnn", "inference": "resnet50"}


# == the case: inputs, canonical weights and the oracle's answers ==
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


def make_inputs(benchmark: str, seed: int, batch: int, image_size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, BENCHMARKS.index(benchmark)])
    if benchmark == "cnn":
        return {"x": rng.random((batch, 3, 32, 32), dtype=np.float32),
                "y": rng.integers(0, 10, batch).astype(np.int32)}
    if benchmark == "rnn":
        r = RNNConfig()
        # Like the preprocessed reviews: start marker 1, ids below the vocabulary size, and
        # shorter reviews padded with zeros at the end (the model reads step 149 regardless).
        tokens = np.zeros((batch, r.seq_len), dtype=np.int32)
        for row in range(batch):
            length = r.seq_len if row % 2 == 0 else int(rng.integers(10, r.seq_len))
            tokens[row, :length] = rng.integers(2, r.vocab_size, length)
            tokens[row, 0] = 1
        return {"x": tokens, "y": rng.integers(0, 2, batch).astype(np.int32)}
    return {"x": rng.random((batch, 3, image_size, image_size), dtype=np.float32)}


def make_case(benchmark: str, seed: int = 0, batch: int | None = None, image_size: int = 224,
              weights_file: str | None = None, weights_dir: Path | None = None) -> Case:
    """Inputs, weights and everything the oracle computes from them."""
    from harness.verify import weights as canonical
    from harness.verify.oracle import cnn, gru, resnet50

    model = MODEL_OF[benchmark]
    if weights_file:
        params, source = canonical.load_weights(weights_file, model), str(weights_file)
    else:
        path = canonical.ensure_seeded_weights(model, seed, weights_dir)
        params, source = canonical.load_weights(path, model), f"seeded random, seed {seed}"
    inputs = make_inputs(benchmark, seed, batch or DEFAULT_BATCH[benchmark], image_size)
    start = time.perf_counter()
    x = inputs["x"]
    if benchmark == "inference":
        acts = resnet50.forward(params, x)
        expected = {"activations": acts, "features": acts["avgpool"],
                    "order": resnet50.ACTIVATIONS}
    else:
        oracle, logits = (cnn, "fc2") if benchmark == "cnn" else (gru, "fc")
        acts = oracle.forward(params, x)
        loss1, w1, state = oracle.train_step(params, None, x, inputs["y"])
        loss2, w2, _ = oracle.train_step(w1, state, x, inputs["y"])
        expected = {"activations": acts, "logits0": acts[logits], "loss1": loss1,
                    "update1": {n: w1[n] - params[n].astype(np.float64) for n in w1},
                    "loss2": loss2, "update2": {n: w2[n] - w1[n] for n in w2},
                    "logits2": oracle.forward(w2, x)[logits], "order": oracle.ACTIVATIONS}
    return Case(benchmark, inputs, params, source, expected, seed, time.perf_counter() - start)


# == running one implementation in a child process ==
@dataclass
class ChildRun:
    outputs: dict[str, np.ndarray]
    report: dict[str, Any]
    error: str | None
    log: Path
    wall_s: float


def run_child(impl: registry.Implementation, case_file: Path, benchmark: str, device: str,
              seed: int, timeout: float, log_dir: Path) -> ChildRun:
    """One fresh process, as for a timed run; never raises for anything the child does."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    base = log_dir / f"verify-{stamp}-{benchmark}-{impl.name}-{uuid.uuid4().hex[:6]}"
    log, out, report = base.with_suffix(".log"), base.with_suffix(".out.npz"), \
        base.with_suffix(".report.json")
    job = {"benchmark": benchmark, "entry_point": impl.entry_points[benchmark],
           "options": dict(impl.options), "device": device, "seed": seed,
           "case": str(case_file), "out": str(out), "report": str(report)}
    job_file = base.with_suffix(".job.json")
    job_file.write_text(json.dumps(job))
    python = sys.executable
    if impl.environment:
        from harness.run import envs

        python = str(envs.interpreter(impl.environment))
    env = {**os.environ, **STRICT_FP32_ENV, **impl.env, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                        os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    error = None
    with open(log, "wb") as log_file:
        proc = subprocess.Popen([python, "-m", "harness.verify.worker", str(job_file)],
                                stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            error = f"timed out after {timeout:g} s and was killed; log: {log}"
        finally:
            if proc.poll() is None:  # a timeout, or Ctrl-C in the parent: the child goes too
                _kill_group(proc)
    try:
        child_report = json.loads(report.read_text())
    except (OSError, json.JSONDecodeError):
        child_report = {}
    outputs: dict[str, np.ndarray] = {}
    if out.exists():
        with np.load(out) as f:
            outputs = {k: f[k] for k in f.files}
        out.unlink()
    error = error or child_report.get("error")
    if error is None and proc.returncode != 0:
        error = f"the child exited with code {proc.returncode} without a report; log: {log}"
    return ChildRun(outputs, child_report, error, log, time.perf_counter() - start)


def _kill_group(proc: subprocess.Popen) -> None:
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=3)
            return
        except (ProcessLookupError, PermissionError):
            return
        except subprocess.TimeoutExpired:
            continue


# == comparing with the oracle ==
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
                   want: dict[str, np.ndarray], tolerance: float) -> Check:
    """Each tensor's update (after - before) against the oracle's; reports the worst."""
    missing = sorted(set(want) - set(after))
    if missing:
        return Check(name, tolerance=tolerance, passed=False,
                     detail=f"get_weights() lacks {', '.join(missing[:4])}")
    checks = []
    for tensor in want:
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
    if case.benchmark == "inference":
        spec = [("features", "features", "forward")]
    else:
        spec = [("logits, initial weights", "logits0", "forward"),
                ("loss, step 1", "loss1", "loss"), ("update, step 1", "update1", "update"),
                ("loss, step 2", "loss2", "loss"), ("update, step 2", "update2", "update"),
                ("logits after 2 steps", "logits2", "after")]
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
                                         tol[kind]))
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


# == one implementation, one benchmark: a record ==
@dataclass
class Settings:
    device: str = "auto"
    seed: int = 0
    timeout: float = 900.0
    results: Path | None = None
    image_size: int = 224
    batch: dict[str, int] = field(default_factory=dict)
    weights: str | None = None  # canonical ResNet-50 file instead of the seeded one
    weights_dir: Path | None = None


def verify_one(impl: registry.Implementation, case: Case, case_file: Path,
               settings: Settings, log_dir: Path) -> dict[str, Any]:
    started = datetime.now(timezone.utc)
    child = run_child(impl, case_file, case.benchmark, settings.device, settings.seed,
                      settings.timeout, log_dir)
    info = child.report.get("info") or {}
    tier = precision_tier(info)
    checks, layers = evaluate(case, child, tier)
    made = [c for c in checks if c.passed is not None]
    unsupported = child.report.get("unsupported", {})
    if any(c.passed is False for c in made):
        status = "failed"
    elif child.error:
        status = "error"
    elif len(made) < len(checks):
        status = "unsupported"
    else:
        status = "passed"
    divergence = first_divergence(layers)
    if status == "failed" and divergence is None:
        divergence = ("not located: the implementation exposes no activations"
                      if not layers else "none: every layer's forward output agrees; the "
                      "difference is in the training step")
    return {
        "record": "verify", "schema": 1,
        "run_id": f"{started.strftime('%Y%m%dT%H%M%S')}-verify-{case.benchmark}-{impl.name}-"
                  f"{uuid.uuid4().hex[:6]}",
        "benchmark": case.benchmark, "impl": impl.name,
        "framework": info.get("framework", impl.framework),
        "framework_version": info.get("framework_version"),
        "language": info.get("language", impl.language),
        "language_version": info.get("language_version"),
        "device": info.get("device", settings.device), "device_name": info.get("device_name"),
        "precision": info.get("precision"), "tier": tier, "tolerances": TOLERANCES[tier],
        "status": status, "reason": child.error, "unsupported": unsupported,
        "checks": [c.as_dict() for c in checks], "layers": [c.as_dict() for c in layers],
        "first_divergence": divergence if status == "failed" else None,
        "case": case.description, "env": {**host_environment(), "strict_fp32_env": STRICT_FP32_ENV},
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(child.wall_s, 3), "log": str(child.log),
    }


def skipped(impl: registry.Implementation, benchmark: str, reason: str) -> dict[str, Any]:
    return {"record": "verify", "benchmark": benchmark, "impl": impl.name,
            "framework": impl.framework, "status": "skipped", "reason": reason, "checks": [],
            "layers": []}


def verify(names: list[str], benchmarks: list[str], settings: Settings,
           on_record=lambda record: None) -> list[dict[str, Any]]:
    """Verify every selected implementation on every selected benchmark; records in order."""
    from harness.run.results import append_result

    results = settings.results or default_verify_results()
    records = []
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        for benchmark in benchmarks:
            impls = registry.select(names, benchmark)
            ready = []
            for impl in impls:
                readiness = registry.readiness(impl, benchmark)
                if readiness.ready:
                    ready.append(impl)
                else:
                    fix = f"; fix: {readiness.fix}" if readiness.fix else ""
                    record = skipped(impl, benchmark, readiness.reason + fix)
                    records.append(record)
                    on_record(record)
            if not ready:
                continue
            case = make_case(benchmark, settings.seed, settings.batch.get(benchmark),
                             settings.image_size,
                             settings.weights if benchmark == "inference" else None,
                             settings.weights_dir)
            case_file = Path(tmp) / f"{benchmark}.npz"
            np.savez(case_file, **case.inputs, **{f"w/{k}": v for k, v in case.weights.items()})
            for impl in ready:
                record = verify_one(impl, case, case_file, settings, results.parent / "logs")
                append_result(results, record)
                records.append(record)
                on_record(record)
    return records


def default_verify_results() -> Path:
    from harness.run.results import default_results_path

    return default_results_path().parent / "verify.jsonl"


# == the table ==
STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "unsupported": "yellow",
                "skipped": "dim"}


def verify_table(benchmark: str, records: list[dict[str, Any]]):
    from rich.table import Table

    table = Table(title=f"verify · {BENCHMARK_TITLES[benchmark]}", title_justify="left",
                  header_style="bold",
                  caption="rel err = ||impl - oracle|| / ||oracle|| (L2 over the tensor; a "
                          "loss: |difference| / |loss|); oracle: float64 NumPy; an update is "
                          "the change of the weights in one step, worst tensor shown",
                  caption_justify="left")
    for column in ("implementation", "check", "max abs err", "rel err", "tolerance", "result"):
        table.add_column(column, overflow="fold")
    for record in records:
        style = STATUS_STYLE.get(record["status"], "white")
        head = f"[cyan]{record['impl']}[/]\n[{style}]{record['status']}[/]"
        if record["status"] == "skipped":
            table.add_row(head, "", "", "", "", f"[dim]{record['reason']}[/]")
            continue
        first = True
        for check in record["checks"]:
            table.add_row(head if first else "", check["name"], _num(check["max_abs"]),
                          _num(check["rel"]), _num(check["tolerance"], ".0e"), _result(check))
            first = False
        if record.get("first_divergence"):
            table.add_row("", "[red]first diverging layer[/]", "", "", "",
                          f"[red]{record['first_divergence']}[/]")
        if record.get("reason"):
            table.add_row(head if first else "", "[red]error[/]", "", "", "",
                          f"[red]{record['reason']}[/]")
        table.add_section()
    return table


def _num(value: float | None, fmt: str = ".2e") -> str:
    return "" if value is None else format(value, fmt)


def _result(check: dict[str, Any]) -> str:
    if check["passed"] is None:
        return f"[yellow]{check['detail'] or 'not made'}[/]"
    mark = "[green]pass[/]" if check["passed"] else "[red]FAIL[/]"
    return f"{mark} {check['detail']}".rstrip()


# == command line ==
def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `verify` to the harness's command line."""
    parser = subparsers.add_parser(
        "verify", help="check every implementation against the NumPy oracle (SPEC 5)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", action="append", metavar="NAME[,NAME]",
                        help="implementations to verify (default: every one that is ready)")
    parser.add_argument("--benchmark", action="append", choices=BENCHMARKS,
                        help="benchmarks to verify (default: all three)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the canonical weights and of the batch")
    parser.add_argument("--image-size", type=int, default=224,
                        help="ResNet-50 input size (the network is fully convolutional up to "
                             "the global pool; smaller is quicker)")
    parser.add_argument("--weights", metavar="FILE",
                        help="canonical ResNet-50 weights (HDF5; see `data weights`) instead of "
                             "the seeded ones")
    parser.add_argument("--timeout", type=float, default=900.0, metavar="SECONDS",
                        help="per implementation and benchmark")
    parser.add_argument("--results", type=Path, metavar="PATH",
                        help="JSON-lines file verify records are appended to (default: "
                             "verify.jsonl next to the benchmark results)")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when an implementation lacks a verify hook")
    parser.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    names = [n.strip() for v in args.impl or [] for n in v.split(",") if n.strip()]
    try:
        for name in names:
            registry.by_name(name)
    except KeyError as error:
        console.print(f"[red]{error.args[0]}[/]")
        return 2
    benchmarks = list(dict.fromkeys(args.benchmark or BENCHMARKS))
    settings = Settings(device=args.device, seed=args.seed, timeout=args.timeout,
                        results=(args.results or default_verify_results()).resolve(),
                        image_size=args.image_size, weights=args.weights)

    def show(record: dict[str, Any]) -> None:
        style = STATUS_STYLE.get(record["status"], "white")
        console.print(f"verify {record['benchmark']} · {record['impl']}: "
                      f"[{style}]{record['status']}[/]")

    records = verify(names, benchmarks, settings, on_record=show)
    for benchmark in benchmarks:
        rows = [r for r in records if r["benchmark"] == benchmark]
        if rows:
            console.print(verify_table(benchmark, rows))
    console.print(f"Verify records appended to [bold]{settings.results}[/]; what verify proves "
                  f"and what it does not: harness/verify/oracle/README.md")
    bad = {"failed", "error"} | ({"unsupported"} if args.strict else set())
    return 1 if any(r["status"] in bad for r in records) else 0


def register_weights_command(data_subparsers: argparse._SubParsersAction) -> None:
    """Add `data weights MODEL [--seed N | --from FILE] [--out PATH]`."""
    from harness.verify.weights import MODELS

    parser = data_subparsers.add_parser(
        "weights", help="write canonical weights (HDF5, PyTorch state_dict names) from a seed, "
                        "or convert a torchvision ResNet-50 checkpoint")
    parser.add_argument("model", choices=MODELS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--from", dest="source", metavar="FILE",
                        help="a torchvision ResNet-50 checkpoint (torch.save of a state_dict, "
                             "e.g. resnet50-11ad3fa6.pth); needs PyTorch")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help="where to write the HDF5 file (default: DATA_DIR/weights/)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="the data store (default: datasets/; env HARNESS_DATA_DIR)")
    parser.set_defaults(func=cmd_weights)


def cmd_weights(args: argparse.Namespace) -> int:
    from harness.verify import weights as canonical

    directory = Path(args.data_dir) / "weights" if args.data_dir else None
    try:
        if args.source:
            if args.model != "resnet50":
                print("--from converts torchvision ResNet-50 checkpoints only: "
                      "use `data weights resnet50 --from FILE`", file=sys.stderr)
                return 2
            path = canonical.convert_torchvision_checkpoint(args.source, args.out, directory)
        else:
            path = canonical.save_weights(
                args.out or canonical.seeded_weights_path(args.model, args.seed, directory),
                args.model,
                canonical.seeded_weights(args.model, args.seed),
                source=f"seeded random, seed {args.seed}")
    except canonical.WeightsError as error:
        print(error, file=sys.stderr)
        return 1
    count = len(canonical.parameter_shapes(args.model))
    print(f"wrote {path} ({count} tensors, PyTorch state_dict names and layouts)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.verify.runner ...`: the verify command on its own."""
    registry.load_plugins()
    parser = argparse.ArgumentParser(prog="python -m harness.verify.runner")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["verify", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
