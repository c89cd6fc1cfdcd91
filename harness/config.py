"""Hyperparameters of the built-in benchmarks (docs/benchmarks.md, sections 2-4 and 5) and the
names of the run profiles.

Every implementation reads its hyperparameters from here, so a number is written once. What
else is known about a benchmark (title, data set, profile sizes, oracle, work per sample) is in
its record in `harness.benchmarks`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CNNConfig:
    """VGG-style CNN on CIFAR-10."""

    channels: int = 3
    height: int = 32
    width: int = 32
    n_classes: int = 10
    batch_size: int = 64
    epochs: int = 10
    lr: float = 0.01
    momentum: float = 0.9


@dataclass(frozen=True)
class RNNConfig:
    """GRU sentiment classifier on IMDB."""

    vocab_size: int = 30_000
    seq_len: int = 150
    embedding_dim: int = 125
    hidden: int = 100
    n_classes: int = 2
    batch_size: int = 64
    epochs: int = 3
    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


@dataclass(frozen=True)
class TransformerConfig:
    """Pre-LayerNorm Transformer encoder sentiment classifier on IMDB (the GRU's data)."""

    vocab_size: int = 30_000
    seq_len: int = 150
    d_model: int = 128
    heads: int = 4  # of d_model // heads = 32 features each
    mlp_dim: int = 512
    blocks: int = 2
    ln_eps: float = 1e-5  # every LayerNorm (Keras' default is 1e-3: rows set it)
    n_classes: int = 2
    batch_size: int = 64
    epochs: int = 3
    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads


@dataclass(frozen=True)
class InferenceConfig:
    """ResNet-50 (torchvision v1.5) cut after global average pooling."""

    batch_size: int = 32
    image_size: int = 224
    feature_dim: int = 2048
    warmup_batches: int = 5
    timed_batches: int = 40
    passes: int = 5  # timed passes over the batches; the report takes the median


# `full` is the benchmark exactly; `quick` a short measurement; `smoke` only shows that every row
# runs and learns here (its figures come from a few steps: not for comparison). Each benchmark's
# record says how much of it a profile does (harness.benchmarks.Workload).
PROFILES: dict[str, str] = {
    "full": "the benchmark exactly: every sample, every epoch",
    "quick": "a short measurement: a few thousand samples, one epoch, a few inference batches",
    "smoke": "does every row run and learn here: a few dozen steps, two small inference batches; "
             "figures not for comparison",
}
# Fresh processes a row's figure comes from by default (`--repeat` overrides), so that its spread
# covers process-to-process variation (harness.run.processes); `full` runs are hours long, and a
# smoke run makes no figure worth a second process.
PROCESSES: dict[str, int] = {"full": 1, "quick": 2, "smoke": 1}
# The seconds one run may take by default (`--timeout` overrides) before it is killed and
# recorded as timed out: a full run on a CPU is hours long.
TIMEOUTS: dict[str, float] = {"full": 4 * 3600.0, "quick": 1200.0, "smoke": 600.0}
