"""A fourth benchmark and a row implementing it, from outside the harness
(`HARNESS_PLUGINS=tests.plugin_mlp`): a small MLP on generated Gaussian blobs, in NumPy.

It exists to prove that a benchmark is one record plus its oracle (docs/adding.md): this file
is the record (`BENCHMARKS`), the oracle (the module-level functions `verify` calls), the data
(`generate`) and the row (`ROWS`, class `NumpyMLP`); no harness file names it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.benchmarks import TRAINING, Benchmark, Workload
from harness.flops import training
from harness.interface import RunInfo, TrainingData, TrainingImplementation
from harness.registry import Row


@dataclass(frozen=True)
class MLPConfig:
    features: int = 20
    hidden: int = 32
    n_classes: int = 3
    batch_size: int = 32
    epochs: int = 2
    lr: float = 0.1


CONFIG = MLPConfig()


def generate(n_train: int | None, n_test: int | None, seed: int) -> TrainingData:
    """Three Gaussian blobs in 20 dimensions: learnable in one epoch."""
    n_train, n_test = n_train or 2048, n_test or 512
    rng = np.random.default_rng([seed, 99])
    centres = rng.normal(0, 2.0, (CONFIG.n_classes, CONFIG.features))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, CONFIG.n_classes, n).astype(np.int32)
        return (centres[y] + rng.normal(0, 1.0, (n, CONFIG.features))).astype(np.float32), y

    (x_train, y_train), (x_test, y_test) = draw(n_train), draw(n_test)
    return TrainingData(x_train, y_train, x_test, y_test, kind="synthetic")


# == the oracle (float64): what `verify` compares the row with ==
ACTIVATIONS = ("fc1", "relu", "fc2")
LOGITS = "fc2"


def parameter_shapes() -> dict[str, tuple[int, ...]]:
    c = CONFIG
    return {"fc1.weight": (c.hidden, c.features), "fc1.bias": (c.hidden,),
            "fc2.weight": (c.n_classes, c.hidden), "fc2.bias": (c.n_classes,)}


def initial_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {name: rng.uniform(-0.3, 0.3, shape) for name, shape in parameter_shapes().items()}


def sample_inputs(rng: np.random.Generator, batch: int, image_size: int) -> dict[str, np.ndarray]:
    return {"x": rng.normal(0, 1, (batch, CONFIG.features)).astype(np.float32),
            "y": rng.integers(0, CONFIG.n_classes, batch).astype(np.int32)}


def forward(params: dict[str, np.ndarray], x: np.ndarray, dtype=np.float64) -> dict:
    p = {k: np.asarray(v, dtype) for k, v in params.items()}
    fc1 = np.asarray(x, dtype) @ p["fc1.weight"].T + p["fc1.bias"]
    relu = np.maximum(fc1, 0)
    return {"fc1": fc1, "relu": relu, "fc2": relu @ p["fc2.weight"].T + p["fc2.bias"]}


def loss_and_gradients(params: dict, x: np.ndarray, y: np.ndarray, dtype=np.float64):
    acts = forward(params, x, dtype)
    logits = acts["fc2"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = len(y)
    loss = float(-np.log(probs[np.arange(n), y]).mean())
    d_logits = probs.copy()
    d_logits[np.arange(n), y] -= 1
    d_logits /= n
    w2 = np.asarray(params["fc2.weight"], dtype)
    d_relu = (d_logits @ w2) * (acts["fc1"] > 0)
    grads = {"fc2.weight": d_logits.T @ acts["relu"], "fc2.bias": d_logits.sum(0),
             "fc1.weight": d_relu.T @ np.asarray(x, dtype), "fc1.bias": d_relu.sum(0)}
    return loss, grads


def train_step(params: dict, state: None, x: np.ndarray, y: np.ndarray):
    """Plain SGD, learning rate from the config."""
    loss, grads = loss_and_gradients(params, x, y)
    new = {k: np.asarray(v, np.float64) - CONFIG.lr * grads[k] for k, v in params.items()}
    return loss, new, None


# == the record ==
BENCHMARKS = [Benchmark(
    name="mlp", title="MLP: a plugin benchmark on Gaussian blobs (training)", kind=TRAINING,
    config=CONFIG,
    workloads={"full": Workload(n_train=2048, n_test=512),
               "quick": Workload(n_train=512, n_test=256, epochs=1),
               "smoke": Workload(n_train=256, n_test=128, epochs=1)},
    flops=training(CONFIG.features * CONFIG.hidden + CONFIG.hidden * CONFIG.n_classes),
    oracle=__name__, model="mlp", generate=generate)]


# == the row ==
class NumpyMLP(TrainingImplementation):
    """The MLP in float32 NumPy."""

    def sync(self) -> None:
        pass  # NumPy is synchronous

    def matmul(self, n: int):
        a, b = (np.random.default_rng(i).random((n, n), dtype=np.float32) for i in range(2))
        return lambda: a @ b

    def info(self) -> RunInfo:
        return RunInfo(framework="NumPy", framework_version=np.__version__)

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.data = data

    # == model ==
    def build(self, config: MLPConfig, seed: int) -> None:
        self.config = config
        rng = np.random.default_rng(seed)
        self.params = {k: v.astype(np.float32) for k, v in initial_weights(rng).items()}

    # == loss and optimizer ==
    def _step(self, x: np.ndarray, y: np.ndarray) -> float:
        loss, grads = loss_and_gradients(self.params, x, y, np.float32)
        for name, grad in grads.items():
            self.params[name] = (self.params[name] - np.float32(self.config.lr) * grad
                                 ).astype(np.float32)
        return loss

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        bs = self.config.batch_size
        for start in range(0, len(order), bs):
            batch = order[start:start + bs]
            self._step(self.data.x_train[batch], self.data.y_train[batch])

    # == prediction ==
    def predict(self) -> np.ndarray:
        return forward(self.params, self.data.x_test, np.float32)["fc2"]

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        self.params = {k: np.asarray(v, np.float32) for k, v in params.items()}

    def get_weights(self) -> dict[str, np.ndarray]:
        return dict(self.params)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return self._step(x, y)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return forward(self.params, x, np.float32)


ROWS = [Row(name="numpy-mlp", framework="NumPy", language="python",
            entry_points={"mlp": f"{__name__}:NumpyMLP"},
            description="the plugin MLP in float32 NumPy")]
