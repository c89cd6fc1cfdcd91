"""Benchmarks, their hyperparameters (SPEC 1-3) and the run profiles.

Every implementation reads its hyperparameters from here, so a number is written once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

BENCHMARKS = ("cnn", "rnn", "inference")

BENCHMARK_TITLES = {
    "cnn": "CNN: VGG-style on CIFAR-10 (training)",
    "rnn": "RNN: GRU sentiment on IMDB (training)",
    "inference": "Inference: ResNet-50 feature extraction",
}

# The data set each training benchmark reads.
DATASET_OF = {"cnn": "cifar10", "rnn": "imdb"}


@dataclass(frozen=True)
class CNNConfig:
    """SPEC 1: VGG-style CNN on CIFAR-10."""

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
    """SPEC 2: GRU sentiment classifier on IMDB."""

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
class InferenceConfig:
    """SPEC 3: ResNet-50 (torchvision v1.5) cut after global average pooling."""

    batch_size: int = 32
    image_size: int = 224
    feature_dim: int = 2048
    warmup_batches: int = 5
    timed_batches: int = 40
    passes: int = 5  # timed passes over the batches; the report takes the median


@dataclass(frozen=True)
class Profile:
    """How much of each benchmark a run does. `full` is SPEC exactly."""

    name: str
    n_train: dict[str, int | None] = field(default_factory=dict)  # None: the whole set
    n_test: dict[str, int | None] = field(default_factory=dict)
    epochs: dict[str, int | None] = field(default_factory=dict)  # None: the config's
    inference: InferenceConfig = InferenceConfig()

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "full": Profile(
        name="full",
        n_train={"cnn": None, "rnn": None},
        n_test={"cnn": None, "rnn": None},
        epochs={"cnn": None, "rnn": None},
        inference=InferenceConfig(),
    ),
    # Smoke runs and tests: a few thousand samples, one epoch, a few inference batches.
    "quick": Profile(
        name="quick",
        n_train={"cnn": 3200, "rnn": 3200},
        n_test={"cnn": 1000, "rnn": 1000},
        epochs={"cnn": 1, "rnn": 1},
        inference=InferenceConfig(warmup_batches=1, timed_batches=3, passes=1),
    ),
}


def config_for(benchmark: str) -> CNNConfig | RNNConfig | InferenceConfig:
    """The SPEC hyperparameters of a training benchmark (inference: the full-profile config)."""
    return {"cnn": CNNConfig(), "rnn": RNNConfig(), "inference": InferenceConfig()}[benchmark]
