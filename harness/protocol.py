"""The timed protocol of docs/benchmarks.md §7, run inside the child process around one implementation.

The harness, not the implementation, owns the epochs, each epoch's permutation, the clock and
the accuracy; the implementation only does the framework-specific work between clock reads.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable

import numpy as np

from harness.interface import (InferenceSettings, InferenceImplementation, TrainingSettings,
                               TrainingData, TrainingImplementation)
from harness.timing import Stopwatch

Emit = Callable[[dict[str, Any]], None]


class ImplementationError(RuntimeError):
    """An implementation broke the interface contract (wrong shape, wrong type)."""


def epoch_order(seed: int, epoch: int, n: int, batch_size: int) -> np.ndarray:
    """The permutation of epoch `epoch`, identical for every framework: shuffled per
    observation, truncated to whole batches (the last incomplete batch is dropped)."""
    steps = n // batch_size
    if steps == 0:
        raise ValueError(f"{n} training samples make no batch of {batch_size}")
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[: steps * batch_size].astype(np.int64)


def run_training(impl: TrainingImplementation, config: TrainingSettings, data: TrainingData,
                 epochs: int, seed: int, emit: Emit = lambda event: None) -> dict[str, Any]:
    n = len(data.x_train)
    watch = Stopwatch(impl.sync)
    emit({"event": "phase", "phase": "prepare"})
    impl.prepare(data)
    prepare_s = watch.lap()
    emit({"event": "phase", "phase": "build"})
    impl.build(config, seed)
    build_s = watch.lap()
    epoch_s: list[float] = []
    for epoch in range(epochs):
        impl.train_epoch(epoch_order(seed, epoch, n, config.batch_size))
        epoch_s.append(watch.lap())
        emit({"event": "epoch", "epoch": epoch + 1, "epochs": epochs, "seconds": epoch_s[-1]})
    logits = impl.predict()
    eval_s = watch.lap()
    logits = np.asarray(logits)
    expected = (len(data.x_test), config.n_classes)
    if logits.shape != expected:
        raise ImplementationError(f"predict() returned shape {logits.shape}, expected {expected}")
    if not np.all(np.isfinite(logits)):
        raise ImplementationError("predict() returned non-finite logits (training diverged?)")
    accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_test))
    emit({"event": "evaluated", "accuracy": accuracy, "seconds": eval_s})
    steps = n // config.batch_size
    return {
        "timings": training_summary(prepare_s, build_s, epoch_s, eval_s,
                                    steps * config.batch_size),
        "accuracy": accuracy,
        "n_train": n, "n_test": len(data.x_test), "epochs": epochs,
        "batch_size": config.batch_size, "steps_per_epoch": steps,
    }


def training_summary(prepare_s: float, build_s: float, epoch_s: list[float], eval_s: float,
                     samples_per_epoch: int) -> dict[str, Any]:
    """docs/benchmarks.md §7 figures. Steady-state figures leave out the first epoch, which carries
    compilation and autotuning; with a single epoch there is no steady state (None)."""
    later = epoch_s[1:]
    steady = statistics.median(later) if later else None
    timed = later or epoch_s
    return {
        "prepare_s": prepare_s, "build_s": build_s, "epoch_s": epoch_s,
        "train_s": sum(epoch_s), "first_epoch_s": epoch_s[0], "steady_epoch_s": steady,
        "eval_s": eval_s,
        "samples_per_s": samples_per_epoch * len(timed) / sum(timed),
    }


def run_inference(impl: InferenceImplementation, config: InferenceSettings, images: np.ndarray,
                  weights: dict[str, np.ndarray] | None, seed: int,
                  emit: Emit = lambda event: None) -> dict[str, Any]:
    bs = config.batch_size
    n_batches = len(images) // bs
    watch = Stopwatch(impl.sync)
    emit({"event": "phase", "phase": "prepare"})
    impl.prepare(images)
    prepare_s = watch.lap()
    emit({"event": "phase", "phase": "build"})
    impl.build(config, weights, seed)
    build_s = watch.lap()
    emit({"event": "phase", "phase": "warm-up"})
    for b in range(config.warmup_batches):
        _check_features(impl.extract((b % n_batches) * bs, (b % n_batches + 1) * bs), bs, config)
    warmup_s = watch.lap()
    pass_s: list[float] = []
    batch_s: list[float] = []
    for p in range(config.passes):
        for b in range(config.timed_batches):
            features = impl.extract((b % n_batches) * bs, (b % n_batches + 1) * bs)
            batch_s.append(watch.lap())
        _check_features(features, bs, config)
        pass_s.append(sum(batch_s[-config.timed_batches:]))
        emit({"event": "pass", "pass": p + 1, "passes": config.passes, "seconds": pass_s[-1]})
    images_per_pass = config.timed_batches * bs
    median_pass = statistics.median(pass_s)
    return {
        "timings": {
            "prepare_s": prepare_s, "build_s": build_s, "warmup_s": warmup_s,
            "pass_s": pass_s, "batch_s": batch_s,
            "s_per_1000": median_pass / images_per_pass * 1000,
            "images_per_s": images_per_pass / median_pass,
        },
        "accuracy": None,
        "n_images": images_per_pass, "batch_size": bs, "passes": config.passes,
        "feature_shape": list(np.asarray(features).shape),
    }


def _check_features(features: Any, batch: int, config: InferenceSettings) -> None:
    shape = np.asarray(features).shape
    if shape != (batch, config.feature_dim):
        raise ImplementationError(f"extract() returned shape {shape}, "
                                  f"expected {(batch, config.feature_dim)}")
