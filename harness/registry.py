"""Every implementation the project knows, and whether it can run on this machine.

Readiness is decided without importing any framework (the parent process never does):
`importlib.util.find_spec` finds a package, `importlib.metadata` reads its version.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable

from harness import benchmarks, nvidia, toolchain
from harness.julia import readiness as julia_readiness
from harness.julia.device import knet_gpu_note
from harness.requirements import Requirement, mlx_backend_problem, version_tuple  # noqa: F401


@dataclass(frozen=True)
class Row:
    """One row of the comparison: a framework (and variant) implementing some benchmarks."""

    name: str  # the row's name, e.g. "pytorch", "jax-flax-scan"
    framework: str  # e.g. "PyTorch"
    language: str  # "python" or "julia"
    entry_points: dict[str, str]  # benchmark -> "module:Class"
    description: str
    requires: tuple[Requirement, ...] = ()
    install: str = ""  # the command that makes it ready
    options: dict = field(default_factory=dict)  # keyword arguments for the class
    env: dict[str, str] = field(default_factory=dict)  # environment of its child process
    # An extra check: None = fine, else the problem (its fix is `install`) or (problem, fix).
    readiness_check: Callable[[], str | tuple[str, str] | None] | None = None
    # A caveat for a ready row, for `list` (e.g. Knet on a GPU too new for it runs on the
    # CPU); None = nothing to say.
    notice: Callable[[], str | None] | None = None
    unavailable: str | None = None  # permanently impossible here (retired upstream, ...)
    needs_gpu: bool = False
    precisions: dict[str, str] = field(default_factory=dict)  # harness.precision: name -> how
    # An isolated environment (harness.run.envs) whose interpreter runs this row's child processes,
    # for frameworks whose pins conflict with the main environment (e.g. numpy < 2).
    environment: str | None = None

    def source_module(self, benchmark: str) -> str:
        return self.entry_points[benchmark].split(":")[0]


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str = "ready"
    fix: str = ""
    note: str = ""  # a ready row's caveat (Row.notice)


def readiness(impl: Row, benchmark: str, gpu: bool | None = None) -> Readiness:
    """Can `impl` run `benchmark` here? The first problem found, and its fix."""
    if benchmark not in impl.entry_points:
        return Readiness(False, f"{impl.name} does not implement {benchmark}")
    if impl.unavailable:
        return Readiness(False, impl.unavailable)
    if impl.environment:  # its packages live in that environment, not in this process's
        from harness.run import envs

        problem = envs.environment_problem(impl.environment)
        if problem:
            return Readiness(False, problem, f"python -m harness setup {impl.environment}")
    for requirement in () if impl.environment else impl.requires:
        problem = requirement.problem()
        if problem:
            return Readiness(False, problem, impl.install)
    if impl.readiness_check is not None:
        problem = impl.readiness_check()
        if isinstance(problem, tuple):
            return Readiness(False, *problem)
        if problem:
            return Readiness(False, problem, impl.install)
    if impl.needs_gpu and not (gpu if gpu is not None else gpu_present()):
        return Readiness(False, "needs an NVIDIA GPU; none found (nvidia-smi)")
    return Readiness(True, note=(impl.notice() or "") if impl.notice else "")


def gpu_present() -> bool:
    """An NVIDIA GPU visible to this machine, found without importing any framework."""
    return nvidia.present()


@lru_cache(maxsize=None)
def defined_classes(module: str) -> frozenset[str]:
    """The classes a module defines at its top level, read from its source without importing
    it (the parent process imports no framework)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return frozenset()
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return frozenset()
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    return frozenset(node.name for node in tree.body if isinstance(node, ast.ClassDef))


def entries(module: str, suffix: str = "", **renamed: str) -> dict[str, str]:
    """Benchmark -> "module:Class" for every built-in benchmark `module` implements: the class
    is the benchmark's `impl_class` plus the row's variant suffix (`renamed[benchmark]` where
    the row names it otherwise), and the row implements the benchmark when the module defines
    it. A new benchmark reaches every row whose module gains its class, with no edit here."""
    found = defined_classes(module)
    out = {}
    for benchmark in benchmarks.REGISTRY.values():
        if not benchmark.impl_class:
            continue
        cls = renamed.get(benchmark.name, benchmark.impl_class + suffix)
        if cls in found:
            out[benchmark.name] = f"{module}:{cls}"
    return out


def julia_entries(flavor: str) -> dict[str, str]:
    """A Julia row's entry points: the bridge's adapter (harness.julia.bridge) for every
    benchmark whose Julia source the flavor has (`julia_impls/<flavor>/<julia_source>`)."""
    sources = julia_readiness.flavor_named(flavor).sources
    return {b.name: f"harness.julia.bridge:Julia{b.impl_class}"
            for b in benchmarks.REGISTRY.values()
            if b.julia_source and b.impl_class and (sources / b.julia_source).is_file()}


def original_benchmarks() -> dict[str, str]:
    """A retired row's entries: the benchmarks of the original 2017 project it ran in, with no
    code here (the row says why)."""
    return {b.name: "" for b in benchmarks.REGISTRY.values() if b.original_name}


# Shared by several rows. TensorFlow ships as `tensorflow` or `tensorflow-cpu`; 2.16+ has Keras 3
# as tf.keras.
TORCH = Requirement("torch", "torch", "2.0", "3")
TENSORFLOW = Requirement("tensorflow", "tensorflow", "2.16", "3", alternatives=("tensorflow-cpu",))
KERAS = Requirement("keras", "keras", "3.0", "4")
TORCH_AUTOCAST = ("torch.autocast(device, torch.bfloat16) around the forward pass and the loss: "
                  "bf16 matmuls and convolutions, fp32 weights, optimizer and loss")
KERAS_MIXED = ("the Keras mixed_bfloat16 dtype policy: layers compute in bf16, variables and "
               "optimizer state fp32, the loss in fp32")
FLAX_BF16 = ("every Flax layer with dtype=bfloat16 (param_dtype fp32: parameters and optax "
             "state fp32), the logits cast to fp32 for the loss")
# fp32-strict: each row's own switch, on top of precision.STRICT_FP32_ENV in every strict child.
TORCH_STRICT = ("torch.backends' fp32_precision='ieee' for cuBLAS, cuDNN (conv, RNN) and oneDNN "
                "(matmul, conv, RNN): no TF32 on GPUs, no bf16 passes for fp32 on CPUs")
TF_STRICT = ("tf.config.experimental.enable_tensor_float_32_execution(False): no TF32 in "
             "TensorFlow's GPU matmuls and convolutions")
JAX_STRICT = ("jax_default_matmul_precision='highest': XLA's fp32 dots and convolutions in full "
              "fp32 (no TF32, no bf16 passes)")
MXNET_STRICT = ("MXNET_CUDA_ALLOW_TENSOR_CORE=0, set before the model is built: no tensor-core "
                "math in MXNet's cuDNN and cuBLAS calls (the CPU computes fp32 with or without it)")
CHAINER_STRICT = ("chainer.config.use_cudnn_tensor_core='never': cuDNN without tensor-core math "
                  "(NumPy on the CPU computes fp32 with or without it)")
MLX_STRICT = ("MLX_ENABLE_TF32=0 in the environment before MLX starts (MLX's default, 1, runs fp32 "
              "matmuls and convolutions in TF32 on NVIDIA GPUs and Apple M5; the CPU in fp32)")
TINYGRAD_STRICT = ("ALLOW_TF32=0 (tinygrad's default: fp32 matmuls never on TF32 tensor cores; "
                   "the CPU has none)")
JULIA_STRICT = ("NVIDIA_TF32_OVERRIDE=0 before Julia starts (cuBLAS and cuDNN read it as they load) "
                "and CUDA.jl PEDANTIC_MATH")
JAX_FLAX = (Requirement("jax", "jax", "0.10", "1"), Requirement("flax", "flax", "0.12", "1"),
            Requirement("optax", "optax", "0.2", "1"))


ROWS: list[Row] = [
    Row(
        name="pytorch",
        framework="PyTorch",
        language="python",
        entry_points=entries("py_impls.pytorch"),
        description="eager fp32, batches copied from host each step, cuDNN autotune, cuDNN GRU",
        requires=(TORCH,),
        install='pip install -e ".[torch]"',
        precisions={"bf16-mixed": TORCH_AUTOCAST, "fp32-strict": TORCH_STRICT},
    ),
    Row(
        name="pytorch-compile",
        framework="PyTorch",
        language="python",
        entry_points=entries("py_impls.pytorch", "Compiled"),
        description="as pytorch, the model under torch.compile (default mode, Inductor, a cold "
                    "compile cache per process; Inductor needs a C++ compiler on the CPU)",
        requires=(TORCH,),
        install='pip install -e ".[torch]"',
        readiness_check=toolchain.cxx_problem,
        precisions={"bf16-mixed": TORCH_AUTOCAST, "fp32-strict": TORCH_STRICT},
    ),
    Row(
        name="tensorflow",
        framework="TensorFlow",
        language="python",
        entry_points=entries("py_impls.tf_keras"),
        description="tf.keras model, tf.function step, fp32, NHWC on CPU / NCHW on GPU, host batches",
        requires=(TENSORFLOW,),
        install='pip install -e ".[tensorflow]"',
        env={"KERAS_BACKEND": "tensorflow"},
        precisions={"bf16-mixed": KERAS_MIXED, "fp32-strict": TF_STRICT},
    ),
    Row(
        name="tensorflow-xla",
        framework="TensorFlow",
        language="python",
        entry_points=entries("py_impls.tf_keras", "XLA"),
        description="as tensorflow, each step compiled by XLA (jit_compile=True), GRU without cuDNN",
        requires=(TENSORFLOW,),
        install='pip install -e ".[tensorflow]"',
        env={"KERAS_BACKEND": "tensorflow"},
        precisions={"bf16-mixed": KERAS_MIXED, "fp32-strict": TF_STRICT},
    ),
    Row(
        name="keras-tensorflow",
        framework="Keras",
        language="python",
        entry_points=entries("py_impls.keras3"),
        description="Keras 3 model.fit, TensorFlow backend, NHWC, jit_compile auto (XLA on GPU)",
        requires=(KERAS, TENSORFLOW),
        install='pip install -e ".[keras]"',
        env={"KERAS_BACKEND": "tensorflow"},
        precisions={"bf16-mixed": KERAS_MIXED, "fp32-strict": TF_STRICT},
    ),
    Row(
        name="keras-jax",
        framework="Keras",
        language="python",
        entry_points=entries("py_impls.keras3"),
        description="Keras 3 model.fit, JAX backend (jit), NHWC, GRU as lax.scan (no cuDNN)",
        requires=(KERAS, Requirement("jax", "jax", "0.4.30", "1")),
        install='pip install -e ".[keras]"',
        env={"KERAS_BACKEND": "jax"},
        precisions={"bf16-mixed": KERAS_MIXED, "fp32-strict": JAX_STRICT},
    ),
    Row(
        name="keras-torch",
        framework="Keras",
        language="python",
        entry_points=entries("py_impls.keras3"),
        description="Keras 3 model.fit, PyTorch backend (eager), NHWC, cuDNN GRU on GPU",
        requires=(KERAS, Requirement("torch", "torch", "2.1", "3")),
        install='pip install -e ".[keras]"',
        env={"KERAS_BACKEND": "torch"},
        precisions={"bf16-mixed": KERAS_MIXED, "fp32-strict": TORCH_STRICT},
    ),
    Row(
        name="jax-flax",
        framework="JAX",
        language="python",
        entry_points=entries("py_impls.jax_flax"),
        description="Flax NNX + Optax, nnx.jit step, default precision (TF32 on GPU), NHWC, "
                    "host batches, GRU as lax.scan (no cuDNN)",
        requires=JAX_FLAX,
        install='pip install -e ".[jax]"',
        precisions={"bf16-mixed": FLAX_BF16, "fp32-strict": JAX_STRICT},
    ),
    Row(
        name="jax-flax-scan",
        framework="JAX",
        language="python",
        entry_points=entries("py_impls.jax_flax", "WholeEpoch",
                             inference="ResNet50FeaturesResident"),
        description="as jax-flax, data resident on the device, each epoch one jitted lax.scan",
        requires=JAX_FLAX,
        install='pip install -e ".[jax]"',
        precisions={"bf16-mixed": FLAX_BF16, "fp32-strict": JAX_STRICT},
    ),
    Row(
        name="mlx",
        framework="MLX",
        language="python",
        entry_points=entries("py_impls.mlx"),
        description="mlx.nn + mlx.optimizers, mx.compile step, fp32, NHWC, host batches, GRU "
                    "cell written out (no fused GRU)",
        requires=(Requirement("mlx", "mlx", "0.32", "1"),),
        install='pip install -e ".[mlx]"',
        readiness_check=mlx_backend_problem,
        precisions={"fp32-strict": MLX_STRICT},
    ),
    Row(
        name="tinygrad",
        framework="tinygrad",
        language="python",
        entry_points=entries("py_impls.tinygrad"),
        description="tinygrad.nn + nn.optim, TinyJit step, fp32, its own kernels (CPU: C by clang; "
                    "a cold kernel cache per process), host batches, GRU cell written out",
        requires=(Requirement("tinygrad", "tinygrad", "0.14", "0.15"),),
        install='pip install -e ".[tinygrad]"',
        readiness_check=toolchain.tinygrad_cc_problem,
        precisions={"fp32-strict": TINYGRAD_STRICT},
    ),
    # MXNet and Chainer are retired upstream and need numpy < 2: each runs in its own
    # environment (harness.run.envs), made by `python -m harness setup mxnet|chainer`.
    Row(
        name="mxnet-gluon",
        framework="MXNet",
        language="python",
        entry_points=entries("py_impls.mxnet_gluon"),
        description="Gluon, hybridized, fp32, batches copied from host each step, fused GRU",
        requires=(Requirement("mxnet", "mxnet", "1.9.1", "2"), Requirement("numpy", "numpy", "1.23", "2")),
        install="python -m harness setup mxnet",
        environment="mxnet",
        precisions={"fp32-strict": MXNET_STRICT},
    ),
    Row(
        name="mxnet-module",
        framework="MXNet",
        language="python",
        entry_points=entries("py_impls.mxnet_module"),
        description="Module API (symbolic graph), fp32, batches copied from host each step",
        requires=(Requirement("mxnet", "mxnet", "1.9.1", "2"), Requirement("numpy", "numpy", "1.23", "2")),
        install="python -m harness setup mxnet",
        environment="mxnet",
        precisions={"fp32-strict": MXNET_STRICT},
    ),
    Row(
        name="chainer",
        framework="Chainer",
        language="python",
        entry_points=entries("py_impls.chainer_impl"),
        description="define-by-run, fp32, batches copied from host each step, NStepGRU",
        requires=(Requirement("chainer", "chainer", "7.8.1", "8"),),
        install="python -m harness setup chainer",
        environment="chainer",
        precisions={"fp32-strict": CHAINER_STRICT},
    ),
    # Julia rows: Knet.jl (the original's Julia row) and Flux.jl (current Julia), called through
    # juliacall in their own child processes. Not run in this project's CI (no Julia there).
    Row(
        name="knet",
        framework="Knet.jl",
        language="julia",
        entry_points=julia_entries("knet"),
        description="Knet.jl 1.4 (Julia 1.6-1.9, CUDA.jl <= 3: no Hopper) via juliacall, cuDNN "
                    "GRU; never run in this project's CI (no Julia there)",
        options=julia_readiness.row_options("knet"),
        readiness_check=partial(julia_readiness.julia_problem, "knet"),
        precisions={"fp32-strict": JULIA_STRICT},
        notice=knet_gpu_note,
        # juliacall 0.9.29+ drops Julia 1.9, the last Julia Knet runs on.
        install='pip install "juliacall<=0.9.28" && python -m harness setup julia',
    ),
    Row(
        name="flux",
        framework="Flux.jl",
        language="julia",
        entry_points=julia_entries("flux"),
        description="Flux.jl 0.16 (Julia >= 1.10, CUDA.jl 5/6) via juliacall, the contract's GRU cell in "
                    "Recurrence (no cuDNN); never run in this project's CI (no Julia there)",
        options=julia_readiness.row_options("flux"),
        readiness_check=partial(julia_readiness.julia_problem, "flux"),
        precisions={"fp32-strict": JULIA_STRICT},
        install='pip install -e ".[julia]" && python -m harness setup julia',
    ),
    # Retired frameworks of the original comparison that no supported Python can install: named,
    # with the reason, never silently dropped (checked with pip on Python 3.11, 2026-11-26).
    Row(
        name="cntk",
        framework="CNTK",
        language="python",
        entry_points=original_benchmarks(),
        description="Microsoft Cognitive Toolkit (retired 2019)",
        unavailable=("not implemented: CNTK cannot be installed here - its last wheels "
                     "(2.7.post2, 2019) are for Python 3.5/3.6 only; pip on Python 3.11 finds no "
                     "version"),
    ),
    Row(
        name="caffe2",
        framework="Caffe2",
        language="python",
        entry_points=original_benchmarks(),
        description="Caffe2 (merged into PyTorch in 2018, removed from it since)",
        unavailable=("not implemented: Caffe2 cannot be installed here - it was merged into "
                     "PyTorch and later removed from it; PyPI's `caffe2` is a placeholder that "
                     "fails to build"),
    ),
]


def by_name(name: str) -> Row:
    for impl in ROWS:
        if impl.name == name:
            return impl
    known = ", ".join(i.name for i in ROWS)
    raise KeyError(f"unknown implementation {name!r}; known: {known}")


def select(names: list[str] | None, benchmark: str) -> list[Row]:
    """The implementations named (all that implement `benchmark` when `names` is empty)."""
    if not names:
        return [i for i in ROWS if benchmark in i.entry_points]
    return [impl for impl in (by_name(n) for n in names) if benchmark in impl.entry_points]

