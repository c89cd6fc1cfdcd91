"""docs/benchmarks.md §4's ResNet-50 (torchvision v1.5) to the 2048-d features, batch-norm in inference mode.

v1.5: in a down-sampling bottleneck the stride sits on the 3x3 convolution (Keras and MXNet
zoo models are v1, stride on the first 1x1). Parameter names are torchvision's; `fc` is not
used (the network is cut after the global average pool). Activations are named after
torchvision's modules: `conv1`, `bn1`, `relu`, `maxpool`, `layer1.0` ... `layer4.2` (each
bottleneck's output) and `avgpool` (the (N, 2048) features).
"""

from __future__ import annotations

import numpy as np

from harness.verify.oracle.conv import batch_norm_inference, conv2d, max_pool, relu
from harness.verify.oracle.optim import Params

STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (planes, blocks, stride)
EXPANSION = 4
BN_EPS = 1e-5


def blocks() -> list[tuple[str, int, int, int, bool]]:
    """(name, in channels, planes, stride, has downsample) of the 16 bottlenecks, in order."""
    out, inplanes = [], 64
    for stage, (planes, count, stride) in enumerate(STAGES, start=1):
        for i in range(count):
            out.append((f"layer{stage}.{i}", inplanes, planes, stride if i == 0 else 1, i == 0))
            inplanes = planes * EXPANSION
    return out


ACTIVATIONS = ("conv1", "bn1", "relu", "maxpool", *(b[0] for b in blocks()), "avgpool")


def parameter_shapes() -> dict[str, tuple[int, ...]]:
    """Every canonical tensor (torchvision state_dict names, without fc and
    num_batches_tracked) and its shape."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name: str, o: int, i: int, k: int) -> None:
        shapes[f"{name}.weight"] = (o, i, k, k)

    def bn(name: str, c: int) -> None:
        for field in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.{field}"] = (c,)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    for name, inplanes, planes, _, down in blocks():
        conv(f"{name}.conv1", planes, inplanes, 1)
        bn(f"{name}.bn1", planes)
        conv(f"{name}.conv2", planes, planes, 3)
        bn(f"{name}.bn2", planes)
        conv(f"{name}.conv3", planes * EXPANSION, planes, 1)
        bn(f"{name}.bn3", planes * EXPANSION)
        if down:
            conv(f"{name}.downsample.0", planes * EXPANSION, inplanes, 1)
            bn(f"{name}.downsample.1", planes * EXPANSION)
    return shapes


def initial_weights(rng: np.random.Generator) -> Params:
    """Seeded weights for `verify`: He-normal convolutions (std sqrt(2 / fan_in)), batch-norm
    gamma U(0.5, 1), beta U(-0.1, 0.1), running mean U(-0.1, 0.1), running var U(0.5, 1.5)."""
    ranges = {"weight": (0.5, 1.0), "bias": (-0.1, 0.1), "running_mean": (-0.1, 0.1),
              "running_var": (0.5, 1.5)}
    params: Params = {}
    for name, shape in parameter_shapes().items():
        if len(shape) == 4:
            params[name] = rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))
        else:
            params[name] = rng.uniform(*ranges[name.rsplit(".", 1)[1]], shape)
    return params


def sample_inputs(rng: np.random.Generator, batch: int, image_size: int) -> dict[str, np.ndarray]:
    """`verify`'s batch: images in [0, 1) (the network is convolutional up to the global pool,
    so a smaller `image_size` is a quicker check of the same function)."""
    return {"x": rng.random((batch, 3, image_size, image_size), dtype=np.float32)}


def _bn(p: Params, name: str, x: np.ndarray) -> np.ndarray:
    return batch_norm_inference(x, p[f"{name}.weight"], p[f"{name}.bias"],
                                p[f"{name}.running_mean"], p[f"{name}.running_var"], BN_EPS)


def bottleneck(p: Params, name: str, x: np.ndarray, stride: int, down: bool) -> np.ndarray:
    out = relu(_bn(p, f"{name}.bn1", conv2d(x, p[f"{name}.conv1.weight"])))
    out = relu(_bn(p, f"{name}.bn2", conv2d(out, p[f"{name}.conv2.weight"], stride=stride,
                                             padding=1)))  # v1.5: the stride is here
    out = _bn(p, f"{name}.bn3", conv2d(out, p[f"{name}.conv3.weight"]))
    identity = x
    if down:
        identity = _bn(p, f"{name}.downsample.1",
                       conv2d(x, p[f"{name}.downsample.0.weight"], stride=stride))
    return relu(out + identity)


def forward(params: Params, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every named activation on images x (N, 3, H, W); the features are `["avgpool"]`.
    Fully convolutional up to the global pool, so any H, W >= 32 works (tests use 64)."""
    p = {name: np.asarray(params[name], np.float64) for name in parameter_shapes()}
    a: dict[str, np.ndarray] = {}
    a["conv1"] = conv2d(np.asarray(x, np.float64), p["conv1.weight"], stride=2, padding=3)
    a["bn1"] = _bn(p, "bn1", a["conv1"])
    a["relu"] = relu(a["bn1"])
    a["maxpool"] = max_pool(a["relu"], 3, 2, padding=1)
    h = a["maxpool"]
    for name, _, _, stride, down in blocks():
        h = a[name] = bottleneck(p, name, h, stride, down)
    a["avgpool"] = h.mean(axis=(2, 3))
    return a
