"""Softmax cross-entropy on integer labels, mean over the batch (docs/benchmarks.md §2, 2)."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)  # same value, no overflow
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean loss and its gradient with respect to the logits."""
    n = len(labels)
    p = softmax(logits)
    loss = -np.mean(np.log(p[np.arange(n), labels]))
    dlogits = p.copy()
    dlogits[np.arange(n), labels] -= 1.0
    return float(loss), dlogits / n
