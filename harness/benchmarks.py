"""Every benchmark the harness knows, one record each: the single place a fact about a
benchmark lives.

The runner, the worker, `verify`, the report, the plots, `show`, the canonical weights and the
Julia bridge all read these records; none keeps a per-benchmark dictionary or branch of its
own. An unknown benchmark name is an error (`get`), never a fallback to another benchmark.

A benchmark is of one of two kinds, which fixes the protocol the harness runs around it
(`harness.protocol`) and the interface its implementations meet (`harness.interface`):
`training` (prepare, build, train_epoch per epoch, predict; accuracy from the logits) or
`inference` (prepare, build, extract per batch; time per 1,000 images). A new benchmark of
either kind is a record here, or one in a plugin module named by `HARNESS_PLUGINS`
(`harness.plugins`), plus its oracle module: see docs/adding.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from harness.config import PROFILES, CNNConfig, InferenceConfig, RNNConfig, TransformerConfig
from harness.flops import Flops, cnn_flops, gru_flops, resnet50_flops, transformer_flops
from harness.windows import Adaptive, Fixed, WindowRule

TRAINING, INFERENCE = "training", "inference"
# The `# == name ==` sections every implementation of a kind is written in (`show` aligns them).
SECTIONS = {
    TRAINING: ("data", "model", "loss and optimizer", "training epoch", "prediction"),
    INFERENCE: ("data", "model", "features"),
}
# Each kind's headline figure, a key of harness.metrics.METRICS.
# Tables rank by it: steady-state throughput (training) or seconds per 1,000 images (inference),
# each with the spread of its timed windows or passes (harness.report.ranking).
HEADLINE = {TRAINING: "samples_per_s", INFERENCE: "s_per_1000"}


@dataclass(frozen=True)
class Workload:
    """How much of a benchmark one profile runs."""

    n_train: int | None = None  # training samples; None: the whole data set
    n_test: int | None = None
    epochs: int | None = None  # None: the config's
    config: Any = None  # a profile's own config (inference: fewer batches); None: the record's
    # Training: how each epoch is cut into timed windows (harness.windows): a fixed count (the
    # first window of the first epoch is the warm-up; the others give the steady state's median
    # and spread, so a fixed profile needs at least 4 windows in all), or adaptive windows that
    # stop once the steady state is measured well enough (one epoch only).
    windows: WindowRule = Fixed(1)

    def __post_init__(self) -> None:
        if isinstance(self.windows, int):
            object.__setattr__(self, "windows", Fixed(self.windows))
        if isinstance(self.windows, Adaptive) and self.epochs != 1:
            raise ValueError("adaptive windows time a single epoch: set epochs=1")


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: what it is, what it reads, how it is checked, how much work it is."""

    name: str  # the command and the results' `benchmark` field: "cnn"
    title: str
    kind: str  # TRAINING or INFERENCE
    config: Any  # the full hyperparameters (a frozen dataclass of harness.config or a plugin)
    workloads: dict[str, Workload]  # profile name -> how much of it that profile runs
    flops: Flops  # per sample (harness.flops: the counting convention)
    # The float64 NumPy model `verify` compares against (harness/verify/oracle/README.md says
    # what such a module provides), named by module so that importing this file stays cheap.
    oracle: str
    model: str  # the canonical weights' model name: `data weights MODEL`, MODEL-seed0.h5
    # Training data: a data set of the HDF5 store (harness.data), with pixels divided by
    # `pixel_scale` when given; or, for a benchmark without stored data, `generate(n_train,
    # n_test, seed) -> harness.interface.TrainingData`.
    dataset: str | None = None
    # The class every row's module names its implementation ("CNN"), with the row's variant
    # suffix ("CNNXLA"): a built-in row implements the benchmark when its module defines that
    # class (harness.registry.entries). "": rows name their classes themselves (plugins).
    impl_class: str = ""
    pixel_scale: float | None = None
    generate: Callable[[int, int, int], Any] | None = None
    verify_batch: int = 8  # samples in `verify`'s batch
    julia_source: str | None = None  # file name in julia_impls/<flavor>/; None: no Julia rows
    original_name: str | None = None  # the original 2017 project's name for it ("CNN")
    # The test accuracy a correct implementation reaches in the full profile on real data
    # (docs/benchmarks.md sections 2-3); None: no band known.
    accuracy_band: tuple[float, float] | None = None
    sections: tuple[str, ...] = field(default=())  # default: its kind's

    def __post_init__(self) -> None:
        if self.kind not in SECTIONS:
            raise ValueError(f"benchmark {self.name!r}: kind must be {TRAINING!r} or "
                             f"{INFERENCE!r}, not {self.kind!r}")
        missing = [p for p in PROFILES if p not in self.workloads]
        if missing:
            raise ValueError(f"benchmark {self.name!r} has no workload for profile(s) "
                             f"{', '.join(missing)}")
        if self.kind == TRAINING and (self.dataset is None) == (self.generate is None):
            raise ValueError(f"training benchmark {self.name!r} needs exactly one of "
                             f"`dataset` (the data store) and `generate`")
        if not self.sections:
            object.__setattr__(self, "sections", SECTIONS[self.kind])

    @property
    def training(self) -> bool:
        return self.kind == TRAINING

    @property
    def synthetic_only(self) -> bool:
        """No data set of the store: random images (inference) or generated data, always
        synthetic whatever `--data` asks for."""
        return self.dataset is None

    @property
    def headline(self) -> str:
        """The key of the figure tables rank by (harness.metrics)."""
        return HEADLINE[self.kind]

    def workload(self, profile: str) -> Workload:
        try:
            return self.workloads[profile]
        except KeyError:
            raise KeyError(f"unknown profile {profile!r}; known: "
                           f"{', '.join(self.workloads)}") from None

    def config_for(self, profile: str = "full") -> Any:
        """The hyperparameters a profile runs with."""
        return self.workload(profile).config or self.config

    def epochs(self, profile: str) -> int:
        return self.workload(profile).epochs or self.config.epochs

    def windows(self, profile: str) -> WindowRule:
        return self.workload(profile).windows

    @property
    def chance(self) -> float | None:
        """The accuracy of guessing (balanced classes): 1 / classes."""
        classes = getattr(self.config, "n_classes", None)
        return 1.0 / classes if classes else None

    def oracle_module(self) -> ModuleType:
        return importlib.import_module(self.oracle)


# At most 50 steps in adaptive windows (harness.windows): the accuracy after exactly
# `eval_steps`, then a stop once the steady state is known. Measured on the stand-ins: after 20
# CNN steps keras-tensorflow and tensorflow-xla were still at chance (0.20, 0.23; after 50:
# 1.0, 0.53) and PyTorch's accuracy swings from step to step (0.21-1.0 over steps 25-50), so
# the CNN is judged after its 50; the GRU learns steadily (PyTorch 0.68 after 20, 0.80 after 40).
_QUICK = dict(n_train=3200, n_test=1000, epochs=1)
# `smoke`: an epoch of exactly the steps after which the accuracy still clears chance clearly
# (measured on the stand-ins, every row: docs/benchmarks.md §5), and a small test set.
SMOKE_CNN, SMOKE_RNN, SMOKE_TRANSFORMER = 30, 40, 20

REGISTRY: dict[str, Benchmark] = {}


def register(benchmark: Benchmark) -> Benchmark:
    """Add a benchmark (a plugin's, say); a name already taken is an error."""
    if benchmark.name in REGISTRY and REGISTRY[benchmark.name] != benchmark:
        raise ValueError(f"a benchmark named {benchmark.name!r} is already registered")
    REGISTRY[benchmark.name] = benchmark
    return benchmark


register(Benchmark(
    name="cnn", title="CNN: VGG-style on CIFAR-10 (training)", kind=TRAINING, impl_class="CNN",
    config=CNNConfig(), flops=cnn_flops(CNNConfig()),
    workloads={"full": Workload(),  # full: epochs 2-10 are steady
               "quick": Workload(**_QUICK, windows=Adaptive(eval_steps=50)),
               "smoke": Workload(n_train=SMOKE_CNN * CNNConfig().batch_size,
                                 n_test=250, epochs=1,
                                 windows=Adaptive(eval_steps=SMOKE_CNN))},
    oracle="harness.verify.oracle.cnn", model="cnn", accuracy_band=(0.75, 0.79),
    dataset="cifar10", pixel_scale=255.0,  # pixels 0..255 -> 0..1 float32, once, for everyone
    julia_source="cnn.jl", original_name="CNN"))
register(Benchmark(
    name="rnn", title="RNN: GRU sentiment on IMDB (training)", kind=TRAINING, impl_class="RNN",
    config=RNNConfig(), flops=gru_flops(RNNConfig()),
    # full: 3 epochs of 2 windows, so that the steady state has 5 windows
    workloads={"full": Workload(windows=2),
               "quick": Workload(**_QUICK, windows=Adaptive(eval_steps=40)),
               "smoke": Workload(n_train=SMOKE_RNN * RNNConfig().batch_size,
                                 n_test=250, epochs=1,
                                 windows=Adaptive(eval_steps=SMOKE_RNN))},
    oracle="harness.verify.oracle.gru", model="rnn", dataset="imdb", accuracy_band=(0.845, 0.863),
    julia_source="rnn.jl", original_name="RNN"))
register(Benchmark(
    name="inference", title="Inference: ResNet-50 feature extraction", kind=INFERENCE,
    impl_class="ResNet50Features",
    config=InferenceConfig(), flops=resnet50_flops(InferenceConfig()),
    workloads={"full": Workload(),
               # three one-batch passes: a spread at the cost of the old single 3-batch pass
               "quick": Workload(config=InferenceConfig(warmup_batches=1, timed_batches=1,
                                                        passes=3)),
               # a small batch: the same network and work per image
               "smoke": Workload(config=InferenceConfig(batch_size=8, warmup_batches=1,
                                                        timed_batches=1, passes=2))},
    oracle="harness.verify.oracle.resnet50", model="resnet50", verify_batch=2,
    julia_source="inference.jl", original_name="Inference"))
register(Benchmark(
    name="transformer", title="Transformer: encoder sentiment on IMDB (training)",
    kind=TRAINING, impl_class="Transformer",
    config=TransformerConfig(), flops=transformer_flops(TransformerConfig()),
    # full: as the GRU, the same data, epochs and steps. quick: 7x the GRU's work a sample, so
    # at most 20 steps (PyTorch learns the stand-in to 0.97-1.0 in them, seeds 0-2)
    workloads={"full": Workload(windows=2),
               "quick": Workload(n_train=1280, n_test=500, epochs=1,
                                 windows=Adaptive(eval_steps=20)),
               "smoke": Workload(n_train=SMOKE_TRANSFORMER * TransformerConfig().batch_size,
                                 n_test=250, epochs=1,
                                 windows=Adaptive(eval_steps=SMOKE_TRANSFORMER))},
    oracle="harness.verify.oracle.transformer", model="transformer", dataset="imdb",
    julia_source="transformer.jl"))


def names() -> tuple[str, ...]:
    """Every benchmark's name, in registration order (the order of tables and of `all`)."""
    return tuple(REGISTRY)


def get(name: str) -> Benchmark:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(REGISTRY)}") from None


def by_model(model: str) -> Benchmark:
    """The benchmark whose canonical weights are `model`."""
    for benchmark in REGISTRY.values():
        if benchmark.model == model:
            return benchmark
    raise KeyError(f"unknown model {model!r}; known: "
                   f"{', '.join(b.model for b in REGISTRY.values())}")


def order(name: str) -> int:
    """Position in the registry: sorts tables, and seeds per-benchmark random streams."""
    return names().index(name) if name in REGISTRY else len(REGISTRY)
