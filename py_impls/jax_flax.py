"""JAX (Flax NNX + Optax): the CNN, the GRU, the Transformer and ResNet-50 features; and a
whole-epoch variant.

Flax NNX, not Linen: since Flax 0.11 the Flax team recommends NNX for new code and keeps Linen
in maintenance, so NNX is what a practitioner writes today. Modules are ordinary Python objects
holding their parameters (no separate `init`/`apply` and variable dictionaries), `model.train()`
and `model.eval()` switch dropout, and the dropout key stream lives in the model (`nnx.Rngs`),
advanced inside the jitted step - the JAX way: explicit keys, no global seed.

Two variants:
- `CNN`, `RNN`, `Transformer`, `ResNet50Features` (row `jax-flax`): one `nnx.jit`-compiled
  training step a batch; batches are indexed on the host and copied to the device each step (the
  "JAX/Flax jit fp32, host batches" row of docs/benchmarks.md §12). Compilation lands in the
  first epoch.
- `CNNWholeEpoch`, `RNNWholeEpoch`, `TransformerWholeEpoch`, `ResNet50FeaturesResident` (row
  `jax-flax-scan`): the data are put on the device once in `prepare`, and one jitted function
  runs a whole epoch as a `lax.scan` over the harness's permutation (reshaped to steps x batch),
  calling the same training step: no host loop, no per-step dispatch or transfer. On XLA:CPU the
  CNN's convolutions take `conv_with_canonical_grads` (below): XLA:CPU otherwise runs the
  gradient convolutions inside the scan body as naive loops, about 40x slower than the host
  loop's step.

Layout: NHWC, XLA's preferred convolution layout on CPU and GPU; `prepare` makes the one
transposed copy. Flattening before the first dense layer is then in H,W,C order, so canonical
weights (flattened C,H,W as docs/benchmarks.md §2 says) have fc1's rows permuted on load and export instead of
transposing activations every step.

The GRU (docs/benchmarks.md §3). Flax's cells do not match its parameters: Flax 0.12's
`nnx.GRUCell` computes n = tanh(W_in x + b_in + r * (W_hn h)) - its recurrent Linear has no bias, so the b_hn
inside the reset product is missing (its docstring shows b_hn; the code has none) and PyTorch
weights with b_hn != 0 cannot be represented; Linen's `GRUCell` has b_hn but folds b_hr and b_hz
into the input biases, the same function with three fewer vectors, which breaks the round trip
of canonical weights and makes an Adam step differ (PyTorch updates both biases of a pair). So the
cell below is written out with PyTorch's six tensors, gates r, z, n, reset applied after the
recurrent matmul (cuDNN's formulation). The input projection of all 150 steps is one matmul
before the `lax.scan` over time, as cuDNN does; no cuDNN kernel runs (`cudnn=False`).

XLA:CPU. jaxlib 0.10 hands dots, convolutions and reductions to YNNPACK fusions; on this project's
AMD EPYC CPU that made the CNN's training step 2.6x slower (CPU time) than jaxlib 0.7.1, and
switching them off (`--xla_cpu_experimental_ynn_fusion_type=`) restores 0.7.1's speed within the
run-to-run spread (benchmarks/jax_cpu_versions.py has the measurements; upstream:
jax-ml/jax#37465 and #39257).
So this module switches them off (`py_impls/jax_settings.py`, shared with keras-jax), for XLA:CPU
only, unless XLA_FLAGS already sets that flag; `info()` records the flags in effect. GPU runs are
unaffected.

Precision: JAX's default matmul precision. On a GPU with TF32 (Ampere and later) XLA then runs fp32
convolutions and matmuls in TF32; on CPU it is fp32. Asked for `fp32-strict` (`--precision`, a
separately named variant) it sets `jax_default_matmul_precision=highest` for true fp32. `info()`
records which.
"""

from __future__ import annotations

import importlib.metadata
import os
from functools import partial
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from py_impls.jax_settings import strict_fp32, switch_off_ynn_fusions

from harness.config import CNNConfig, InferenceConfig, RNNConfig, TransformerConfig
from harness.interface import (
    InferenceImplementation,
    RunInfo,
    TrainingData,
    TrainingImplementation,
)
from harness.precision import OutputPrecision


YNN_FUSIONS = switch_off_ynn_fusions()


def resolve_device(requested: str) -> jax.Device:
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    if requested == "cuda" and not gpus:
        raise RuntimeError("--device cuda was asked for, but JAX sees no GPU (is jax[cuda12] or "
                           "jax[cuda13] installed?): pip install -U 'jax[cuda13]'")
    device = gpus[0] if gpus and requested in ("auto", "cuda") else jax.devices("cpu")[0]
    jax.config.update("jax_default_device", device)  # one run per process: set it once
    return device


class _JaxRun(OutputPrecision):
    """Device, synchronisation and the run's description, shared by the three benchmarks."""

    requested_device: str
    options: dict[str, Any]
    variant = "host batches, one jitted step a batch"
    _produced: Any = None  # what the latest phase computed: `sync` waits for all of it

    @property
    def device(self) -> jax.Device:
        if not hasattr(self, "_device"):
            self._device = resolve_device(self.requested_device)
            if self.strict:  # no TF32 on a GPU
                self.strict_settings = strict_fp32()
        return self._device

    @property
    def compute_dtype(self) -> Any:
        """The layers' computation dtype (`dtype=` of every nnx layer): bf16 for bf16-mixed,
        where the parameters stay fp32 (`param_dtype`'s default); None: Flax's own choice,
        the inputs' and parameters' fp32."""
        return jnp.bfloat16 if self.bf16 else None

    def sync(self) -> None:
        jax.block_until_ready(self._produced)

    def matmul(self, n: int):
        dtype = jnp.bfloat16 if self.bf16 else jnp.float32  # the peak of the run's precision
        a, b = (jax.device_put(jax.random.uniform(jax.random.key(i), (n, n), dtype), self.device)
                for i in range(2))
        product = jax.jit(jnp.matmul)  # at the default matmul precision the run used
        return lambda: jax.block_until_ready(product(a, b))

    def device_memory_peak(self) -> int | None:
        stats = self.device.memory_stats()  # None on the CPU
        return stats.get("peak_bytes_in_use") if stats else None

    def one_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """`verify`: one optimizer step as `train_epoch` takes it (the same `train_step`), on
        one given batch in the framework's layout, with dropout off (the models have no
        batch-norm, so eval mode changes nothing else)."""
        self.model.eval()
        loss = jit_train_step(self.model, self.optimizer, x, np.asarray(y, dtype=np.int32))
        self._produced = (loss, nnx.state((self.model, self.optimizer)))
        return float(loss)

    def info(self) -> RunInfo:
        gpu = self.device.platform == "gpu"
        chosen = jax.config.jax_default_matmul_precision
        if chosen:
            precision = (f"{'fp32-strict' if chosen == 'highest' else 'fp32'} "
                         f"(jax_default_matmul_precision={chosen})")
        elif gpu:
            precision = ("tf32-where-allowed (JAX default precision: fp32 convolutions and "
                         "matmuls run in TF32 on GPUs that have it)")
        else:
            precision = "fp32"
        return RunInfo(
            framework="JAX/Flax",
            framework_version=f"jax {jax.__version__}, flax {flax.__version__}, "
                              f"optax {optax.__version__}",
            device="cuda" if gpu else "cpu",
            device_name=self.device.device_kind,
            precision=self.precision_record(
                "Flax layers with dtype=bfloat16, fp32 parameters and optimizer state, fp32 loss",
                precision),
            extra={
                "jaxlib": importlib.metadata.version("jaxlib"),
                "backend": self.device.platform,
                "flax_api": "nnx",
                "variant": self.variant,
                "layout": "NHWC",
                "xla_flags": os.environ.get("XLA_FLAGS", ""),
                "xla_cpu_ynn_fusions": YNN_FUSIONS,
            },
        )


def commit(model: nnx.Module, optimizer: nnx.Optimizer, device: jax.Device) -> nnx.State:
    """Place (commit) all state on `device`. The arrays a step returns are committed; were the
    initial ones not, the second step would compile again (a different input placement)."""
    state = jax.device_put(nnx.state((model, optimizer)), device)
    nnx.update((model, optimizer), state)
    return state


def glorot_dense(rngs: nnx.Rngs, n_in: int, n_out: int, dtype: Any = None) -> nnx.Linear:
    """docs/benchmarks.md §2: Glorot-uniform weights, zero biases (Flax's default init is LeCun normal)."""
    return nnx.Linear(n_in, n_out, kernel_init=nnx.initializers.glorot_uniform(), dtype=dtype,
                      rngs=rngs)


def cross_entropy(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    """Softmax cross-entropy on integer labels, mean over the batch (softmax lives here)."""
    logits = model(x).astype(jnp.float32)  # the loss in fp32 whatever the layers computed in
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def train_step(model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array) -> jax.Array:
    """One optimizer step; in place on `model` and `optimizer` (NNX tracks the mutation)."""
    loss, grads = nnx.value_and_grad(cross_entropy)(model, x, y)
    optimizer.update(model, grads)
    return loss


jit_train_step = nnx.jit(train_step)


@nnx.jit
def forward(model: nnx.Module, x: jax.Array) -> jax.Array:
    return model(x)


@partial(jax.jit, static_argnums=0, donate_argnums=1)
def scan_epoch(graphdef: nnx.GraphDef, state: nnx.State, x: jax.Array, y: jax.Array,
               batches: jax.Array) -> tuple[nnx.State, jax.Array]:
    """A whole epoch in one compiled function: `lax.scan` of `train_step` over the rows of
    `batches` (steps x batch_size indices into x and y, the harness's order)."""

    def step(state: nnx.State, idx: jax.Array) -> tuple[nnx.State, jax.Array]:
        model, optimizer = nnx.merge(graphdef, state)
        loss = train_step(model, optimizer, x[idx], y[idx])
        return nnx.state((model, optimizer)), loss

    return jax.lax.scan(step, state, batches)


# XLA:CPU runs a convolution through Eigen only when its dimension numbers are canonical (NHWC
# input, HWIO kernel); its ConvCanonicalization pass transposes the others, but it visits only the
# entry computation (xla/service/cpu/conv_canonicalization.cc). The gradient convolutions that
# autodiff produces (kernel "01oi", batch as feature) are not canonical, so inside a `lax.scan`
# body they fall back to naive loops: 16 s a CNN step here instead of 0.4 s. This convolution
# writes its gradients as canonical convolutions of explicitly transposed operands - the same
# arithmetic - and the whole-epoch variant uses it on CPU. GPUs (cuDNN) need none of it.
_NHWC = ("NHWC", "HWIO", "NHWC")


def _conv_nhwc(x: jax.Array, w: jax.Array, pad: int, precision: Any) -> jax.Array:
    return jax.lax.conv_general_dilated(x, w, (1, 1), [(pad, pad)] * 2,
                                        dimension_numbers=_NHWC, precision=precision)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_canonical_grads(x: jax.Array, w: jax.Array, pad: int, precision: Any) -> jax.Array:
    return _conv_nhwc(x, w, pad, precision)


def _conv_forward(x: jax.Array, w: jax.Array, pad: int, precision: Any
                  ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _conv_nhwc(x, w, pad, precision), (x, w)


def _conv_backward(pad: int, precision: Any, saved: tuple[jax.Array, jax.Array], dy: jax.Array
                   ) -> tuple[jax.Array, jax.Array]:
    x, w = saved
    # dx: dy correlated with the spatially flipped kernel, its I and O swapped
    flipped = jnp.flip(w, (0, 1)).transpose(0, 1, 3, 2)
    dx = _conv_nhwc(dy, flipped, w.shape[0] - 1 - pad, precision)
    # dw: x (channels as batch, batch as features) correlated with dy (batch as input features)
    dw = _conv_nhwc(x.transpose(3, 1, 2, 0), dy.transpose(1, 2, 0, 3), pad, precision)
    return dx, dw.transpose(1, 2, 0, 3)


_conv_canonical_grads.defvjp(_conv_forward, _conv_backward)


def conv_with_canonical_grads(inputs: jax.Array, kernel: jax.Array, strides: Any, padding: Any,
                              *, lhs_dilation: Any = None, rhs_dilation: Any = None,
                              dimension_numbers: Any = None, feature_group_count: int = 1,
                              precision: Any = None, **kwargs: Any) -> jax.Array:
    """`nnx.Conv`'s `conv_general_dilated`, for stride-1 convolutions with symmetric padding (the
    CNN's); anything else goes to `lax.conv_general_dilated` unchanged."""
    ones = (None, (1, 1), [1, 1])
    pads = [tuple(p) for p in padding] if not isinstance(padding, str) else []
    if (tuple(strides) == (1, 1) and lhs_dilation in ones and rhs_dilation in ones
            and feature_group_count == 1 and len(pads) == 2 and len(set(pads)) == 1
            and pads[0][0] == pads[0][1] and inputs.ndim == 4
            and kwargs.get("out_sharding") is None and "preferred_element_type" not in kwargs
            and dimension_numbers == jax.lax.conv_dimension_numbers(inputs.shape, kernel.shape,
                                                                     _NHWC)):
        return _conv_canonical_grads(inputs, kernel, pads[0][0], precision)
    return jax.lax.conv_general_dilated(
        inputs, kernel, strides, padding, lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers, feature_group_count=feature_group_count,
        precision=precision, **kwargs)


# Canonical (PyTorch state_dict) names <-> NNX variable paths: `layers` of nnx.Sequential drops
# out of the name, and Flax's leaf names map to PyTorch's.
_TORCH_LEAF = {"kernel": "weight", "scale": "weight", "embedding": "weight",
               "mean": "running_mean", "var": "running_var"}


def canonical_variables(model: nnx.Module) -> dict[str, tuple[str, nnx.Variable]]:
    """{canonical name: (Flax leaf name, variable)} for every parameter and batch statistic."""
    found = {}
    for path, node in nnx.iter_graph(model):
        if isinstance(node, (nnx.Param, nnx.BatchStat)):
            parts = [str(p) for p in path if p != "layers"]
            leaf = parts[-1]
            found[".".join(parts[:-1] + [_TORCH_LEAF.get(leaf, leaf)])] = (leaf, node)
    return found


def to_canonical(leaf: str, value: np.ndarray) -> np.ndarray:
    if leaf == "kernel" and value.ndim == 4:  # HWIO -> OIHW
        return value.transpose(3, 2, 0, 1)
    if leaf == "kernel" and value.ndim == 2:  # (in, out) -> (out, in)
        return value.T
    return value


def from_canonical(leaf: str, value: np.ndarray) -> np.ndarray:
    if leaf == "kernel" and value.ndim == 4:  # OIHW -> HWIO
        return value.transpose(2, 3, 1, 0)
    if leaf == "kernel" and value.ndim == 2:
        return value.T
    return value


def export_weights(model: nnx.Module, chw_flattened: dict[str, tuple[int, int, int]]
                   ) -> dict[str, np.ndarray]:
    """Canonical weights. `chw_flattened`: dense weights whose input is an NHWC activation
    flattened (H,W,C), with the (C, H, W) shape it had: their columns go back to C,H,W order."""
    out = {}
    for name, (leaf, var) in canonical_variables(model).items():
        value = to_canonical(leaf, np.asarray(var[...]))
        if name in chw_flattened:
            c, h, w = chw_flattened[name]
            value = value.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(len(value), -1)
        out[name] = np.ascontiguousarray(value, dtype=np.float32)
    return out


def import_weights(model: nnx.Module, params: dict[str, np.ndarray],
                   chw_flattened: dict[str, tuple[int, int, int]]) -> None:
    """Set every parameter and batch statistic from canonical weights; names must match."""
    targets = canonical_variables(model)
    missing, unknown = set(targets) - set(params), set(params) - set(targets)
    if missing or unknown:
        raise KeyError(f"canonical weights do not match the model: missing {sorted(missing)[:5]}, "
                       f"unexpected {sorted(unknown)[:5]}")
    for name, (leaf, var) in targets.items():
        value = np.asarray(params[name], dtype=np.float32)
        if name in chw_flattened:
            c, h, w = chw_flattened[name]
            value = value.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(len(value), -1)
        value = from_canonical(leaf, value)
        if value.shape != var[...].shape:
            raise ValueError(f"{name}: canonical shape {params[name].shape} does not fit "
                             f"{var[...].shape} ({leaf})")
        var[...] = jnp.asarray(value)


# Hooks for `python -m harness verify` (harness/verify/runner.py).
def load_into(impl: Any, params: dict[str, np.ndarray]) -> None:
    """Canonical weights into the model, and a fresh optimizer state (no steps taken)."""
    import_weights(impl.model, params, impl.chw_flattened)
    impl.optimizer = nnx.Optimizer(impl.model, impl.tx, wrt=nnx.Param)
    impl._produced = commit(impl.model, impl.optimizer, impl.device)


class CNN(_JaxRun, TrainingImplementation):
    """docs/benchmarks.md §2: VGG-style CNN on CIFAR-10, SGD with heavy-ball momentum (optax.sgd is PyTorch's
    v <- 0.9 v + g; w <- w - lr v)."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        # NCHW -> NHWC, one copy on the host; batches go to the device each step.
        self.x_train = np.ascontiguousarray(data.x_train.transpose(0, 2, 3, 1))
        self.y_train = np.asarray(data.y_train, dtype=np.int32)
        self.x_test = np.ascontiguousarray(data.x_test.transpose(0, 2, 3, 1))
        self._produced = None
        self.device  # noqa: B018 - pick the device before anything is built on the default one

    # == model ==
    class Net(nnx.Module):
        def __init__(self, config: CNNConfig, rngs: nnx.Rngs,
                     conv_op: Any = jax.lax.conv_general_dilated, dtype: Any = None) -> None:
            conv = partial(nnx.Conv, kernel_size=(3, 3), padding=1, conv_general_dilated=conv_op,
                           kernel_init=nnx.initializers.glorot_uniform(), dtype=dtype, rngs=rngs)
            self.conv1 = conv(config.channels, 50)
            self.conv2 = conv(50, 50)
            self.drop1 = nnx.Dropout(0.25, rngs=rngs)
            self.conv3 = conv(50, 100)
            self.conv4 = conv(100, 100)
            self.drop2 = nnx.Dropout(0.25, rngs=rngs)
            self.fc1 = glorot_dense(rngs, 100 * 8 * 8, 512, dtype)
            self.drop3 = nnx.Dropout(0.5, rngs=rngs)
            self.fc2 = glorot_dense(rngs, 512, config.n_classes, dtype)  # softmax in the loss

        def __call__(self, x: jax.Array) -> jax.Array:  # x: NHWC
            pool = partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2))
            x = nnx.relu(self.conv1(x))
            x = self.drop1(nnx.relu(pool(self.conv2(x))))  # ReLU after the pool (docs/benchmarks.md §2)
            x = nnx.relu(self.conv3(x))
            x = self.drop2(nnx.relu(pool(self.conv4(x))))
            x = x.reshape(x.shape[0], -1)  # H,W,C order: fc1's rows are permuted to match
            x = self.drop3(nnx.relu(self.fc1(x)))
            return self.fc2(x)

    # the convolution nnx.Conv calls; the whole-epoch variant swaps it on XLA:CPU
    conv_op: Any = staticmethod(jax.lax.conv_general_dilated)

    # fc1 reads the NHWC activation (100, 8, 8) flattened in H,W,C order
    chw_flattened = {"fc1.weight": (100, 8, 8)}

    def build(self, config: CNNConfig, seed: int) -> None:
        self.config = config
        self.model = self.Net(config, nnx.Rngs(params=seed, dropout=seed + 1), self.conv_op,
                              self.compute_dtype)

        # == loss and optimizer ==
        # the loss is `cross_entropy` above, differentiated inside `train_step`
        self.tx = optax.sgd(config.lr, momentum=config.momentum)
        self.optimizer = nnx.Optimizer(self.model, self.tx, wrt=nnx.Param)
        self._produced = commit(self.model, self.optimizer, self.device)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.model.train()
        loss = None
        for idx in order.reshape(-1, self.config.batch_size):
            loss = jit_train_step(self.model, self.optimizer, self.x_train[idx], self.y_train[idx])
        self._produced = (loss, nnx.state((self.model, self.optimizer)))

    # == prediction ==
    def predict(self) -> np.ndarray:
        self.model.eval()
        bs = self.config.batch_size
        logits = [forward(self.model, self.x_test[i:i + bs])
                  for i in range(0, len(self.x_test), bs)]
        self._produced = logits
        return self.outputs(np.concatenate([np.asarray(batch) for batch in logits]))

    # == verification ==
    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        load_into(self, params)

    def get_weights(self) -> dict[str, np.ndarray]:
        return export_weights(self.model, self.chw_flattened)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return self.one_step(x.transpose(0, 2, 3, 1), y)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        m, out = self.model, {}
        pool = partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2))
        h = jnp.asarray(x.transpose(0, 2, 3, 1))
        for name, layer in (("conv1", m.conv1), ("relu1", nnx.relu), ("conv2", m.conv2),
                            ("pool1", pool), ("relu2", nnx.relu), ("conv3", m.conv3),
                            ("relu3", nnx.relu), ("conv4", m.conv4), ("pool2", pool),
                            ("relu4", nnx.relu)):
            h = layer(h)
            out[name] = np.asarray(h, np.float32).transpose(0, 3, 1, 2)  # NHWC -> NCHW
        out["flatten"] = out["relu4"].reshape(len(x), -1)  # C,H,W order, as docs/benchmarks.md §2 flattens
        h = h.reshape(len(x), -1)
        for name, layer in (("fc1", m.fc1), ("relu5", nnx.relu), ("fc2", m.fc2)):
            h = layer(h)
            out[name] = np.asarray(h, np.float32)
        return out


class GRU(nnx.Module):
    """One GRU layer in cuDNN's (PyTorch's) formulation, with PyTorch's tensors and layouts:
    r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    Returns the outputs of every step, (batch, time, hidden), as nn.GRU does. Initialised as
    PyTorch does: U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, n_in: int, hidden: int, rngs: nnx.Rngs, dtype: Any = None) -> None:
        self.dtype = dtype  # the computation's (bf16-mixed); the parameters stay fp32
        bound = 1 / np.sqrt(hidden)

        def uniform(*shape: int) -> nnx.Param:
            return nnx.Param(jax.random.uniform(rngs.params(), shape, jnp.float32, -bound, bound))

        self.weight_ih_l0 = uniform(3 * hidden, n_in)  # gate blocks r, z, n
        self.weight_hh_l0 = uniform(3 * hidden, hidden)
        self.bias_ih_l0 = uniform(3 * hidden)
        self.bias_hh_l0 = uniform(3 * hidden)

    def __call__(self, x: jax.Array) -> jax.Array:  # x: (batch, time, features)
        x, w_ih, b_ih, w_hh, b_hh = (v.astype(self.dtype or v.dtype) for v in (
            x, self.weight_ih_l0[...], self.bias_ih_l0[...], self.weight_hh_l0[...],
            self.bias_hh_l0[...]))
        gates_x = x @ w_ih.T + b_ih  # all steps in one matmul

        def step(h: jax.Array, gx: jax.Array) -> tuple[jax.Array, jax.Array]:
            gh = h @ w_hh.T + b_hh
            xr, xz, xn = jnp.split(gx, 3, axis=-1)
            hr, hz, hn = jnp.split(gh, 3, axis=-1)
            r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * hn)  # reset after the recurrent matmul
            h = (1 - z) * n + z * h
            return h, h

        h0 = jnp.zeros((x.shape[0], w_hh.shape[1]), x.dtype)  # initial state zero
        _, outputs = jax.lax.scan(step, h0, jnp.swapaxes(gates_x, 0, 1))  # time-major
        return jnp.swapaxes(outputs, 0, 1)


class _Reviews(_JaxRun, TrainingImplementation):
    """What the two IMDB classifiers (docs/benchmarks.md §3 GRU, §3b Transformer) share: token
    ids on the host, PyTorch's Adam, one jitted step a batch. A subclass gives `Classifier`."""

    Classifier: type[nnx.Module]
    chw_flattened: dict[str, tuple[int, int, int]] = {}

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.x_train = np.asarray(data.x_train, dtype=np.int32)
        self.y_train = np.asarray(data.y_train, dtype=np.int32)
        self.x_test = np.asarray(data.x_test, dtype=np.int32)
        self._produced = None
        self.device  # noqa: B018

    # == model ==
    def build(self, config: RNNConfig | TransformerConfig, seed: int) -> None:
        self.config = config
        self.model = self.Classifier(config, nnx.Rngs(params=seed), self.compute_dtype)

        # == loss and optimizer ==
        # the loss is `cross_entropy` above, differentiated inside `train_step`; optax's Adam is
        # PyTorch's (bias-corrected, eps outside the square root)
        self.tx = optax.adam(config.lr, b1=config.beta1, b2=config.beta2, eps=config.eps)
        self.optimizer = nnx.Optimizer(self.model, self.tx, wrt=nnx.Param)
        self._produced = commit(self.model, self.optimizer, self.device)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.model.train()  # no dropout in these models; kept for symmetry with CNN
        loss = None
        for idx in order.reshape(-1, self.config.batch_size):
            loss = jit_train_step(self.model, self.optimizer, self.x_train[idx], self.y_train[idx])
        self._produced = (loss, nnx.state((self.model, self.optimizer)))

    # == prediction ==
    def predict(self) -> np.ndarray:
        self.model.eval()
        bs = self.config.batch_size
        logits = [forward(self.model, self.x_test[i:i + bs])
                  for i in range(0, len(self.x_test), bs)]
        self._produced = logits
        return self.outputs(np.concatenate([np.asarray(batch) for batch in logits]))

    # == verification ==
    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        load_into(self, params)

    def get_weights(self) -> dict[str, np.ndarray]:
        return export_weights(self.model, self.chw_flattened)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return self.one_step(x, y)


class RNN(_Reviews):
    """docs/benchmarks.md §3: embedding -> GRU (cuDNN formulation, `GRU` above) -> last step -> dense.

    Embedding and GRU are initialised as PyTorch's defaults (N(0, 1); U(+-1/sqrt(100))), so
    both implementations start from the same distribution; the dense layer is Glorot."""

    # == model ==
    class Classifier(nnx.Module):
        def __init__(self, config: RNNConfig, rngs: nnx.Rngs, dtype: Any = None) -> None:
            self.embedding = nnx.Embed(config.vocab_size, config.embedding_dim, dtype=dtype,
                                       embedding_init=nnx.initializers.normal(1.0), rngs=rngs)
            self.gru = GRU(config.embedding_dim, config.hidden, rngs, dtype)
            self.fc = glorot_dense(rngs, config.hidden, config.n_classes, dtype)

        def __call__(self, tokens: jax.Array) -> jax.Array:
            outputs = self.gru(self.embedding(tokens))  # initial state: zeros
            return self.fc(outputs[:, -1])  # the last time step, padding included

    def info(self) -> RunInfo:
        run = super().info()
        run.cudnn = False  # a lax.scan over time; XLA has no fused cuDNN GRU
        return run

    # == verification ==
    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        embedded = self.model.embedding(jnp.asarray(x, dtype=jnp.int32))
        outputs = self.model.gru(embedded)
        return {"embedding": np.asarray(embedded, np.float32),
                "gru": np.asarray(outputs, np.float32),
                "fc": np.asarray(self.model.fc(outputs[:, -1]), np.float32)}


def layer_norm(config: TransformerConfig, rngs: nnx.Rngs, dtype: Any = None) -> nnx.LayerNorm:
    # Flax's eps is 1e-6; its statistics are fp32 even with dtype=bfloat16
    return nnx.LayerNorm(config.d_model, epsilon=config.ln_eps, dtype=dtype, rngs=rngs)


def attention_to_canonical(name: str, value: np.ndarray) -> np.ndarray:
    """nnx.MultiHeadAttention keeps its projections per head: query, key and value kernels
    (D, heads, 32) and biases (heads, 32), the output kernel (heads, 32, D). Flattened row-major,
    head i is features 32i..32i+31, the canonical order; a kernel is then (in, out)."""
    if ".attn." not in name:
        return value
    if value.ndim == 3:
        n_in = 2 if ".attn.out." in name else 1
        return value.reshape(int(np.prod(value.shape[:n_in])), -1).T
    return value.reshape(-1)


class Transformer(_Reviews):
    """docs/benchmarks.md §3b: token + position embedding -> 2 pre-LayerNorm encoder blocks ->
    LayerNorm -> mean over positions -> dense, attention by `nnx.MultiHeadAttention`."""

    # == model ==
    class MLP(nnx.Module):
        def __init__(self, c: TransformerConfig, rngs: nnx.Rngs, dtype: Any = None) -> None:
            self.fc1 = glorot_dense(rngs, c.d_model, c.mlp_dim, dtype)
            self.fc2 = glorot_dense(rngs, c.mlp_dim, c.d_model, dtype)

        def __call__(self, x: jax.Array) -> jax.Array:
            # exact (erf) GELU: jax.nn.gelu's default is the tanh approximation
            return self.fc2(jax.nn.gelu(self.fc1(x), approximate=False))

    class Block(nnx.Module):
        def __init__(self, c: TransformerConfig, rngs: nnx.Rngs, dtype: Any = None) -> None:
            self.ln1 = layer_norm(c, rngs, dtype)
            # dropout_rate 0 (its default); LinearGeneral initialises its kernels flattened to
            # (in, out), so Glorot sees fans 128 and 128
            self.attn = nnx.MultiHeadAttention(
                num_heads=c.heads, in_features=c.d_model, qkv_features=c.d_model,
                out_features=c.d_model, kernel_init=nnx.initializers.glorot_uniform(),
                bias_init=nnx.initializers.zeros_init(), decode=False, dtype=dtype, rngs=rngs)
            self.ln2 = layer_norm(c, rngs, dtype)
            self.mlp = Transformer.MLP(c, rngs, dtype)

        def __call__(self, x: jax.Array) -> jax.Array:
            x = x + self.attn(self.ln1(x))  # self-attention, no mask: padding is content
            return x + self.mlp(self.ln2(x))

    class Classifier(nnx.Module):
        def __init__(self, c: TransformerConfig, rngs: nnx.Rngs, dtype: Any = None) -> None:
            table = partial(nnx.Embed, features=c.d_model, dtype=dtype,
                            embedding_init=nnx.initializers.normal(0.02), rngs=rngs)
            self.embedding = table(c.vocab_size)
            self.position = table(c.seq_len)
            self.blocks = nnx.List([Transformer.Block(c, rngs, dtype) for _ in range(c.blocks)])
            self.ln_f = layer_norm(c, rngs, dtype)
            self.fc = glorot_dense(rngs, c.d_model, c.n_classes, dtype)

        def embed(self, tokens: jax.Array) -> jax.Array:
            return self.embedding(tokens) + self.position(jnp.arange(tokens.shape[1]))

        def __call__(self, tokens: jax.Array) -> jax.Array:
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return self.fc(self.ln_f(x).mean(axis=1))  # the mean over all 150 positions

    def info(self) -> RunInfo:
        run = super().info()
        # With no dropout and no sown weights, nnx's dot_product_attention hands over to
        # jax.nn.dot_product_attention, whose implementation=None is XLA's: two einsums and
        # a softmax, no fused kernel (flax/nnx/nn/attention.py, jax/_src/nn/functions.py).
        run.attention = "nnx.MultiHeadAttention: jax.nn.dot_product_attention (XLA einsums)"
        return run

    # == verification ==
    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        params = dict(params)
        for name, (_, var) in canonical_variables(self.model).items():
            if ".attn." in name and name in params:  # (out, in) -> nnx's per-head (in, out)
                value = np.asarray(params[name])
                params[name] = (value.T if value.ndim == 2 else value).reshape(var[...].shape)
        load_into(self, params)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {name: np.ascontiguousarray(attention_to_canonical(name, value))
                for name, value in super().get_weights().items()}

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        m = self.model
        h = m.embed(jnp.asarray(x, dtype=jnp.int32))
        out = {"embedding": h}
        for i, block in enumerate(m.blocks):
            h = out[f"blocks.{i}"] = block(h)
        out["pooled"] = m.ln_f(h).mean(axis=1)
        out["fc"] = m.fc(out["pooled"])
        return {name: np.asarray(value, np.float32) for name, value in out.items()}


class _WholeEpoch:
    """Data resident on the device; each epoch one compiled `scan_epoch` call."""

    variant = "data resident on device, whole epoch in one jitted lax.scan"
    x_train: Any
    y_train: Any
    x_test: Any

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        super().prepare(data)  # type: ignore[misc]  # the host variant's layout, then:
        self.x_train, self.y_train, self.x_test = jax.device_put(
            (self.x_train, self.y_train, self.x_test), self.device)
        self._produced = (self.x_train, self.y_train, self.x_test)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.model.train()
        graphdef, state = nnx.split((self.model, self.optimizer))
        batches = jnp.asarray(order.reshape(-1, self.config.batch_size), dtype=jnp.int32)
        state, losses = scan_epoch(graphdef, state, self.x_train, self.y_train, batches)
        nnx.update((self.model, self.optimizer), state)
        self._produced = (losses, state)

    def one_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """`verify`'s step through `scan_epoch` itself: an epoch of one batch, dropout off."""
        self.model.eval()
        graphdef, state = nnx.split((self.model, self.optimizer))
        state, losses = scan_epoch(graphdef, state, jnp.asarray(x), jnp.asarray(y, jnp.int32),
                                   jnp.arange(len(x), dtype=jnp.int32)[None])
        nnx.update((self.model, self.optimizer), state)
        self._produced = (losses, state)
        return float(losses[0])


class CNNWholeEpoch(_WholeEpoch, CNN):
    """docs/benchmarks.md §2, compiled whole epoch (row `jax-flax-scan`)."""

    def info(self) -> RunInfo:
        run = super().info()
        if self.conv_op is conv_with_canonical_grads:
            run.extra["conv_gradients"] = "canonical NHWC/HWIO convolutions (XLA:CPU workaround)"
        return run

    @property
    def conv_op(self) -> Any:
        """On XLA:CPU, convolutions whose gradients run through Eigen inside the scan (see
        `conv_with_canonical_grads`)."""
        if self.device.platform == "cpu":
            return conv_with_canonical_grads
        return jax.lax.conv_general_dilated


class RNNWholeEpoch(_WholeEpoch, RNN):
    """docs/benchmarks.md §3, compiled whole epoch (row `jax-flax-scan`)."""


class TransformerWholeEpoch(_WholeEpoch, Transformer):
    """docs/benchmarks.md §3b, compiled whole epoch (row `jax-flax-scan`)."""


class Bottleneck(nnx.Module):
    """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 convolution."""

    def __init__(self, inplanes: int, planes: int, stride: int, rngs: nnx.Rngs,
                 dtype: Any = None) -> None:
        self.conv1 = _conv(inplanes, planes, 1, 1, rngs, dtype)
        self.bn1 = _bn(planes, rngs, dtype)
        self.conv2 = _conv(planes, planes, 3, stride, rngs, dtype)
        self.bn2 = _bn(planes, rngs, dtype)
        self.conv3 = _conv(planes, planes * 4, 1, 1, rngs, dtype)
        self.bn3 = _bn(planes * 4, rngs, dtype)
        self.downsample = (nnx.Sequential(_conv(inplanes, planes * 4, 1, stride, rngs, dtype),
                                          _bn(planes * 4, rngs, dtype))
                           if stride != 1 or inplanes != planes * 4 else None)

    def __call__(self, x: jax.Array) -> jax.Array:
        identity = x if self.downsample is None else self.downsample(x)
        out = nnx.relu(self.bn1(self.conv1(x)))
        out = nnx.relu(self.bn2(self.conv2(out)))
        return nnx.relu(self.bn3(self.conv3(out)) + identity)


def _conv(n_in: int, n_out: int, size: int, stride: int, rngs: nnx.Rngs,
          dtype: Any = None) -> nnx.Conv:
    # PyTorch's symmetric padding (size // 2); "SAME" would pad stride-2 convs asymmetrically.
    # torchvision's init: Kaiming normal, fan-out.
    return nnx.Conv(n_in, n_out, (size, size), strides=stride, padding=size // 2, use_bias=False,
                    kernel_init=nnx.initializers.variance_scaling(2.0, "fan_out", "normal"),
                    dtype=dtype, rngs=rngs)


def _bn(n: int, rngs: nnx.Rngs, dtype: Any = None) -> nnx.BatchNorm:
    return nnx.BatchNorm(n, use_running_average=True, epsilon=1e-5, dtype=dtype,
                         rngs=rngs)  # torch's eps


def max_pool_3x3(x: jax.Array) -> jax.Array:
    return nnx.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))  # -inf padding


class ResNet50(nnx.Module):
    """torchvision.models.resnet50 (v1.5) up to the global average pool, torchvision's names."""

    def __init__(self, rngs: nnx.Rngs, dtype: Any = None) -> None:
        self.conv1 = _conv(3, 64, 7, 2, rngs, dtype)
        self.bn1 = _bn(64, rngs, dtype)
        inplanes = 64
        for name, (planes, blocks, stride) in zip(
                ("layer1", "layer2", "layer3", "layer4"),
                ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))):
            stage = [Bottleneck(inplanes, planes, stride, rngs, dtype)]
            inplanes = planes * 4
            stage += [Bottleneck(inplanes, planes, 1, rngs, dtype) for _ in range(blocks - 1)]
            setattr(self, name, nnx.List(stage))

    def __call__(self, x: jax.Array) -> jax.Array:  # x: NHWC
        x = nnx.relu(self.bn1(self.conv1(x)))
        x = max_pool_3x3(x)
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in stage:
                x = block(x)
        return x.mean(axis=(1, 2))  # global average pool: (N, 2048)


class ResNet50Features(_JaxRun, InferenceImplementation):
    """ResNet-50 v1.5 (docs/benchmarks.md §4), batch-norm in inference mode, cut after global
    average pooling."""

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.images = np.ascontiguousarray(images.transpose(0, 2, 3, 1))  # NHWC; host batches
        self._produced = None
        self.device  # noqa: B018

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        self.model = ResNet50(nnx.Rngs(params=seed), self.compute_dtype)
        if weights is not None:  # torchvision's state_dict, less the classifier and counters
            import_weights(self.model, {k: v for k, v in weights.items() if not k.startswith("fc.")
                                        and not k.endswith("num_batches_tracked")}, {})
        self.model.eval()
        self._produced = nnx.state(self.model)

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        self._produced = forward(self.model, self.images[start:stop])
        return self.outputs(self._produced)

    # == verification ==
    def activations(self, images: np.ndarray) -> dict[str, np.ndarray]:
        m, out = self.model, {}
        x = jnp.asarray(images.transpose(0, 2, 3, 1))
        for name, layer in (("conv1", m.conv1), ("bn1", m.bn1), ("relu", nnx.relu),
                            ("maxpool", max_pool_3x3)):
            x = layer(x)
            out[name] = np.asarray(x, np.float32).transpose(0, 3, 1, 2)
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            for i, block in enumerate(getattr(m, stage)):
                x = block(x)
                out[f"{stage}.{i}"] = np.asarray(x, np.float32).transpose(0, 3, 1, 2)
        out["avgpool"] = np.asarray(x.mean(axis=(1, 2)), np.float32)
        return out


class ResNet50FeaturesResident(ResNet50Features):
    """docs/benchmarks.md §4 with the images resident on the device (row `jax-flax-scan`)."""

    variant = "images resident on device"

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        super().prepare(images)
        self.images = jax.device_put(self.images, self.device)
        self._produced = self.images
