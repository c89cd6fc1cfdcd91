"""The adapters: the harness's interface, implemented by calling Julia.

Julia rows (Knet.jl and Flux.jl, `julia_impls/`) satisfy the same interface as the Python
rows: the harness's worker imports `JuliaCNN`, `JuliaRNN` or `JuliaFeatures` from here, as it
would a Python class, and never knows that the work happens in Julia. Each adapter starts
Julia in its own child process (every run is one), `include`s one source file
(`julia_impls/<flavor>/<benchmark>.jl`, sections marked as in the Python files) and calls the
Julia functions of the same names: `prepare`, `build`, `train_epoch`, `predict`, `extract`,
`sync`, `info`.

The bridge is juliacall (PythonCall.jl), which passes NumPy arrays to Julia without copying;
PyJulia (`HARNESS_JULIA_BRIDGE=pyjulia`) slots in where a user already has it set up. Both
hand Julia a NumPy array with the same logical shape; the layouts are in
harness.julia.layouts, readiness in harness.julia.readiness. Nothing here imports Julia at
module import.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness import benchmarks
from harness.config import CNNConfig, InferenceConfig, RNNConfig
from harness.interface import (InferenceImplementation, RunInfo, TrainingData,
                               TrainingImplementation)
from harness.julia.device import knet_cuda_problem, precision_label
from harness.julia.layouts import (canonical_weights, from_julia_columns, julia_images,
                                   julia_labels, julia_order, julia_range, julia_tokens,
                                   julia_weights)
from harness.julia.readiness import (Flavor, JuliaNotReady, bridge_name, find_julia,
                                     flavor_named, julia_readiness)

# Starting Julia (in the child process only).

def juliacall_environment(flavor: Flavor, julia: str) -> dict[str, str]:
    """Variables that make juliacall use this julia and this flavor's environment as is:
    PYTHON_JULIACALL_EXE/PROJECT (juliacall >= 0.9.28 then skips juliapkg), and juliapkg's
    EXE/PROJECT with OFFLINE=yes for older juliacall (it then installs nothing; `setup julia`
    did). Signal handling on: CUDA.jl and Julia's GC rely on it in a host process."""
    project = str(flavor.project)
    return {
        "PYTHON_JULIACALL_EXE": julia, "PYTHON_JULIACALL_PROJECT": project,
        "PYTHON_JULIAPKG_EXE": julia, "PYTHON_JULIAPKG_PROJECT": project,
        "PYTHON_JULIAPKG_OFFLINE": "yes",
    }


class _JuliaCall:
    """juliacall: numeric NumPy arrays arrive in Julia as `PyArray`s sharing their memory."""

    name = "juliacall"

    def __init__(self, flavor: Flavor, julia: str) -> None:
        os.environ.update(juliacall_environment(flavor, julia))
        os.environ.setdefault("PYTHON_JULIACALL_HANDLE_SIGNALS", "yes")
        import juliacall  # starts Julia

        self.main = juliacall.Main
        self.version = importlib.metadata.version("juliacall")

    def include(self, path: Path) -> Any:
        return self.main.include(str(path))


class _PyJulia:
    """PyJulia (`julia` on PyPI, last release 2023), for users who already have it working;
    PyCall must be in the flavor's Julia environment. Arrays arrive as copies."""

    name = "pyjulia"

    def __init__(self, flavor: Flavor, julia: str) -> None:
        os.environ["JULIA_PROJECT"] = str(flavor.project)
        from julia.api import Julia

        Julia(runtime=julia, compiled_modules=False)
        from julia import Main

        self.main = Main
        self.version = importlib.metadata.version("julia")

    def include(self, path: Path) -> Any:
        return self.main.include(str(path))


def start_julia(flavor: Flavor) -> _JuliaCall | _PyJulia:
    ready, reason = julia_readiness(flavor.name)
    if not ready:
        raise JuliaNotReady(reason)
    julia, _ = find_julia(flavor)
    assert julia is not None
    return (_PyJulia if bridge_name() == "pyjulia" else _JuliaCall)(flavor, julia)


# ---------------------------------------------------------------------------------------------
# The adapters: the harness's interface, implemented by calling Julia.
# ---------------------------------------------------------------------------------------------

class _JuliaRun:
    """Starts Julia and loads one source file at construction (outside every timed phase:
    the harness starts its clock after constructing), then forwards the interface."""

    benchmark: str
    requested_device: str

    def _start(self, flavor: str) -> None:
        self.flavor = flavor_named(flavor)
        if self.flavor.name == "knet" and self.requested_device == "cuda":
            problem = knet_cuda_problem()  # before Julia starts: the GPU is too new for Knet
            if problem:
                raise JuliaNotReady(problem)
        started = time.perf_counter()
        self.bridge = start_julia(self.flavor)
        self.module = self.bridge.include(self.flavor.sources / benchmarks.get(self.benchmark).julia_source)
        # precision: "default", or "strict" for the fp32-strict rows (julia_impls/precision.jl)
        self.state = self.module.State(self.requested_device,
                                       precision=self.options.get("precision", "default"))
        self.start_s = time.perf_counter() - started

    def sync(self) -> None:
        self.module.sync(self.state)  # CUDA.synchronize() on a GPU

    def info(self) -> RunInfo:
        jl = {str(k): str(v) for k, v in dict(self.module.info(self.state)).items()}
        precision = precision_label(self.flavor.name, jl)  # from the facts Julia reports
        return RunInfo(
            framework=self.flavor.framework,
            framework_version=jl.pop("framework_version", ""),
            language="julia",
            language_version=jl.pop("julia_version", ""),
            device=jl.pop("device", "cpu"),
            device_name=jl.pop("device_name", ""),
            precision=precision,
            cudnn={"yes": True, "no": False}.get(jl.pop("cudnn", ""), None),
            extra={**jl, "bridge": f"{self.bridge.name} {self.bridge.version}",
                   "julia_start_s": round(self.start_s, 2), "not_run_in_ci": True},
        )

    def _load(self, model: str, params: dict[str, np.ndarray]) -> None:
        for name, value in julia_weights(model, params, self.flavor.name).items():
            self.module.load_weight(self.state, name, value)


class _JuliaTraining(_JuliaRun):
    """For `verify` (training): the Julia side returns arrays in its own layout, which is the
    canonical one reversed; everything is turned back here."""

    config: CNNConfig | RNNConfig

    def _julia_inputs(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_weights(self) -> dict[str, np.ndarray]:
        julia = {str(k): np.asarray(v) for k, v in dict(self.module.get_weights(self.state)).items()}
        return canonical_weights(self.benchmark, julia, self.flavor.name)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.module.verify_step(self.state, self._julia_inputs(x),
                                             julia_labels(y, self.config.n_classes)))

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        julia = dict(self.module.activations(self.state, self._julia_inputs(x)))
        return {str(k): np.ascontiguousarray(np.asarray(v).T) for k, v in julia.items()}


class JuliaCNN(_JuliaTraining, TrainingImplementation):
    """docs/benchmarks.md §2 in Julia: `julia_impls/<flavor>/cnn.jl`."""

    benchmark = "cnn"

    def __init__(self, device: str = "auto", flavor: str = "knet", **options: Any) -> None:
        super().__init__(device, flavor=flavor, **options)
        self._start(flavor)

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.n_train, self.n_test = len(data.x_train), len(data.x_test)
        self.n_classes = CNNConfig().n_classes
        self.module.prepare(self.state, julia_images(data.x_train),
                            julia_labels(data.y_train, self.n_classes), julia_images(data.x_test))

    # == model ==  (and == loss and optimizer ==, in the Julia file)
    def build(self, config: CNNConfig, seed: int) -> None:
        self.config, self.n_classes = config, config.n_classes
        self.module.build(self.state, seed, batch_size=config.batch_size, lr=config.lr,
                          momentum=config.momentum, n_classes=config.n_classes)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.module.train_epoch(self.state, julia_order(order, self.n_train,
                                                        self.config.batch_size))

    # == prediction ==
    def predict(self) -> np.ndarray:
        return from_julia_columns(self.module.predict(self.state), self.n_test, self.n_classes)

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        self._load("cnn", params)

    @staticmethod
    def _julia_inputs(x: np.ndarray) -> np.ndarray:
        return julia_images(np.ascontiguousarray(x, dtype=np.float32))


class JuliaRNN(_JuliaTraining, TrainingImplementation):
    """docs/benchmarks.md §3 in Julia: `julia_impls/<flavor>/rnn.jl`."""

    benchmark = "rnn"

    def __init__(self, device: str = "auto", flavor: str = "knet", **options: Any) -> None:
        super().__init__(device, flavor=flavor, **options)
        self._start(flavor)

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.n_train, self.n_test = len(data.x_train), len(data.x_test)
        n_classes = RNNConfig().n_classes
        # Token ids stay 0-based: they index rows of the embedding, which Julia shifts by one.
        self.module.prepare(self.state, julia_tokens(data.x_train),
                            julia_labels(data.y_train, n_classes), julia_tokens(data.x_test))

    # == model ==
    def build(self, config: RNNConfig, seed: int) -> None:
        self.config = config
        self.module.build(self.state, seed, batch_size=config.batch_size,
                          vocab_size=config.vocab_size, embedding_dim=config.embedding_dim,
                          hidden=config.hidden, n_classes=config.n_classes, lr=config.lr,
                          beta1=config.beta1, beta2=config.beta2, eps=config.eps)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.module.train_epoch(self.state, julia_order(order, self.n_train,
                                                        self.config.batch_size))

    # == prediction ==
    def predict(self) -> np.ndarray:
        return from_julia_columns(self.module.predict(self.state), self.n_test,
                                  self.config.n_classes)

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        self._load("rnn", params)

    @staticmethod
    def _julia_inputs(x: np.ndarray) -> np.ndarray:
        return julia_tokens(np.ascontiguousarray(x, dtype=np.int32))


class JuliaFeatures(_JuliaRun, InferenceImplementation):
    """docs/benchmarks.md §4 in Julia: `julia_impls/<flavor>/inference.jl`."""

    benchmark = "inference"

    def __init__(self, device: str = "auto", flavor: str = "knet", **options: Any) -> None:
        super().__init__(device, flavor=flavor, **options)
        self._start(flavor)

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.module.prepare(self.state, julia_images(images))

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        self.feature_dim = config.feature_dim
        if weights is not None:  # canonical tensors first; `build` initialises the rest
            self._load("resnet50", {k: v for k, v in weights.items() if not k.startswith("fc.")})
        self.module.build(self.state, seed)

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        first, last = julia_range(start, stop)
        return from_julia_columns(self.module.extract(self.state, first, last), stop - start,
                                  self.feature_dim)
