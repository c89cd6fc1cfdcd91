"""The original project's published figures (K80 2017, P100 2018), matched to this project's rows.

The data are a copy of the reference dossier's `original-results.json` (see
`reference_data/README.md` for the source). A row of ours gets a reference figure only when its
implementation name is the counterpart of one of the original's frameworks (`IMPL_OF_FRAMEWORK`)
and the original measured it on that GPU; variants (`jax-flax-scan`, compiled, bf16, ...) have none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness import benchmarks, metrics

DATA_FILE = Path(__file__).resolve().parent / "reference_data" / "original-results.json"

# The original's framework names -> this project's implementation names. The original's
# secondary API variants ("CNTK (high-level API)", "TensorFlow (Estimator API)", ...) have no row.
IMPL_OF_FRAMEWORK = {
    "PyTorch": "pytorch",
    "TensorFlow": "tensorflow",
    "Keras (TensorFlow backend)": "keras-tensorflow",
    "Keras (CNTK backend)": "keras-cntk",
    "Keras (Theano backend)": "keras-theano",
    "MXNet Gluon": "mxnet-gluon",
    "MXNet (Module API)": "mxnet-module",
    "Knet (Julia)": "knet",
    "Chainer": "chainer",
    "CNTK": "cntk",
    "Caffe2": "caffe2",
    "Lasagne (Theano)": "lasagne",
    "R Keras (TensorFlow backend)": "r-keras-tensorflow",
}

GPUS = ("K80", "P100")  # the reference columns, oldest first
YEAR = {"K80": 2017, "P100": 2018}


@dataclass(frozen=True)
class ReferenceFigure:
    benchmark: str  # ours: cnn, rnn, inference
    impl: str
    gpu: str  # "K80" or "P100"
    value: float  # train seconds (cnn, rnn) or seconds per 1,000 images (inference)
    accuracy: float | None
    framework: str  # as the original named it
    framework_version: str
    source: str  # notebook, and commit where it came from git history

    def describe(self) -> str:
        unit = metrics.get(benchmarks.get(self.benchmark).headline).unit
        return (f"{self.framework} ({self.framework_version}) on a {self.gpu} in "
                f"{YEAR[self.gpu]}: {self.value:g} {unit}")


def gpu_class(gpu: str) -> str | None:
    """'Tesla P100-PCIE-16GB' -> 'P100'; 'not printed (K80 per README)' -> 'K80'; V100 -> None."""
    for name in GPUS:
        if name in gpu:
            return name
    return None


@lru_cache(maxsize=1)
def original_rows() -> tuple[dict[str, Any], ...]:
    """Every row of the original's data file (all benchmarks, GPUs and variants)."""
    with open(DATA_FILE, encoding="utf-8") as f:
        return tuple(json.load(f))


@lru_cache(maxsize=1)
def figures() -> dict[tuple[str, str, str], ReferenceFigure]:
    """(benchmark, impl, gpu) -> the figure the original's notebook printed."""
    found: dict[tuple[str, str, str], ReferenceFigure] = {}
    ours = {benchmarks.get(name).original_name: name for name in benchmarks.names()
            if benchmarks.get(name).original_name}
    # HEAD rows last, so a notebook at HEAD wins over an older commit for the same cell.
    rows = sorted(original_rows(), key=lambda r: r.get("provenance") == "HEAD")
    for row in rows:
        benchmark = ours.get(row.get("benchmark", ""))
        impl = IMPL_OF_FRAMEWORK.get(row.get("framework", ""))
        gpu = gpu_class(row.get("gpu") or "")
        value = row.get("train_seconds" if benchmark and benchmarks.get(benchmark).training
                        else "inference_seconds_per_1000")
        if not (benchmark and impl and gpu) or value is None:
            continue
        source = row.get("source_notebook") or ""
        if row.get("provenance") == "git-history" and row.get("source_commit"):
            source += f" @ {row['source_commit']}"
        found[(benchmark, impl, gpu)] = ReferenceFigure(
            benchmark=benchmark, impl=impl, gpu=gpu, value=float(value),
            accuracy=row.get("accuracy"), framework=row["framework"],
            framework_version=row.get("framework_version") or "", source=source)
    return found


def reference_for(benchmark: str, impl: str) -> dict[str, ReferenceFigure]:
    """The original's figures for one of our rows, by GPU ('K80', 'P100'); empty when none."""
    table = figures()
    return {gpu: table[(benchmark, impl, gpu)] for gpu in GPUS
            if (benchmark, impl, gpu) in table}
