"""The timed protocol: sync before every clock read, the harness's permutations, the figures."""

import numpy as np
import pytest

from harness.config import CNNConfig, InferenceConfig
from harness.interface import TrainingData
from harness.protocol import (ImplementationError, epoch_order, run_inference, run_training,
                              training_summary)
from harness.timing import Stopwatch
from harness.windows import windows_of
from tests.fake_impls import SoftmaxRegression, WrongShape, ZeroFeatures


class FakeClock:
    """A clock that only moves when a scripted implementation says its work took time."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class ScriptedSteps(SoftmaxRegression):
    """Trains for real, but each `train_epoch` call (one window) 'takes' the next scripted number
    of seconds on the fake clock; it keeps every order it was handed."""

    def __init__(self, clock, seconds):
        self.clock, self.seconds, self.orders = clock, list(seconds), []

    def train_epoch(self, order):
        self.orders.append(order.copy())
        super().train_epoch(order)
        self.clock.now += self.seconds.pop(0)


def scripted_run(monkeypatch, seconds, epochs=1, windows=5, n=640):
    clock = FakeClock()
    monkeypatch.setattr("harness.timing.time.perf_counter", clock)
    impl = ScriptedSteps(clock, seconds)
    out = run_training(impl, CNNConfig(), small_data(n=n), epochs=epochs, seed=3, windows=windows)
    return impl, out


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
        if entry == "clock":
            assert recorder.log[i - 1] == "sync"
    # Each timed batch is closed by its own sync and clock read (breakage: one lap a pass).
    timed = [i for i, e in enumerate(recorder.log) if e == "extract"][1:]
    assert all(recorder.log[i + 1:i + 3] == ["sync", "clock"] for i in timed)
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


def test_the_warm_up_window_is_timed_apart_from_the_steady_state(monkeypatch):
    # 640 samples, batch 64: 10 steps in 5 windows of 2 steps (128 samples). The first window
    # carries a 3 s "compilation"; the others take 0.2, 0.4, 0.2 and 0.25 s.
    _, out = scripted_run(monkeypatch, [3.2, 0.2, 0.4, 0.2, 0.25])
    t = out["timings"]
    assert t["warmup_s"] == pytest.approx(3.2)
    assert t["window_s"] == pytest.approx([3.2, 0.2, 0.4, 0.2, 0.25])
    assert t["window_samples_per_s"] == pytest.approx([640, 320, 640, 512])
    # breakage caught: a median over every window, warm-up included, gives 512
    assert t["samples_per_s"] == pytest.approx(576)  # median of 640, 320, 640, 512
    assert (t["samples_per_s_low"], t["samples_per_s_high"]) == pytest.approx((320, 640))
    assert t["steady_s"] == pytest.approx(1.05) and t["steady"] is True
    assert t["train_s"] == pytest.approx(4.25) and t["epoch_s"] == pytest.approx([4.25])
    assert out["windows_per_epoch"] == 5


def test_with_one_window_an_epoch_the_first_epoch_is_the_warm_up(monkeypatch):
    # The full profile's CNN: an epoch a window; epochs 2 and 3 are the steady state.
    _, out = scripted_run(monkeypatch, [5.0, 1.0, 2.0], epochs=3, windows=1)
    t = out["timings"]
    assert t["warmup_s"] == t["first_epoch_s"] == pytest.approx(5.0)
    assert t["window_samples_per_s"] == pytest.approx([640, 320])
    assert t["samples_per_s"] == pytest.approx(480)  # breakage caught: all 3 epochs give 240
    assert t["steady_epoch_s"] == pytest.approx(1.5)


def test_train_epoch_receives_exactly_the_harness_permutation_of_each_epoch(monkeypatch):
    impl, _ = scripted_run(monkeypatch, [0.1] * 10, epochs=2, windows=5)
    assert len(impl.orders) == 10
    for epoch in range(2):
        windows = impl.orders[epoch * 5:(epoch + 1) * 5]
        # breakage caught: a window reshuffled, cut mid-batch, or an epoch seeded with 0
        assert all(len(w) == 128 for w in windows)
        assert np.array_equal(np.concatenate(windows), epoch_order(3, epoch, 640, 64))


def test_windows_keep_whole_batches_and_the_last_takes_the_rest():
    order = np.arange(11 * 4)
    cut = windows_of(order, batch_size=4, windows=3)
    assert [len(w) for w in cut] == [12, 12, 20]
    assert np.array_equal(np.concatenate(cut), order)
    assert len(windows_of(order, batch_size=4, windows=50)) == 11  # never an empty window


class PredictsWrongShape(SoftmaxRegression):
    def predict(self):
        return super().predict()[:, :5]  # breakage caught: accuracy of 5 of 10 classes


class PredictsNaN(SoftmaxRegression):
    def predict(self):
        logits = super().predict()
        logits[0, 0] = np.nan  # breakage caught: argmax silently picks the NaN column
        return logits


@pytest.mark.parametrize("impl, message", [(PredictsWrongShape, "shape"),
                                           (PredictsNaN, "non-finite")])
def test_bad_logits_are_an_implementation_error(impl, message):
    with pytest.raises(ImplementationError, match=message):
        run_training(impl(), CNNConfig(), small_data(), epochs=1, seed=0)


class ScriptedPasses(ZeroFeatures):
    def __init__(self, clock, seconds):
        self.clock, self.seconds = clock, list(seconds)

    def extract(self, start, stop):
        self.clock.now += self.seconds.pop(0)
        return super().extract(start, stop)


def test_inference_spread_comes_from_the_passes(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr("harness.timing.time.perf_counter", clock)
    config = InferenceConfig(batch_size=2, warmup_batches=1, timed_batches=1, passes=3)
    impl = ScriptedPasses(clock, [9.0, 0.002, 0.004, 0.003])  # warm-up, then three passes
    t = run_inference(impl, config, np.zeros((2, 3, 8, 8), np.float32), None, seed=0)["timings"]
    assert t["warmup_s"] == pytest.approx(9.0)  # breakage caught: the warm-up in a pass
    assert t["s_per_1000"] == pytest.approx(1.5)  # median pass 0.003 s for 2 images
    assert (t["s_per_1000_low"], t["s_per_1000_high"]) == pytest.approx((1.0, 2.0))
    assert t["pass_images_per_s"] == pytest.approx([1000, 500, 2000 / 3])
