"""`sync()` really waits: the harness reads its clock only once the device's queue is drained, so
each timed phase holds exactly the work it queued; the JAX rows (asynchronous even on the CPU)
block on the state their epoch produced, not on a scalar that is ready earlier. (PyTorch and
TensorFlow compute synchronously on the CPU: their sync is not observable here.)"""

from __future__ import annotations

import numpy as np
import pytest

from harness.config import CNNConfig, InferenceConfig, RNNConfig
from harness.interface import TrainingData
from harness.protocol import run_inference, run_training
from tests import helpers
from tests.fake_impls import SoftmaxRegression, ZeroFeatures


class QueuedDevice:
    """An asynchronous device: queued work reaches the host's clock only when the host waits
    for it (`sync`). Reading the clock with work still queued is recorded."""

    def __init__(self) -> None:
        self.now, self.queue, self.early_reads = 0.0, [], 0

    def enqueue(self, seconds: float) -> None:
        self.queue.append(seconds)

    def sync(self) -> None:
        self.now += sum(self.queue)
        self.queue.clear()

    def clock(self) -> float:
        self.early_reads += bool(self.queue)
        return self.now


class QueuedTraining(SoftmaxRegression):
    """Each batch costs the device 1 s, evaluation 0.5 s; the calls return at once."""

    def __init__(self, device: QueuedDevice) -> None:
        self.device = device

    def train_epoch(self, order: np.ndarray) -> None:
        super().train_epoch(order)
        for _ in range(len(order) // self.config.batch_size):
            self.device.enqueue(1.0)

    def predict(self) -> np.ndarray:
        self.device.enqueue(0.5)
        return super().predict()

    def sync(self) -> None:
        self.device.sync()


class QueuedFeatures(ZeroFeatures):
    """Each batch of features costs the device 1 s; `extract` returns at once."""

    def __init__(self, device: QueuedDevice) -> None:
        self.device = device

    def extract(self, start: int, stop: int) -> np.ndarray:
        self.device.enqueue(1.0)
        return super().extract(start, stop)

    def sync(self) -> None:
        self.device.sync()


@pytest.fixture
def device(monkeypatch) -> QueuedDevice:
    device = QueuedDevice()
    monkeypatch.setattr("harness.timing.time.perf_counter", device.clock)
    return device


def test_each_training_epoch_is_timed_with_exactly_the_work_it_queued(device):
    """Breakage caught: a Stopwatch that reads the clock before `sync` (or never syncs) times
    the queueing: epoch 1 shows 0 s and its work lands in a later phase."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(256, 3, 4, 4)).astype(np.float32), rng.integers(0, 10, 256)
    result = run_training(QueuedTraining(device), CNNConfig(batch_size=64),
                          TrainingData(x, y, x[:64], y[:64]), epochs=3, seed=0)
    assert device.early_reads == 0
    assert result["timings"]["epoch_s"] == [4.0, 4.0, 4.0]  # 4 batches of 64 an epoch
    assert result["timings"]["eval_s"] == 0.5


def test_each_inference_batch_is_timed_with_exactly_its_work(device):
    """Breakage caught as above: without the wait, every batch times 0 s."""
    config = InferenceConfig(batch_size=2, image_size=8, warmup_batches=1, timed_batches=3,
                             passes=2)
    images = np.zeros((6, 3, 8, 8), np.float32)
    result = run_inference(QueuedFeatures(device), config, images, None, seed=0)
    assert device.early_reads == 0
    assert result["timings"]["batch_s"] == [1.0] * 6
    assert result["timings"]["warmup_s"] == 1.0


# == the JAX rows ==
JAX_CLASSES = [("CNN", "cnn"), ("RNN", "rnn"), ("CNNWholeEpoch", "cnn"), ("RNNWholeEpoch", "rnn")]


def small_training_data(benchmark: str) -> tuple[TrainingData, object]:
    rng = np.random.default_rng(0)
    if benchmark == "cnn":
        x = rng.random((8, 3, 32, 32), dtype=np.float32)
        config = CNNConfig(batch_size=4)
    else:
        x = rng.integers(0, 30_000, (8, 20)).astype(np.int32)
        config = RNNConfig(batch_size=4, seq_len=20)
    y = rng.integers(0, config.n_classes, 8).astype(np.int32)
    return TrainingData(x, y, x, y), config


@pytest.mark.slow
@pytest.mark.parametrize("cls, benchmark", JAX_CLASSES, ids=[c for c, _ in JAX_CLASSES])
def test_jax_sync_blocks_on_the_state_the_epoch_produced(cls, benchmark, monkeypatch):
    """Breakage caught: `sync` blocking on the epoch's last loss alone (or on nothing): the
    parameters and optimizer moments, still being computed, would fall outside the timing."""
    jax = helpers.framework("jax", "jax", "pip install -e '.[jax]'")
    helpers.framework("flax", "flax", "pip install -e '.[jax]'")
    from flax import nnx

    from py_impls import jax_flax

    data, config = small_training_data(benchmark)
    impl = getattr(jax_flax, cls)(device="cpu")
    impl.prepare(data)
    impl.build(config, seed=0)
    impl.train_epoch(np.arange(8, dtype=np.int64))
    state = jax.tree_util.tree_leaves(nnx.state((impl.model, impl.optimizer)))
    blocked = []
    real = jax.block_until_ready
    monkeypatch.setattr(jax, "block_until_ready",
                        lambda tree: blocked.extend(jax.tree_util.tree_leaves(tree)) or real(tree))
    impl.sync()
    waited = {id(leaf) for leaf in blocked}
    missing = [leaf.shape for leaf in state if id(leaf) not in waited]
    assert state and not missing, f"sync did not wait for state arrays of shapes {missing}"
