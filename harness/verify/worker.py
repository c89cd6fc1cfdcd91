"""The child process of one `verify` run: `python -m harness.verify.worker JOB.json`.

It imports one implementation, feeds it the case the parent wrote (inputs and canonical
weights, a NumPy .npz: no h5py needed here), and saves what the implementation computed to
another .npz for the parent to compare with the oracle (and, where docs/benchmarks.md §3 has an
initialisation rule, the weights the row built itself: harness.verify.init_rule). A hook the
implementation lacks (NotImplementedError) is recorded as unsupported and the checks that need
it are skipped; any other exception is recorded as the run's error. Whatever was computed before is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from harness import benchmarks
from harness.interface import TrainingData
from harness.plugins import load_plugins
from harness.run.child import end_with_parent
from harness.run.worker import load_class, one_line, run_info
from harness.verify import init_rule


def run_training(impl: Any, case: dict[str, np.ndarray], weights: dict[str, np.ndarray],
                 seed: int, out: dict[str, np.ndarray], unsupported: dict[str, str],
                 benchmark: str) -> None:
    x, y = case["x"], case["y"]
    impl.prepare(TrainingData(x_train=x, y_train=y, x_test=x, y_test=y, kind="synthetic"))
    impl.build(benchmarks.get(benchmark).config, seed)
    if benchmark in init_rule.RULES:  # the row's own initial weights, before the canonical ones
        built = attempt(unsupported, "get_weights", impl.get_weights)
        for name, value in (built if isinstance(built, dict) else {}).items():
            out[f"init/{name}"] = np.asarray(value)
    if not attempt(unsupported, "load_weights", lambda: impl.load_weights(weights)):
        return
    out["logits0"] = np.asarray(impl.predict())
    acts = attempt(unsupported, "activations", lambda: impl.activations(x))
    for name, value in (acts or {}).items():
        out[f"act/{name}"] = np.asarray(value)
    for step in (1, 2):
        loss = attempt(unsupported, "verify_step", lambda: impl.verify_step(x, y))
        if loss is None:
            return
        out[f"loss{step}"] = np.asarray(float(loss))
        params = attempt(unsupported, "get_weights", impl.get_weights)
        if params is None:
            return
        for name, value in params.items():
            out[f"w{step}/{name}"] = np.asarray(value)
    out["logits2"] = np.asarray(impl.predict())


def run_inference(impl: Any, case: dict[str, np.ndarray], weights: dict[str, np.ndarray],
                  seed: int, out: dict[str, np.ndarray], unsupported: dict[str, str],
                  benchmark: str) -> None:
    images = case["x"]
    config = replace(benchmarks.get(benchmark).config, batch_size=len(images),
                     image_size=images.shape[-1])
    impl.prepare(images)
    impl.build(config, weights, seed)
    out["features"] = np.asarray(impl.extract(0, len(images)))
    acts = attempt(unsupported, "activations", lambda: impl.activations(images))
    for name, value in (acts or {}).items():
        out[f"act/{name}"] = np.asarray(value)


def attempt(unsupported: dict[str, str], hook: str, call: Callable[[], Any]) -> Any:
    """Call an optional hook; None (and a note) when the implementation does not have it."""
    try:
        result = call()
    except NotImplementedError as error:
        unsupported[hook] = one_line(error)
        return None
    return True if result is None else result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("job", type=Path)
    args = parser.parse_args(argv)
    end_with_parent()  # a check nobody will record, or past its time, must not go on
    job = json.loads(args.job.read_text())
    with np.load(job["case"]) as f:
        case = {k: f[k] for k in f.files}
    weights = {k.removeprefix("w/"): v for k, v in case.items() if k.startswith("w/")}
    out: dict[str, np.ndarray] = {}
    report: dict[str, Any] = {"unsupported": {}, "error": None}
    status = 0
    try:
        load_plugins()
        impl = load_class(job["benchmark"], job["entry_point"])(device=job["device"],
                                                                **job["options"])
        if not benchmarks.get(job["benchmark"]).training:
            run_inference(impl, case, weights, job["seed"], out, report["unsupported"],
                          job["benchmark"])
        else:
            run_training(impl, case, weights, job["seed"], out, report["unsupported"],
                         job["benchmark"])
        report["info"] = run_info(impl)
    except BaseException as error:  # noqa: BLE001 - every failure becomes a reported row
        traceback.print_exc()
        report["error"] = one_line(error)
        status = 130 if isinstance(error, KeyboardInterrupt) else 1
    np.savez(job["out"], **out)
    tmp = Path(job["report"]).with_suffix(".tmp")
    tmp.write_text(json.dumps(report, default=str))
    os.replace(tmp, job["report"])
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
