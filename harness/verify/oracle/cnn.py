"""docs/benchmarks.md §2's VGG-style CNN: forward with every named activation, backward by hand, one SGD step.

Activation names are the PyTorch reference's layer names (dropout, the identity in inference,
is left out); every activation is NCHW, and `flatten` is in C,H,W order.
"""

from __future__ import annotations

import numpy as np

from harness.config import CNNConfig
from harness.verify.oracle.conv import conv2d, conv2d_backward, max_pool, max_pool_backward, relu
from harness.verify.oracle.loss import cross_entropy
from harness.verify.oracle.init import glorot_uniform
from harness.verify.oracle.optim import Params, sgd_momentum

ACTIVATIONS = ("conv1", "relu1", "conv2", "pool1", "relu2", "conv3", "relu3", "conv4", "pool2",
               "relu4", "flatten", "fc1", "relu5", "fc2")

PARAMETERS = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
              "conv3.bias", "conv4.weight", "conv4.bias", "fc1.weight", "fc1.bias",
              "fc2.weight", "fc2.bias")


LOGITS = "fc2"


def parameter_shapes() -> dict[str, tuple[int, ...]]:
    """Every canonical tensor and its shape, in state_dict order."""
    c = CNNConfig()
    return {
        "conv1.weight": (50, c.channels, 3, 3), "conv1.bias": (50,),
        "conv2.weight": (50, 50, 3, 3), "conv2.bias": (50,),
        "conv3.weight": (100, 50, 3, 3), "conv3.bias": (100,),
        "conv4.weight": (100, 100, 3, 3), "conv4.bias": (100,),
        "fc1.weight": (512, 100 * 8 * 8), "fc1.bias": (512,),
        "fc2.weight": (c.n_classes, 512), "fc2.bias": (c.n_classes,),
    }


def initial_weights(rng: np.random.Generator) -> Params:
    """Seeded weights for `verify`: Glorot-uniform weights, biases U(-0.1, 0.1) (non-zero, so a
    dropped or misplaced bias shows)."""
    return {name: glorot_uniform(rng, shape) if name.endswith("weight")
            else rng.uniform(-0.1, 0.1, shape) for name, shape in parameter_shapes().items()}


def sample_inputs(rng: np.random.Generator, batch: int, image_size: int) -> dict[str, np.ndarray]:
    """`verify`'s batch: images in [0, 1) and labels."""
    c = CNNConfig()
    return {"x": rng.random((batch, c.channels, c.height, c.width), dtype=np.float32),
            "y": rng.integers(0, c.n_classes, batch).astype(np.int32)}


def as_float64(params: Params) -> Params:
    return {name: np.asarray(params[name], dtype=np.float64) for name in PARAMETERS}


def forward(params: Params, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every activation of the network on images x (N, 3, 32, 32); logits are `["fc2"]`.
    Dropout is off (inference, and `verify`'s training step)."""
    p = as_float64(params)
    a: dict[str, np.ndarray] = {}
    a["conv1"] = conv2d(np.asarray(x, np.float64), p["conv1.weight"], p["conv1.bias"], padding=1)
    a["relu1"] = relu(a["conv1"])
    a["conv2"] = conv2d(a["relu1"], p["conv2.weight"], p["conv2.bias"], padding=1)
    a["pool1"] = max_pool(a["conv2"], 2, 2)
    a["relu2"] = relu(a["pool1"])  # ReLU after the pool (docs/benchmarks.md §2, layer 3)
    a["conv3"] = conv2d(a["relu2"], p["conv3.weight"], p["conv3.bias"], padding=1)
    a["relu3"] = relu(a["conv3"])
    a["conv4"] = conv2d(a["relu3"], p["conv4.weight"], p["conv4.bias"], padding=1)
    a["pool2"] = max_pool(a["conv4"], 2, 2)
    a["relu4"] = relu(a["pool2"])
    a["flatten"] = a["relu4"].reshape(len(x), -1)  # C-ordered NCHW: C,H,W order
    a["fc1"] = a["flatten"] @ p["fc1.weight"].T + p["fc1.bias"]
    a["relu5"] = relu(a["fc1"])
    a["fc2"] = a["relu5"] @ p["fc2.weight"].T + p["fc2.bias"]
    return a


def loss_and_gradients(params: Params, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    """Mean cross-entropy on (x, y) and its gradient for every parameter (dropout off)."""
    p = as_float64(params)
    a = forward(p, x)
    loss, d = cross_entropy(a["fc2"], np.asarray(y))
    g: Params = {}
    g["fc2.weight"], g["fc2.bias"] = d.T @ a["relu5"], d.sum(0)
    d = (d @ p["fc2.weight"]) * (a["fc1"] > 0)
    g["fc1.weight"], g["fc1.bias"] = d.T @ a["flatten"], d.sum(0)
    d = (d @ p["fc1.weight"]).reshape(a["relu4"].shape) * (a["pool2"] > 0)
    d = max_pool_backward(d, a["conv4"], 2, 2)
    d, g["conv4.weight"], g["conv4.bias"] = conv2d_backward(d, a["relu3"], p["conv4.weight"],
                                                            padding=1)
    d = d * (a["conv3"] > 0)
    d, g["conv3.weight"], g["conv3.bias"] = conv2d_backward(d, a["relu2"], p["conv3.weight"],
                                                            padding=1)
    d = d * (a["pool1"] > 0)
    d = max_pool_backward(d, a["conv2"], 2, 2)
    d, g["conv2.weight"], g["conv2.bias"] = conv2d_backward(d, a["relu1"], p["conv2.weight"],
                                                            padding=1)
    d = d * (a["conv1"] > 0)
    _, g["conv1.weight"], g["conv1.bias"] = conv2d_backward(d, np.asarray(x, np.float64),
                                                            p["conv1.weight"], padding=1)
    return loss, g


def train_step(params: Params, velocity: Params | None, x: np.ndarray, y: np.ndarray,
               lr: float = 0.01, momentum: float = 0.9) -> tuple[float, Params, Params]:
    """One SGD-momentum step with dropout disabled: (loss before the step, params, velocity)."""
    loss, grads = loss_and_gradients(params, x, y)
    new_params, new_velocity = sgd_momentum(as_float64(params), grads, velocity, lr, momentum)
    return loss, new_params, new_velocity


def decision_margin(activations: dict[str, np.ndarray]) -> float:
    """How close the forward pass came to a ReLU or max-pool decision going the other way:
    the smallest |input| of a ReLU and the smallest gap between a pool window's two largest
    values, each relative to its layer's largest magnitude.

    fp32 computes activations to about 1e-7 of their scale; a decision closer than that may
    go the other way in fp32, which routes a gradient differently and moves the weight update
    by up to a few percent - an honest discontinuity, not a bug. `verify` uses batches whose
    margin is well above fp32's reach, so that its update checks can be tight."""
    a = activations
    margins = [np.abs(a[name]).min() / np.abs(a[name]).max()
               for name in ("conv1", "pool1", "conv3", "pool2", "fc1")]  # ReLU inputs
    for pooled, source in (("pool1", "conv2"), ("pool2", "conv4")):
        n, c, h, w = a[pooled].shape
        window = a[source].reshape(n, c, h, 2, w, 2).transpose(0, 1, 2, 4, 3, 5)
        top = np.sort(window.reshape(n, c, h, w, 4), axis=-1)
        margins.append((top[..., 3] - top[..., 2]).min() / np.abs(a[source]).max())
    return float(min(margins))
