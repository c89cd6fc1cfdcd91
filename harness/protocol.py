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
from harness.windows import EVALUATE, Adaptive, Fixed, WindowRule

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
                 epochs: int, seed: int, emit: Emit = lambda event: None,
                 windows: int | WindowRule = 1) -> dict[str, Any]:
    """docs/benchmarks.md §7: each epoch is a series of timed calls of `train_epoch`, cut by the
    window rule (harness.windows): a fixed count of windows an epoch, the first window of the
    first epoch carrying compilation and warm-up; or, for a one-epoch run, adaptive windows that
    stop once the steady state is measured well enough."""
    rule = Fixed(windows) if isinstance(windows, int) else windows
    if isinstance(rule, Adaptive) and epochs != 1:
        raise ValueError(f"adaptive windows time a single epoch, not {epochs}")
    n = len(data.x_train)
    watch = Stopwatch(impl.sync)
    emit({"event": "phase", "phase": "prepare"})
    impl.prepare(data)
    prepare_s = watch.lap()
    emit({"event": "phase", "phase": "build"})
    impl.build(config, seed)
    build_s = watch.lap()
    window_s: list[float] = []
    window_samples: list[int] = []
    epoch_s: list[float] = []
    steady: list[bool] = []
    logits = None
    steps = n // config.batch_size
    for epoch in range(epochs):
        plan = rule.plan(epoch_order(seed, epoch, n, config.batch_size), config.batch_size,
                         first_epoch=epoch == 0)
        laps = []
        for window in plan:
            if window is EVALUATE:  # mid-epoch, after the adaptive plan's fixed step count
                logits = impl.predict()
                eval_s = watch.lap()
                continue
            impl.train_epoch(window)
            laps.append(watch.lap())
            window_samples.append(len(window))
            plan.took(laps[-1])
            done = sum(window_samples[len(window_s):]) // config.batch_size
            emit({"event": "window", "step": done, "steps": steps, "epoch": epoch + 1,
                  "seconds_per_step": laps[-1] / max(len(window) // config.batch_size, 1)})
        steady += plan.steady
        described = plan.describe()
        window_s += laps
        epoch_s.append(sum(laps))
        emit({"event": "epoch", "epoch": epoch + 1, "epochs": epochs, "seconds": epoch_s[-1]})
    if logits is None:
        logits = impl.predict()
        eval_s = watch.lap()
    accuracy = checked_accuracy(logits, data, config.n_classes)
    emit({"event": "evaluated", "accuracy": accuracy, "seconds": eval_s})
    return {
        "timings": training_summary(prepare_s, build_s, epoch_s, eval_s,
                                    steps * config.batch_size, window_s, window_samples,
                                    steady),
        "accuracy": accuracy,
        "n_train": n, "n_test": len(data.x_test), "epochs": epochs,
        "batch_size": config.batch_size, "steps_per_epoch": steps,
        "steps_run": sum(window_samples) // config.batch_size,
        "windows_per_epoch": len(window_s) // max(epochs, 1),
        "windows": described,
    }


def checked_accuracy(logits: Any, data: TrainingData, n_classes: int) -> float:
    """Test accuracy of `predict()`'s logits; ImplementationError for a wrong shape or a
    non-finite value, which no accuracy could be computed from honestly."""
    logits = np.asarray(logits)
    expected = (len(data.x_test), n_classes)
    if logits.shape != expected:
        raise ImplementationError(f"predict() returned shape {logits.shape}, expected {expected}")
    if not np.all(np.isfinite(logits)):
        raise ImplementationError("predict() returned non-finite logits (training diverged?)")
    return float(np.mean(np.argmax(logits, axis=1) == data.y_test))


def training_summary(prepare_s: float, build_s: float, epoch_s: list[float], eval_s: float,
                     samples_per_epoch: int, window_s: list[float] | None = None,
                     window_samples: list[int] | None = None,
                     steady: list[bool] | None = None) -> dict[str, Any]:
    """docs/benchmarks.md §7 figures. `steady[i]` says whether window i is in the steady state
    (default: every window after the first); the windows before the first steady one carry
    compilation and autotuning (`warmup_s`). `samples_per_s` is the median over the steady
    windows, with their min and max as its spread. A run without a steady window has no steady
    state: its figures come from all its windows and `steady` says False."""
    window_s = list(window_s) if window_s else list(epoch_s)
    window_samples = list(window_samples) if window_samples else [samples_per_epoch] * len(
        window_s)
    mask = list(steady) if steady is not None else [i > 0 for i in range(len(window_s))]
    rates = [n / max(s, 1e-12) for n, s in zip(window_samples, window_s)]
    steady_rates = [r for r, counted in zip(rates, mask) if counted] or rates
    warmup = mask.index(True) if True in mask else len(mask)
    later = epoch_s[1:]
    return {
        "prepare_s": prepare_s, "build_s": build_s, "epoch_s": epoch_s,
        "train_s": sum(epoch_s), "first_epoch_s": epoch_s[0],
        "steady_epoch_s": statistics.median(later) if later else None,
        "eval_s": eval_s,
        "warmup_s": sum(window_s[:warmup]), "window_s": window_s,
        "warmup_windows": warmup, "window_steady": mask,
        "steady_s": sum(s for s, counted in zip(window_s, mask) if counted) if any(mask)
        else None,
        "steady": any(mask),
        "window_samples_per_s": steady_rates,
        "samples_per_s": statistics.median(steady_rates),
        "samples_per_s_low": min(steady_rates), "samples_per_s_high": max(steady_rates),
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
    pass_rates = [images_per_pass / max(s, 1e-12) for s in pass_s]
    return {
        "timings": {
            "prepare_s": prepare_s, "build_s": build_s, "warmup_s": warmup_s,
            "pass_s": pass_s, "batch_s": batch_s,
            "s_per_1000": median_pass / images_per_pass * 1000,
            "s_per_1000_low": min(pass_s) / images_per_pass * 1000,
            "s_per_1000_high": max(pass_s) / images_per_pass * 1000,
            "pass_s_per_1000": [s / images_per_pass * 1000 for s in pass_s],
            "images_per_s": images_per_pass / median_pass,
            "pass_images_per_s": pass_rates,
            "images_per_s_low": min(pass_rates), "images_per_s_high": max(pass_rates),
            "steady_s": sum(pass_s), "steady": len(pass_s) > 1,
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
