"""The adapters: the harness's interface, implemented by calling Julia.

Julia rows (Knet.jl and Flux.jl, `julia_impls/`) satisfy the same interface as the Python
rows: the harness's worker imports `Julia<impl_class>` from here (`JuliaCNN`, `JuliaRNN`,
`JuliaTransformer`, `JuliaResNet50Features`), as it would a Python class, and never knows that
the work happens in Julia. There is one training adapter and one inference adapter; the
classes are made from the benchmark records (harness.benchmarks: `impl_class`,
`julia_source`, `config`, `model`), so a new benchmark with Julia sources needs no edit here.
Each adapter starts Julia in its own child process (every run is one), `include`s the
benchmark's source file (`julia_impls/<flavor>/<julia_source>`, sections marked as in the
Python files) and calls the Julia functions of the same names: `prepare`, `build` (with every
field of the benchmark's config as a keyword), `train_epoch`, `predict`, `extract`, `sync`,
`info`, and the `verify` hooks.

The bridge is juliacall (PythonCall.jl), which passes NumPy arrays to Julia without copying;
PyJulia (`HARNESS_JULIA_BRIDGE=pyjulia`) slots in where a user already has it set up. Both
hand Julia a NumPy array with the same logical shape; the layouts are in
harness.julia.layouts, readiness in harness.julia.readiness. Nothing here imports Julia at
module import.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness import benchmarks
from harness.interface import (InferenceImplementation, RunInfo, TrainingData,
                               TrainingImplementation)
from harness.julia.device import knet_cuda_problem, knet_gpu_pin, precision_label
from harness.julia.layouts import (canonical_weights, from_julia_columns, julia_inputs,
                                   julia_labels, julia_order, julia_range, julia_weights)
from harness.julia.readiness import (Flavor, JuliaNotReady, bridge_name, find_julia,
                                     flavor_named, julia_readiness)
from harness.precision import FP32_STRICT

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


def julia_precision(options: dict) -> str:
    """The precision a Julia `State` is built with (julia_impls/precision.jl): "strict" for a
    run asked for fp32-strict (`--precision`, whose variant also sets NVIDIA_TF32_OVERRIDE=0
    before Julia starts), else "default"."""
    return "strict" if options.get("precision") == FP32_STRICT else "default"


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
    """Starts Julia and loads the benchmark's source file at construction (outside every timed
    phase: the harness starts its clock after constructing), then forwards the interface."""

    benchmark: str  # set on each generated class (`adapter_class`)
    requested_device: str

    def __init__(self, device: str = "auto", flavor: str = "knet", **options: Any) -> None:
        super().__init__(device, flavor=flavor, **options)  # type: ignore[call-arg]
        self._start(flavor)

    @property
    def record(self) -> benchmarks.Benchmark:
        return benchmarks.get(self.benchmark)

    def _start(self, flavor: str) -> None:
        self.flavor = flavor_named(flavor)
        self.gpu_pin: dict[str, str] = {}
        if self.flavor.name == "knet" and self.requested_device != "cpu":
            if self.requested_device == "cuda":
                problem = knet_cuda_problem()  # before Julia starts: every GPU too new for Knet
                if problem:
                    raise JuliaNotReady(problem)
            self.gpu_pin = knet_gpu_pin()  # mixed GPUs: only those Knet can compile for
            os.environ.update(self.gpu_pin)
        started = time.perf_counter()
        self.bridge = start_julia(self.flavor)
        self.module = self.bridge.include(self.flavor.sources / self.record.julia_source)
        self.state = self.module.State(self.requested_device, precision=julia_precision(self.options))
        self.start_s = time.perf_counter() - started

    def sync(self) -> None:
        self.module.sync(self.state)  # CUDA.synchronize() on a GPU

    def info(self) -> RunInfo:
        jl = {str(k): str(v) for k, v in dict(self.module.info(self.state)).items()}
        precision = precision_label(self.flavor.name, jl)  # from the facts Julia reports
        pin = " ".join(f"{k}={v}" for k, v in getattr(self, "gpu_pin", {}).items())
        return RunInfo(
            framework=self.flavor.framework,
            framework_version=jl.pop("framework_version", ""),
            language="julia",
            language_version=jl.pop("julia_version", ""),
            device=jl.pop("device", "cpu"),
            device_name=jl.pop("device_name", ""),
            precision=precision,
            cudnn={"yes": True, "no": False}.get(jl.pop("cudnn", ""), None),
            attention=jl.pop("attention", None),
            extra={**jl, **({"gpu_pin": pin} if pin else {}),
                   "bridge": f"{self.bridge.name} {self.bridge.version}",
                   "julia_start_s": round(self.start_s, 2), "not_run_in_ci": True},
        )

    def _build(self, config: Any, seed: int) -> None:
        """Julia's `build(state, seed; <every field of the config>...)`: each file declares the
        fields it uses and swallows the rest (`kw...`)."""
        self.config = config
        self.module.build(self.state, seed, **dataclasses.asdict(config))

    def _load(self, params: dict[str, np.ndarray]) -> None:
        for name, value in julia_weights(self.record.model, params, self.flavor.name).items():
            self.module.load_weight(self.state, name, value)


class _JuliaTraining(_JuliaRun, TrainingImplementation):
    """A training benchmark in Julia. For `verify`, the Julia side returns arrays in its own
    layout, which is the canonical one reversed; everything is turned back here."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.n_train, self.n_test = len(data.x_train), len(data.x_test)
        # token ids stay 0-based (they index embedding columns, which Julia shifts by one)
        self.module.prepare(self.state, julia_inputs(data.x_train),
                            julia_labels(data.y_train, self.record.config.n_classes),
                            julia_inputs(data.x_test))

    # == model ==  (and == loss and optimizer ==, in the Julia file)
    def build(self, config: Any, seed: int) -> None:
        self._build(config, seed)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.module.train_epoch(self.state, julia_order(order, self.n_train,
                                                        self.config.batch_size))

    # == prediction ==
    def predict(self) -> np.ndarray:
        return from_julia_columns(self.module.predict(self.state), self.n_test,
                                  self.config.n_classes)

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        self._load(params)

    def get_weights(self) -> dict[str, np.ndarray]:
        julia = {str(k): np.asarray(v) for k, v in dict(self.module.get_weights(self.state)).items()}
        return canonical_weights(self.record.model, julia, self.flavor.name)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.module.verify_step(self.state, julia_inputs(x),
                                             julia_labels(y, self.config.n_classes)))

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        julia = dict(self.module.activations(self.state, julia_inputs(x)))
        return {str(k): np.ascontiguousarray(np.asarray(v).T) for k, v in julia.items()}


class _JuliaInference(_JuliaRun, InferenceImplementation):
    """An inference benchmark in Julia: canonical weights, when given, are handed over one
    tensor at a time before `build`, which initialises the rest."""

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.module.prepare(self.state, julia_inputs(images))

    # == model ==
    def build(self, config: Any, weights: dict[str, np.ndarray] | None, seed: int) -> None:
        if weights is not None:  # the feature extractor has no classifier (`fc.*`)
            self._load({k: v for k, v in weights.items() if not k.startswith("fc.")})
        self._build(config, seed)

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        first, last = julia_range(start, stop)
        return from_julia_columns(self.module.extract(self.state, first, last), stop - start,
                                  self.config.feature_dim)


# The adapter classes, one per benchmark record with Julia sources: `Julia<impl_class>`
# (JuliaCNN, JuliaRNN, JuliaTransformer, JuliaResNet50Features), as harness.registry's
# `julia_entries` names them. Made on first use, so that a benchmark registered later (a
# plugin's) has one too.
_ADAPTERS: dict[str, type] = {}


def adapter_class(benchmark: benchmarks.Benchmark) -> type:
    """The adapter of one benchmark: the training or inference adapter with its name set."""
    name = f"Julia{benchmark.impl_class}"
    if name not in _ADAPTERS:
        base = _JuliaTraining if benchmark.training else _JuliaInference
        doc = (f"docs/benchmarks.md's {benchmark.title} in Julia: "
               f"`julia_impls/<flavor>/{benchmark.julia_source}`.")
        _ADAPTERS[name] = type(name, (base,), {"benchmark": benchmark.name, "__doc__": doc,
                                               "__module__": __name__})
    return _ADAPTERS[name]


def __getattr__(name: str) -> type:
    for benchmark in benchmarks.REGISTRY.values():
        if benchmark.julia_source and benchmark.impl_class and name == f"Julia{benchmark.impl_class}":
            return adapter_class(benchmark)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
