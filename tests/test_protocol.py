"""The timed protocol: sync before every clock read, the harness's permutations, the figures."""

import numpy as np
import pytest

from harness.config import CNNConfig, InferenceConfig
from harness.interface import TrainingData
from harness.protocol import (ImplementationError, epoch_order, run_inference, run_training,
                              training_summary)
from harness.timing import Stopwatch
from tests.fake_impls import SoftmaxRegression, WrongShape, ZeroFeatures


class Recorder:
    """Wraps an implementation; logs every call, every sync and every clock read in order."""

    def __init__(self, impl):
        self.impl, self.log = impl, []

    def __getattr__(self, name):
        target = getattr(self.impl, name)
        if not callable(target):
            return target

        def call(*args, **kwargs):
            self.log.append(name)
            return target(*args, **kwargs)
        return call


def clock_recording(recorder):
    ticks = iter(range(10_000))

    def clock():
        recorder.log.append("clock")
        return float(next(ticks))
    return clock


def test_stopwatch_syncs_before_every_reading():
    log = []
    watch = Stopwatch(lambda: log.append("sync"), clock=lambda: log.append("clock") or 0.0)
    watch.lap()
    watch.lap()
    assert log == ["sync", "clock"] * 3


def small_data(n=256, n_test=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n + n_test).astype(np.int32)
    x = rng.normal(size=(n + n_test, 3, 4, 4)).astype(np.float32)
    x.reshape(len(y), -1)[np.arange(len(y)), y] += 3  # a learnable signal
    return TrainingData(x[:n], y[:n], x[n:], y[n:])


def test_every_timed_phase_is_followed_by_sync_before_the_clock(monkeypatch):
    recorder = Recorder(SoftmaxRegression())
    monkeypatch.setattr("harness.timing.time.perf_counter", clock_recording(recorder))
    run_training(recorder, CNNConfig(), small_data(), epochs=3, seed=0)
    phases = [e for e in recorder.log if e not in ("sync", "clock")]
    assert phases == ["prepare", "build", "train_epoch", "train_epoch", "train_epoch", "predict"]
    # Each phase is followed by sync then a clock read, before anything else happens.
    for i, entry in enumerate(recorder.log):
        if entry == "clock":
            assert recorder.log[i - 1] == "sync", recorder.log
        if entry in phases:
            assert recorder.log[i + 1:i + 3] == ["sync", "clock"], recorder.log
    assert recorder.log.count("clock") == 1 + len(phases)


def test_inference_batches_are_each_timed_between_syncs(monkeypatch):
    recorder = Recorder(ZeroFeatures())
    monkeypatch.setattr("harness.timing.time.perf_counter", clock_recording(recorder))
    config = InferenceConfig(batch_size=2, warmup_batches=1, timed_batches=3, passes=2)
    images = np.zeros((6, 3, 8, 8), np.float32)
    out = run_inference(recorder, config, images, None, seed=0)
    assert recorder.log.count("extract") == 1 + 3 * 2
    for i, entry in enumerate(recorder.log):
        if entry == "extract" and i > 0 and recorder.log[i - 1] == "clock":
            pass
        if entry == "clock":
            assert recorder.log[i - 1] == "sync"
    assert out["timings"]["pass_s"] == [3.0, 3.0]  # fake clock: one tick a reading
    assert out["timings"]["s_per_1000"] == pytest.approx(3.0 / 6 * 1000)


def test_epoch_order_is_seeded_per_epoch_and_drops_the_last_partial_batch():
    a = epoch_order(seed=0, epoch=0, n=1000, batch_size=64)
    assert len(a) == 15 * 64 and len(set(a.tolist())) == len(a)
    assert np.array_equal(a, epoch_order(0, 0, 1000, 64))
    assert not np.array_equal(a, epoch_order(0, 1, 1000, 64))
    assert not np.array_equal(a, epoch_order(1, 0, 1000, 64))
    assert a.dtype == np.int64 and a.min() >= 0 and a.max() < 1000


def test_training_learns_and_reports_spec_figures():
    out = run_training(SoftmaxRegression(), CNNConfig(), small_data(), epochs=3, seed=0)
    t = out["timings"]
    assert len(t["epoch_s"]) == 3
    assert t["train_s"] == pytest.approx(sum(t["epoch_s"]))
    assert t["first_epoch_s"] == t["epoch_s"][0]
    assert t["steady_epoch_s"] == pytest.approx(float(np.median(t["epoch_s"][1:])))
    assert out["accuracy"] > 0.5  # chance is 0.1
    assert out["steps_per_epoch"] == 4


def test_single_epoch_has_no_steady_state():
    summary = training_summary(0.1, 0.2, [2.0], 0.5, samples_per_epoch=640)
    assert summary["steady_epoch_s"] is None
    assert summary["samples_per_s"] == pytest.approx(320)


def test_wrong_feature_shape_is_an_implementation_error():
    config = InferenceConfig(batch_size=2, warmup_batches=1, timed_batches=1, passes=1)
    with pytest.raises(ImplementationError, match="expected"):
        run_inference(WrongShape(), config, np.zeros((2, 3, 8, 8), np.float32), None, 0)
