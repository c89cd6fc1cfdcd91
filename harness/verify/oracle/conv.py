"""Convolution, pooling and batch-norm in float64 NumPy, NCHW throughout.

A convolution is a dot product of each kernel with each input window ("cross-correlation", as
every framework computes it); windows come from `sliding_window_view`, so no index arithmetic
is hidden anywhere but in the strides.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def windows(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, Ho, Wo, kh, kw): every kh x kw window, `stride` apart."""
    view = sliding_window_view(x, (kh, kw), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def pad(x: np.ndarray, padding: int, value: float = 0.0) -> np.ndarray:
    spec = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    return np.pad(x, spec, constant_values=value)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """x (N, C, H, W), w (O, C, kh, kw) -> (N, O, Ho, Wo)."""
    _, _, kh, kw = w.shape
    cols = windows(pad(x, padding), kh, kw, stride)  # (N, C, Ho, Wo, kh, kw)
    out = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, O)
    out = out.transpose(0, 3, 1, 2)
    if b is not None:
        out = out + b[None, :, None, None]
    return np.ascontiguousarray(out)


def conv2d_backward(dout: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx, dw, db) of `conv2d(x, w, b, stride, padding)` given dL/dout."""
    _, _, kh, kw = w.shape
    xp = pad(x, padding)
    cols = windows(xp, kh, kw, stride)  # (N, C, Ho, Wo, kh, kw)
    dw = np.tensordot(dout, cols, axes=([0, 2, 3], [0, 2, 3]))  # (O, C, kh, kw)
    db = dout.sum(axis=(0, 2, 3))
    # Each output position spreads its gradient back over the window it was computed from.
    dcols = np.tensordot(dout, w, axes=([1], [0]))  # (N, Ho, Wo, C, kh, kw)
    dxp = np.zeros_like(xp)
    _, _, ho, wo = dout.shape
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += \
                dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    dx = dxp[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]]
    return np.ascontiguousarray(dx), dw, db


def max_pool(x: np.ndarray, size: int, stride: int, padding: int = 0) -> np.ndarray:
    """Max over each size x size window; padding counts as -inf (never the maximum)."""
    return windows(pad(x, padding, -np.inf), size, size, stride).max(axis=(4, 5))


def max_pool_backward(dout: np.ndarray, x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """dL/dx of an unpadded max-pool: each window's gradient goes to its (first) maximum."""
    win = windows(x, size, size, stride)
    n, c, ho, wo = dout.shape
    flat = win.reshape(n, c, ho, wo, size * size)
    first_max = flat.argmax(axis=-1)
    dx = np.zeros_like(x)
    for k in range(size * size):
        i, j = divmod(k, size)
        dx[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += dout * (first_max == k)
    return dx


def batch_norm_inference(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray,
                         var: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Batch-norm with running statistics (inference mode), per channel of NCHW."""
    scale = gamma / np.sqrt(var + eps)
    return (x - mean[None, :, None, None]) * scale[None, :, None, None] + beta[None, :, None, None]


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)
