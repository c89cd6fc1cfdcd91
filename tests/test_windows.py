"""The quick profile's adaptive timing windows (harness.windows): warm-up until steps agree, steady
windows of at least a minimum duration, the accuracy after a fixed step count, a stop once the
last windows agree, and the record of it, on a fake clock driven by scripted step times."""

import numpy as np
import pytest

from harness import benchmarks
from harness.config import CNNConfig
from harness.interface import TrainingData
from harness.protocol import epoch_order, run_training
from harness.windows import EVALUATE, Adaptive, AdaptivePlan, Fixed, agree, spread_of
from tests.fake_impls import SoftmaxRegression

BATCH = 64


def simulate(rule: Adaptive, steps: int, seconds) -> AdaptivePlan:
    """Run a plan over `steps` batches; `seconds(call, size)` is the time of a window."""
    plan = AdaptivePlan(rule, np.arange(steps * BATCH), BATCH)
    evaluations = []
    for window in plan:
        if window is EVALUATE:
            evaluations.append(plan.steps_run)
            continue
        assert len(window) % BATCH == 0 and len(window) > 0
        plan.took(seconds(len(plan.laps), len(window) // BATCH))
    assert evaluations == [plan.evaluated_after]  # the accuracy is measured once
    return plan


def test_an_eager_framework_is_warm_after_two_steps_and_stops_once_windows_agree():
    plan = simulate(Adaptive(), 50, lambda call, size: 0.3 * size)
    assert plan.sizes[:2] == [1, 1]  # the probe: two steps that agree
    assert plan.window_steps == 4  # the fewest steps whose time reaches 1 s at 0.3 s a step
    assert plan.warmup_windows == 2  # its first 4-step window agreed with the next: steady
    # four windows of 4, then one cut short at step 20, where the accuracy is measured; the
    # four agree, so the run stops there, 30 of the epoch's 50 steps untrained
    assert plan.sizes == [1, 1, 4, 4, 4, 4, 2] and plan.steady[-1] is False
    assert plan.evaluated_after == plan.steps_run == 20
    assert plan.converged and plan.stopped_by == "spread"


def test_a_compile_in_the_first_step_is_warm_up_and_not_steady():
    plan = simulate(Adaptive(), 50, lambda call, size: 12.0 if call == 0 else 0.5 * size)
    assert plan.sizes[:3] == [1, 1, 1] and plan.window_steps == 2
    assert plan.warmup_windows == 3
    assert plan.converged


def test_a_framework_that_compiles_each_window_length_warms_up_that_length_too():
    """A lax.scan over the window compiles again for the first window of the steady length:
    that window is warm-up, not a slow steady window."""
    seen: set[int] = set()

    def scan(call, size):
        compile_s = 8.0 if size not in seen else 0.0
        seen.add(size)
        return compile_s + 0.25 * size

    plan = simulate(Adaptive(), 50, scan)
    probe = 3  # the one-step compile, then two agreeing steps
    assert plan.window_steps == 4 and plan.warmup_windows == probe + 1
    assert plan.converged
    # breakage caught: counting the compiling window as steady gives a 9 s window
    assert max(plan.steady_laps) == pytest.approx(1.0)


def test_noisy_windows_run_past_the_accuracy_until_the_time_cap_and_say_they_did_not_converge():
    noisy = lambda call, size: size * (0.2 if call % 2 else 0.35)  # noqa: E731
    plan = simulate(Adaptive(max_steady_s=6.0, agree=1.0), 200, noisy)
    assert not plan.converged and plan.stopped_by == "time cap"
    assert sum(plan.steady_laps) >= 6.0
    assert plan.evaluated_after == 20 < plan.steps_run < 200


def test_the_accuracy_is_measured_after_the_same_steps_whatever_the_clock_did():
    fast = simulate(Adaptive(), 50, lambda call, size: 0.01 * size)
    slow = simulate(Adaptive(), 50, lambda call, size: (3.0 if call == 0 else 0.7) * size)
    assert fast.window_steps != slow.window_steps
    assert fast.evaluated_after == slow.evaluated_after == 20


def test_an_epoch_shorter_than_the_accuracy_step_count_is_trained_whole():
    plan = simulate(Adaptive(eval_steps=40), 20, lambda call, size: 0.1 * size)
    assert plan.steps_run == plan.evaluated_after == 20
    assert sum(plan.steady) >= Adaptive().last


def test_an_epoch_of_a_few_steps_degrades_to_a_window_a_step():
    plan = simulate(Adaptive(), 3, lambda call, size: 0.1 * size)
    assert plan.sizes == [1, 1, 1] and plan.steps_run == plan.evaluated_after == 3


def test_agreement_and_spread():
    assert agree(1.0, 1.2, 0.25) and agree(1.2, 1.0, 0.25) and not agree(1.0, 1.3, 0.25)
    assert spread_of([1.0, 1.05, 1.1]) == pytest.approx(0.1 / 1.05)


class Timed(SoftmaxRegression):
    """Trains for real; each window 'takes' 0.3 s a step on the fake clock, its first 5 s more."""

    def __init__(self, clock):
        self.clock, self.orders = clock, []

    def train_epoch(self, order):
        self.orders.append(order.copy())
        super().train_epoch(order)
        self.clock[0] += 0.3 * (len(order) // BATCH) + (5.0 if len(self.orders) == 1 else 0.0)


def fake_clock(monkeypatch) -> list[float]:
    """The harness's clock, reading what the test (a Timed implementation) sets."""
    clock = [0.0]
    monkeypatch.setattr("harness.timing.time.perf_counter", lambda: clock[0])
    return clock


def images(n_train: int) -> TrainingData:
    rng = np.random.default_rng(0)
    return TrainingData(rng.random((n_train, 3, 32, 32), np.float32),
                        (np.arange(n_train) % 10).astype(np.int32),
                        rng.random((100, 3, 32, 32), np.float32),
                        (np.arange(100) % 10).astype(np.int32))


def test_a_quick_run_records_the_rule_and_trains_a_prefix_of_the_epoch_in_order(monkeypatch):
    clock, data = fake_clock(monkeypatch), images(3200)
    impl = Timed(clock)
    out = run_training(impl, CNNConfig(), data, epochs=1, seed=3,
                       windows=Adaptive(eval_steps=20))
    t, rule = out["timings"], out["windows"]
    assert rule["rule"] == "adaptive" and rule["converged"]
    assert out["steps_run"] == rule["steps_run"] < out["steps_per_epoch"] == 50
    assert t["warmup_windows"] == rule["warmup_windows"] == 3  # 5.3 s, 0.3 s, 0.3 s
    assert rule["evaluated_after"] == 20
    assert t["warmup_s"] == pytest.approx(5.9)
    assert t["samples_per_s"] == pytest.approx(BATCH / 0.3)
    trained = np.concatenate(impl.orders)
    assert np.array_equal(trained, epoch_order(3, 0, 3200, BATCH)[:len(trained)])


def test_adaptive_windows_are_for_one_epoch_and_ints_mean_fixed_windows():
    with pytest.raises(ValueError, match="single epoch"):
        benchmarks.Workload(epochs=3, windows=Adaptive())
    assert benchmarks.Workload(windows=2).windows == Fixed(2)
    assert benchmarks.get("cnn").windows("full") == Fixed(1)


def test_fixed_windows_leave_only_the_first_window_of_the_first_epoch_as_warm_up(monkeypatch):
    clock, data = fake_clock(monkeypatch), images(640)
    impl, events = Timed(clock), []
    out = run_training(impl, CNNConfig(), data, epochs=2, seed=3, windows=3,
                       emit=events.append)
    t = out["timings"]
    # the progress line's events: how far into each epoch, at what pace a step
    windows = [(e["epoch"], e["step"], e["steps"], round(e["seconds_per_step"], 6))
               for e in events if e["event"] == "window"]
    assert windows == [(1, 3, 10, round(5.9 / 3, 6)), (1, 6, 10, 0.3), (1, 10, 10, 0.3),
                       (2, 3, 10, 0.3), (2, 6, 10, 0.3), (2, 10, 10, 0.3)]
    assert out["windows"] == {"rule": "fixed", "count": 3}
    assert t["window_steady"] == [False] + [True] * 5 and t["warmup_windows"] == 1
    assert t["warmup_s"] == pytest.approx(5.0 + 0.3 * 3)  # 10 steps cut 3, 3, 4
    assert out["steps_run"] == 2 * out["steps_per_epoch"] == 20
    plan = Fixed(3).plan(np.arange(10 * BATCH), BATCH, first_epoch=False)
    assert [len(w) // BATCH for w in plan] == [3, 3, 4] and plan.steady == [True] * 3
    with pytest.raises(ValueError, match="single epoch"):
        Adaptive().plan(np.arange(10 * BATCH), BATCH, first_epoch=False)
