"""MLX (Apple's array framework, `mlx.nn` + `mlx.optimizers`): the CNN, the GRU, the Transformer
and ResNet-50 features.

MLX is lazy: an operation records a graph and nothing is computed until `mx.eval` (or a read of
the values) asks for it. The training step - `nn.value_and_grad` of the loss and the optimizer's
update - is one `mx.compile`d function whose state (parameters, optimizer moments, the random
key dropout draws from) is declared as its inputs and outputs, MLX's recipe for compiling a
training step. Compilation happens on its first call, so it lands in the first timed window
("compile + warm-up"), as XLA's does. Each step is handed to `mx.async_eval`, which queues it
and returns: Python builds step k+1 while step k computes, and the graph never spans more than
a step. So when `train_epoch` returns, the last steps may still be computing: `sync()` is
`mx.eval` of everything the phase produced (parameters, optimizer state, the last loss), and a
clock read without it would miss that work (tests/test_mlx.py shows it). Prediction and
features are evaluated forward passes, not compiled.

Layout: MLX's convolutions and pooling are channels-last (NHWC images, OHWI kernels); `prepare`
makes the one transposed copy. Flattening before the CNN's first dense layer is then in H,W,C
order, so canonical weights (flattened C,H,W, docs/benchmarks.md §2) have fc1's columns
permuted on load and export, as the JAX row does.

The GRU is written out below with PyTorch's six tensors: `nn.GRU` computes the same function
but keeps one input bias for r and z with b_hr and b_hz folded into it (`b`, plus `bhn`), as
Linen's cell does; canonical weights then cannot round-trip and an Adam step differs (PyTorch
moves both biases of a pair). The loop over the 150 steps is traced into the compiled step.

Initialisation: MLX's defaults are not the contract's (dense and convolution weights and biases
U(+-1/sqrt(fan_in)), embeddings N(0, 1/dims)), so every rule is stated here: Glorot-uniform with
zero biases (§2, the GRU's and the Transformer's dense layers), N(0, 1) and U(+-1/sqrt(H)) for
the GRU (§3), N(0, 0.02) embeddings (§3b), Kaiming-normal fan-out convolutions (torchvision's,
§4).

Precision: fp32; MLX has no TF32 mode. On Linux the CPU backend comes from the `mlx-cpu` wheel
(`pip install "mlx[cpu]"`), whose matrix products go through the BLAS it bundles; `info()`
records which library that is.
"""

from __future__ import annotations

import math
import os
from functools import partial
from pathlib import Path
from typing import Any, Callable

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten

from harness.config import CNNConfig, InferenceConfig, RNNConfig, TransformerConfig
from harness.interface import (
    InferenceImplementation,
    RunInfo,
    TrainingData,
    TrainingImplementation,
)
from harness.precision import OutputPrecision


def resolve_device(requested: str) -> mx.Device:
    gpu = mx.cuda.is_available() or mx.metal.is_available()
    if requested == "cuda" and not mx.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but MLX has no CUDA backend here "
                           "(pip install 'mlx[cuda]' on Linux with an NVIDIA GPU)")
    device = mx.gpu if gpu and requested in ("auto", "cuda") else mx.cpu
    mx.set_default_device(device)  # one run per process: set it once
    return mx.default_device()


def linked_blas() -> str:
    """The BLAS libraries MLX's CPU backend loaded into this process (Linux: /proc/self/maps),
    or "unknown"."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return "unknown"
    found = sorted({Path(line.split()[-1]).name for line in maps
                    if "mlx" in line and "blas" in line.lower()})
    return ", ".join(found) or "unknown"


def tf32_allowed() -> bool:
    """MLX's TF32 switch (MLX_ENABLE_TF32, default 1: fp32 matmuls, attention and convolutions
    in TF32 on hardware that has it - NVIDIA GPUs, Apple M5 - and plain fp32 on the CPU)."""
    return os.environ.get("MLX_ENABLE_TF32", "1") != "0"


def strict_fp32() -> str:
    """Strict fp32 the MLX way: TF32 off (MLX reads the variable when it first multiplies, so
    the strict child's environment sets it before MLX starts; this checks it). Returns what is
    in effect."""
    if tf32_allowed():
        raise RuntimeError("fp32-strict needs MLX_ENABLE_TF32=0 in the environment before MLX "
                           "starts (harness.precision.STRICT_FP32_ENV sets it for a strict run)")
    return "MLX_ENABLE_TF32=0"


class _MlxRun(OutputPrecision):
    """Device, synchronisation and the run's description, shared by the four benchmarks."""

    requested_device: str
    _produced: Any = None  # what the latest phase computed, lazily: `sync` evaluates all of it

    @property
    def device(self) -> mx.Device:
        if not hasattr(self, "_device"):
            self._device = resolve_device(self.requested_device)
            if self.strict:
                self.strict_settings = strict_fp32()
        return self._device

    @property
    def backend(self) -> str:
        if self.device.type == mx.DeviceType.cpu:
            return "cpu"
        return "cuda" if mx.cuda.is_available() else "metal"

    def sync(self) -> None:
        mx.eval(self._produced)

    def matmul(self, n: int) -> Callable[[], Any]:
        a, b = mx.random.uniform(shape=(n, n)), mx.random.uniform(shape=(n, n))
        mx.eval(a, b)
        return lambda: mx.eval(a @ b)

    def device_memory_peak(self) -> int | None:
        # MLX's allocator keeps a high-water mark; on the CPU its memory is the host's
        return None if self.backend == "cpu" else mx.get_peak_memory()

    def info(self) -> RunInfo:
        backend = self.backend
        return RunInfo(
            framework="MLX",
            framework_version=mx.__version__,
            device="cpu" if backend == "cpu" else "cuda" if backend == "cuda" else "metal",
            device_name=str(self.device),
            precision=self.precision_record("", "fp32" if backend == "cpu" or not tf32_allowed()
                                            else "tf32-where-allowed (MLX_ENABLE_TF32 unset or 1, "
                                                 "MLX's default: fp32 matmuls in TF32)"),
            extra={
                "backend": backend,
                "layout": "NHWC",
                "variant": "mx.compile step, mx.async_eval each step, host-built batches",
                "blas": linked_blas() if backend == "cpu" else None,
            },
        )


def glorot_zero_bias(model: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every convolution and dense layer of `model`
    (MLX's default is U(+-1/sqrt(fan_in)) for both)."""
    glorot = nn.init.glorot_uniform()
    for _, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.weight = glorot(module.weight)
            if "bias" in module:
                module.bias = mx.zeros_like(module.bias)


def cross_entropy(model: nn.Module, x: mx.array, y: mx.array) -> mx.array:
    """Softmax cross-entropy on integer labels, mean over the batch (softmax lives here)."""
    return nn.losses.cross_entropy(model(x), y, reduction="mean")


def compiled_step(model: nn.Module, optimizer: optim.Optimizer) -> tuple[Callable, list]:
    """One optimizer step under `mx.compile`, and the state it reads and writes: the model's
    parameters, the optimizer's state and the random key (dropout). The model's mode (train
    or eval) is fixed when the step is first traced."""
    optimizer.init(model.trainable_parameters())  # the moments exist before the trace
    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x: mx.array, y: mx.array) -> mx.array:
        loss, grads = nn.value_and_grad(model, cross_entropy)(model, x, y)
        optimizer.update(model, grads)
        return loss

    return step, state


# Canonical (PyTorch state_dict) names <-> MLX parameter paths: nn.MultiHeadAttention names its
# projections query_proj, ...; every other module here is named as PyTorch names it.
_TORCH_NAME = {"query_proj": "query", "key_proj": "key", "value_proj": "value", "out_proj": "out"}


def canonical_name(path: str) -> str:
    return ".".join(_TORCH_NAME.get(part, part) for part in path.split("."))


def export_weights(model: nn.Module, chw_flattened: dict[str, tuple[int, int, int]]
                   ) -> dict[str, np.ndarray]:
    """Canonical weights. `chw_flattened`: dense weights whose input is an NHWC activation
    flattened (H,W,C), with the (C, H, W) shape it had: their columns go back to C,H,W order."""
    out = {}
    for path, value in tree_flatten(model.parameters()):
        name, value = canonical_name(path), np.array(value)
        if value.ndim == 4:  # OHWI -> OIHW
            value = value.transpose(0, 3, 1, 2)
        if name in chw_flattened:
            c, h, w = chw_flattened[name]
            value = value.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(len(value), -1)
        out[name] = np.ascontiguousarray(value, dtype=np.float32)
    return out


def import_weights(model: nn.Module, params: dict[str, np.ndarray],
                   chw_flattened: dict[str, tuple[int, int, int]]) -> None:
    """Set every parameter (and batch-norm statistic) from canonical weights; names must match."""
    targets = {canonical_name(path): (path, value)
               for path, value in tree_flatten(model.parameters())}
    missing, unknown = set(targets) - set(params), set(params) - set(targets)
    if missing or unknown:
        raise KeyError(f"canonical weights do not match the model: missing {sorted(missing)[:5]}, "
                       f"unexpected {sorted(unknown)[:5]}")
    updates = []
    for name, (path, current) in targets.items():
        value = np.asarray(params[name], dtype=np.float32)
        if name in chw_flattened:
            c, h, w = chw_flattened[name]
            value = value.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(len(value), -1)
        if value.ndim == 4:  # OIHW -> OHWI
            value = value.transpose(0, 2, 3, 1)
        if value.shape != tuple(current.shape):
            raise ValueError(f"{name}: canonical shape {params[name].shape} does not fit "
                             f"{tuple(current.shape)}")
        updates.append((path, mx.array(value)))
    model.update(tree_unflatten(updates))


class _Training(_MlxRun, TrainingImplementation):
    """What the three training benchmarks share: the loop over the harness's order with the
    compiled step, prediction, and the hooks for `verify`. A subclass's `build` makes `model`,
    `optimizer`, and `step` and `state` by `compiled_step`."""

    model: nn.Module
    optimizer: optim.Optimizer
    step: Callable[[mx.array, mx.array], mx.array]
    state: list
    chw_flattened: dict[str, tuple[int, int, int]] = {}
    _verification_step: Callable | None = None

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.model.train()
        loss = None
        for idx in mx.array(order.reshape(-1, self.config.batch_size)):
            loss = self.step(self.x_train[idx], self.y_train[idx])
            mx.async_eval(self.state, loss)  # queue this step; Python goes on to the next
        self._produced = (self.state, loss)

    # == prediction ==
    def predict(self) -> np.ndarray:
        self.model.eval()
        bs = self.config.batch_size
        logits = mx.concatenate([self.model(self.x_test[i:i + bs])
                                 for i in range(0, len(self.x_test), bs)])
        self._produced = logits
        return self.outputs(np.array(logits))

    # == verification ==
    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        # the optimizer's state is still what `build` made: zeros, no steps taken
        import_weights(self.model, params, self.chw_flattened)
        self._produced = self.state

    def get_weights(self) -> dict[str, np.ndarray]:
        return export_weights(self.model, self.chw_flattened)

    def one_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """`verify`: one optimizer step as `train_epoch` takes it (the same `compiled_step`,
        over the same model and optimizer), traced with dropout off."""
        self.model.eval()
        if self._verification_step is None:
            self._verification_step, _ = compiled_step(self.model, self.optimizer)
        loss = self._verification_step(mx.array(x), mx.array(np.asarray(y, np.int32)))
        self._produced = (self.state, loss)
        self.sync()
        return loss.item()


class CNN(_Training):
    """docs/benchmarks.md §2: VGG-style CNN on CIFAR-10, SGD with heavy-ball momentum (MLX's SGD
    with dampening 0 is PyTorch's: v <- 0.9 v + g; w <- w - lr v)."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.device  # noqa: B018 - pick the device before any array is made
        # NCHW -> NHWC, one copy, made before training is timed
        self.x_train = mx.array(np.ascontiguousarray(data.x_train.transpose(0, 2, 3, 1)))
        self.y_train = mx.array(np.asarray(data.y_train, dtype=np.int32))
        self.x_test = mx.array(np.ascontiguousarray(data.x_test.transpose(0, 2, 3, 1)))
        self._produced = (self.x_train, self.y_train, self.x_test)

    # == model ==
    class Net(nn.Module):
        def __init__(self, config: CNNConfig) -> None:
            super().__init__()
            conv = partial(nn.Conv2d, kernel_size=3, padding=1)
            self.conv1 = conv(config.channels, 50)
            self.conv2 = conv(50, 50)
            self.drop1 = nn.Dropout(0.25)
            self.conv3 = conv(50, 100)
            self.conv4 = conv(100, 100)
            self.drop2 = nn.Dropout(0.25)
            self.fc1 = nn.Linear(100 * 8 * 8, 512)
            self.drop3 = nn.Dropout(0.5)
            self.fc2 = nn.Linear(512, config.n_classes)  # logits: softmax in the loss
            self.pool = nn.MaxPool2d(2, stride=2)
            glorot_zero_bias(self)

        def __call__(self, x: mx.array) -> mx.array:  # x: NHWC
            x = nn.relu(self.conv1(x))
            x = self.drop1(nn.relu(self.pool(self.conv2(x))))  # ReLU after the pool (§2)
            x = nn.relu(self.conv3(x))
            x = self.drop2(nn.relu(self.pool(self.conv4(x))))
            x = x.reshape(x.shape[0], -1)  # H,W,C order: fc1's columns are permuted to match
            x = self.drop3(nn.relu(self.fc1(x)))
            return self.fc2(x)

    # fc1 reads the NHWC activation (100, 8, 8) flattened in H,W,C order
    chw_flattened = {"fc1.weight": (100, 8, 8)}

    def build(self, config: CNNConfig, seed: int) -> None:
        self.config = config
        mx.random.seed(seed)
        self.model = self.Net(config)
        self.model.train()  # the step is traced in training mode: dropout on

        # == loss and optimizer ==
        # the loss is `cross_entropy` above, differentiated and compiled by `compiled_step`
        self.optimizer = optim.SGD(learning_rate=config.lr, momentum=config.momentum)
        self.step, self.state = compiled_step(self.model, self.optimizer)
        self._produced = self.state

    # == verification ==
    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return self.one_step(x.transpose(0, 2, 3, 1), y)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        m, out = self.model, {}
        h = mx.array(x.transpose(0, 2, 3, 1))
        for name, layer in (("conv1", m.conv1), ("relu1", nn.relu), ("conv2", m.conv2),
                            ("pool1", m.pool), ("relu2", nn.relu), ("conv3", m.conv3),
                            ("relu3", nn.relu), ("conv4", m.conv4), ("pool2", m.pool),
                            ("relu4", nn.relu)):
            h = layer(h)
            out[name] = np.array(h).transpose(0, 3, 1, 2)  # NHWC -> NCHW
        out["flatten"] = out["relu4"].reshape(len(x), -1)  # C,H,W order, as §2 flattens
        h = h.reshape(len(x), -1)
        for name, layer in (("fc1", m.fc1), ("relu5", nn.relu), ("fc2", m.fc2)):
            h = layer(h)
            out[name] = np.array(h)
        return out


class GRU(nn.Module):
    """One GRU layer in cuDNN's (PyTorch's) formulation, with PyTorch's tensors and layouts:
    r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    Returns the outputs of every step, (batch, time, hidden), as nn.GRU does. Initialised as
    PyTorch does: U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, n_in: int, hidden: int) -> None:
        super().__init__()
        bound = 1 / math.sqrt(hidden)
        uniform = partial(mx.random.uniform, -bound, bound)
        self.weight_ih_l0 = uniform((3 * hidden, n_in))  # gate blocks r, z, n
        self.weight_hh_l0 = uniform((3 * hidden, hidden))
        self.bias_ih_l0 = uniform((3 * hidden,))
        self.bias_hh_l0 = uniform((3 * hidden,))

    def __call__(self, x: mx.array) -> mx.array:  # x: (batch, time, features)
        gates_x = mx.addmm(self.bias_ih_l0, x, self.weight_ih_l0.T)  # all steps in one matmul
        h = mx.zeros((x.shape[0], self.weight_hh_l0.shape[1]), x.dtype)  # initial state zero
        outputs = []
        for t in range(x.shape[1]):
            gh = mx.addmm(self.bias_hh_l0, h, self.weight_hh_l0.T)
            xr, xz, xn = mx.split(gates_x[:, t], 3, axis=-1)
            hr, hz, hn = mx.split(gh, 3, axis=-1)
            r, z = mx.sigmoid(xr + hr), mx.sigmoid(xz + hz)
            n = mx.tanh(xn + r * hn)  # reset after the recurrent matmul
            h = (1 - z) * n + z * h
            outputs.append(h)
        return mx.stack(outputs, axis=1)


class _Reviews(_Training):
    """What the two IMDB classifiers (docs/benchmarks.md §3 GRU, §3b Transformer) share: token
    ids as int32 arrays, PyTorch's Adam, one compiled step a batch. A subclass gives
    `Classifier`, which initialises itself by its benchmark's rule."""

    Classifier: type[nn.Module]

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.device  # noqa: B018
        self.x_train = mx.array(np.asarray(data.x_train, dtype=np.int32))
        self.y_train = mx.array(np.asarray(data.y_train, dtype=np.int32))
        self.x_test = mx.array(np.asarray(data.x_test, dtype=np.int32))
        self._produced = (self.x_train, self.y_train, self.x_test)

    # == model ==
    def build(self, config: RNNConfig | TransformerConfig, seed: int) -> None:
        self.config = config
        mx.random.seed(seed)
        self.model = self.Classifier(config)
        self.model.train()

        # == loss and optimizer ==
        # the loss is `cross_entropy` above, differentiated and compiled by `compiled_step`;
        # MLX's Adam is PyTorch's once bias_correction=True (its default is False)
        self.optimizer = optim.Adam(learning_rate=config.lr, betas=[config.beta1, config.beta2],
                                    eps=config.eps, bias_correction=True)
        self.step, self.state = compiled_step(self.model, self.optimizer)
        self._produced = self.state

    # == verification ==
    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return self.one_step(x, y)


def normal_table(n: int, dims: int, std: float) -> nn.Embedding:
    """An embedding table drawn from N(0, std^2) (MLX's default is N(0, 1/dims))."""
    table = nn.Embedding(n, dims)
    table.weight = std * mx.random.normal((n, dims))
    return table


class RNN(_Reviews):
    """docs/benchmarks.md §3: embedding -> GRU (cuDNN formulation, `GRU` above) -> last step -> dense.

    Embedding N(0, 1) and GRU U(+-1/sqrt(100)), PyTorch's defaults; the dense layer Glorot."""

    # == model ==
    class Classifier(nn.Module):
        def __init__(self, config: RNNConfig) -> None:
            super().__init__()
            self.embedding = normal_table(config.vocab_size, config.embedding_dim, 1.0)
            self.gru = GRU(config.embedding_dim, config.hidden)
            self.fc = nn.Linear(config.hidden, config.n_classes)
            glorot_zero_bias(self)

        def __call__(self, tokens: mx.array) -> mx.array:
            outputs = self.gru(self.embedding(tokens))  # initial state: zeros
            return self.fc(outputs[:, -1])  # the last time step, padding included

    def info(self) -> RunInfo:
        run = super().info()
        run.cudnn = False  # a loop over time inside the compiled step; no fused GRU
        return run

    # == verification ==
    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        embedded = self.model.embedding(mx.array(np.asarray(x, np.int32)))
        outputs = self.model.gru(embedded)
        return {"embedding": np.array(embedded), "gru": np.array(outputs),
                "fc": np.array(self.model.fc(outputs[:, -1]))}


class Transformer(_Reviews):
    """docs/benchmarks.md §3b: token + position embedding -> 2 pre-LayerNorm encoder blocks ->
    LayerNorm -> mean over positions -> dense, attention by `nn.MultiHeadAttention`."""

    # == model ==
    class MLP(nn.Module):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            self.fc1 = nn.Linear(c.d_model, c.mlp_dim)
            self.gelu = nn.GELU()  # exact (erf), MLX's default
            self.fc2 = nn.Linear(c.mlp_dim, c.d_model)

        def __call__(self, x: mx.array) -> mx.array:
            return self.fc2(self.gelu(self.fc1(x)))

    class Block(nn.Module):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(c.d_model, eps=c.ln_eps)
            self.attn = nn.MultiHeadAttention(c.d_model, c.heads, bias=True)  # no bias by default
            self.ln2 = nn.LayerNorm(c.d_model, eps=c.ln_eps)
            self.mlp = Transformer.MLP(c)

        def __call__(self, x: mx.array) -> mx.array:
            h = self.ln1(x)
            x = x + self.attn(h, h, h)  # self-attention, no mask: padding is content
            return x + self.mlp(self.ln2(x))

    class Classifier(nn.Module):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            self.embedding = normal_table(c.vocab_size, c.d_model, 0.02)
            self.position = normal_table(c.seq_len, c.d_model, 0.02)
            self.blocks = [Transformer.Block(c) for _ in range(c.blocks)]
            self.ln_f = nn.LayerNorm(c.d_model, eps=c.ln_eps)
            self.fc = nn.Linear(c.d_model, c.n_classes)
            glorot_zero_bias(self)  # every dense layer; LayerNorm keeps 1 and 0

        def embed(self, tokens: mx.array) -> mx.array:
            return self.embedding(tokens) + self.position(mx.arange(tokens.shape[1]))

        def __call__(self, tokens: mx.array) -> mx.array:
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return self.fc(self.ln_f(x).mean(axis=1))  # the mean over all 150 positions

    def info(self) -> RunInfo:
        run = super().info()
        run.attention = "nn.MultiHeadAttention: mx.fast.scaled_dot_product_attention"
        return run

    # == verification ==
    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        m = self.model
        h = m.embed(mx.array(np.asarray(x, np.int32)))
        out = {"embedding": h}
        for i, block in enumerate(m.blocks):
            h = out[f"blocks.{i}"] = block(h)
        out["pooled"] = m.ln_f(h).mean(axis=1)
        out["fc"] = m.fc(out["pooled"])
        return {name: np.array(value) for name, value in out.items()}


def _conv(n_in: int, n_out: int, size: int, stride: int) -> nn.Conv2d:
    # PyTorch's symmetric padding (size // 2); torchvision's init: Kaiming normal, fan-out
    conv = nn.Conv2d(n_in, n_out, size, stride=stride, padding=size // 2, bias=False)
    conv.weight = nn.init.he_normal()(conv.weight, mode="fan_out", gain=math.sqrt(2))
    return conv


def _bn(n: int) -> nn.BatchNorm:
    return nn.BatchNorm(n, eps=1e-5)  # PyTorch's eps; eval mode reads the running statistics


class Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 convolution."""

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _conv(inplanes, planes, 1, 1)
        self.bn1 = _bn(planes)
        self.conv2 = _conv(planes, planes, 3, stride)
        self.bn2 = _bn(planes)
        self.conv3 = _conv(planes, planes * 4, 1, 1)
        self.bn3 = _bn(planes * 4)
        self.downsample = ([_conv(inplanes, planes * 4, 1, stride), _bn(planes * 4)]
                           if stride != 1 or inplanes != planes * 4 else [])

    def __call__(self, x: mx.array) -> mx.array:
        identity = x
        for layer in self.downsample:
            identity = layer(identity)
        out = nn.relu(self.bn1(self.conv1(x)))
        out = nn.relu(self.bn2(self.conv2(out)))
        return nn.relu(self.bn3(self.conv3(out)) + identity)


class ResNet50(nn.Module):
    """torchvision.models.resnet50 (v1.5) up to the global average pool, torchvision's names."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv(3, 64, 7, 2)
        self.bn1 = _bn(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)  # -inf padding
        inplanes = 64
        for name, (planes, blocks, stride) in zip(
                ("layer1", "layer2", "layer3", "layer4"),
                ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))):
            stage = [Bottleneck(inplanes, planes, stride)]
            inplanes = planes * 4
            stage += [Bottleneck(inplanes, planes, 1) for _ in range(blocks - 1)]
            setattr(self, name, stage)

    def __call__(self, x: mx.array) -> mx.array:  # x: NHWC
        x = self.maxpool(nn.relu(self.bn1(self.conv1(x))))
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in stage:
                x = block(x)
        return x.mean(axis=(1, 2))  # global average pool: (N, 2048)


class ResNet50Features(_MlxRun, InferenceImplementation):
    """ResNet-50 v1.5 (docs/benchmarks.md §4), batch-norm in inference mode, cut after global
    average pooling."""

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.device  # noqa: B018
        self.images = mx.array(np.ascontiguousarray(images.transpose(0, 2, 3, 1)))  # NHWC
        self._produced = self.images

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        mx.random.seed(seed)
        self.model = ResNet50()
        if weights is not None:  # torchvision's state_dict, less the classifier and counters
            import_weights(self.model, {k: v for k, v in weights.items() if not k.startswith("fc.")
                                        and not k.endswith("num_batches_tracked")}, {})
        self.model.eval()
        self._produced = self.model.parameters()

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        self._produced = self.model(self.images[start:stop])
        return self.outputs(np.array(self._produced))

    # == verification ==
    def activations(self, images: np.ndarray) -> dict[str, np.ndarray]:
        m, out = self.model, {}
        x = mx.array(np.ascontiguousarray(images.transpose(0, 2, 3, 1)))
        for name, layer in (("conv1", m.conv1), ("bn1", m.bn1), ("relu", nn.relu),
                            ("maxpool", m.maxpool)):
            x = layer(x)
            out[name] = np.array(x).transpose(0, 3, 1, 2)
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            for i, block in enumerate(getattr(m, stage)):
                x = block(x)
                out[f"{stage}.{i}"] = np.array(x).transpose(0, 3, 1, 2)
        out["avgpool"] = np.array(x.mean(axis=(1, 2)))
        return out
