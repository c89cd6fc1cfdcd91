"""Stand-in implementations for testing the harness itself, with NumPy only.

`SoftmaxRegression` really learns (a linear classifier trained with SGD); the others misbehave
in the ways a real framework can: raise, hang, exit abruptly, be killed."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from harness.interface import (InferenceImplementation, RunInfo, TrainingData,
                               TrainingImplementation)


class _NumpyRun:
    def sync(self) -> None:
        pass

    def info(self) -> RunInfo:
        return RunInfo(framework="NumPy", framework_version=np.__version__)


class SoftmaxRegression(_NumpyRun, TrainingImplementation):
    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.x_train = data.x_train.reshape(len(data.x_train), -1).astype(np.float64)
        self.y_train = data.y_train
        self.x_test = data.x_test.reshape(len(data.x_test), -1).astype(np.float64)

    # == model ==
    def build(self, config, seed: int) -> None:
        self.config = config
        self.w = np.zeros((self.x_train.shape[1], config.n_classes))
        self.b = np.zeros(config.n_classes)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        for idx in order.reshape(-1, self.config.batch_size):
            x, y = self.x_train[idx], self.y_train[idx]
            logits = x @ self.w + self.b
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(y)), y] -= 1
            self.w -= 0.01 * x.T @ p / len(y)
            self.b -= 0.01 * p.mean(0)

    # == prediction ==
    def predict(self) -> np.ndarray:
        return self.x_test @ self.w + self.b


class ZeroFeatures(_NumpyRun, InferenceImplementation):
    def prepare(self, images: np.ndarray) -> None:
        self.images = images

    def build(self, config, weights, seed: int) -> None:
        self.dim = config.feature_dim

    def extract(self, start: int, stop: int) -> np.ndarray:
        return np.zeros((stop - start, self.dim), dtype=np.float32)


class RaisesOnBuild(ZeroFeatures):
    def build(self, config, weights, seed: int) -> None:
        raise ValueError("broken on purpose")


class Hangs(ZeroFeatures):
    def extract(self, start: int, stop: int) -> np.ndarray:
        time.sleep(3600)
        raise AssertionError("unreachable")


class ExitsAbruptly(ZeroFeatures):
    def build(self, config, weights, seed: int) -> None:
        os._exit(3)  # no exception, no result file: as a crashing native library would


class KilledBySignal(ZeroFeatures):
    def build(self, config, weights, seed: int) -> None:
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does


class WrongShape(ZeroFeatures):
    def extract(self, start: int, stop: int) -> np.ndarray:
        return np.zeros((stop - start, 10), dtype=np.float32)
