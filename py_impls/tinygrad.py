"""tinygrad: the CNN, the GRU, the Transformer and ResNet-50 features, as tinygrad's users write
them: `tinygrad.nn` layers, `tinygrad.nn.optim`, the training step under `TinyJit` (fp32).

tinygrad is lazy and compiles its own kernels. A step builds a graph of tensor operations; the
scheduler fuses it into kernels, which the device's renderer writes (C for the CPU's clang, PTX
or CUDA C for NVIDIA GPUs) and compiles. `TinyJit` runs the step's function normally on its first
call, captures the kernels it ran on the second, and from the third on replays them with the new
batch: the capture and every compilation land in the first timed window, "compile + warm-up",
as XLA's do. Each process compiles with a kernel cache of its own (harness/toolchain.py), so a run
pays the cold compile a user's first run pays.

The device: `--device cpu` is tinygrad's CPU device, whose kernels are C compiled by clang ($CC)
(tinygrad 0.14 compiles its CPU queue's worker programs with clang too, so clang is needed even
under DEV=CPU:LLVM); `cuda` is tinygrad's CUDA device, `auto` takes CUDA where it opens. `info()`
records the device and the renderer that wrote its kernels. The CUDA path has not been run in
this project (no GPU here).

The embedding's gradient: tinygrad's `nn.Embedding` differentiates its one-hot lookup as a
(tokens x vocabulary) reduction, 40 s a GRU step on a 2-core CPU; with USE_ATOMICS=1, which
tinygrad's own LLM trainers set (examples/mlperf), it scatter-adds with atomics instead (0.03 s).
tinygrad has that kernel for its CPU and AMD devices only, so it is switched on there.

The GRU: tinygrad has no GRU layer (its examples write their LSTM from tensor operations), so the
cell below is the contract's written out. It is a `tinygrad.function`, precompiled: each of the
150 steps is a call of the same compiled function, not another copy of its graph (scheduling the
graph unrolled took more than 15 minutes before the first step).

ResNet-50 is the v1.5 network defined below with tinygrad.nn layers and torchvision's names.
"""

from __future__ import annotations

import math
import os
import subprocess

import numpy as np

from harness.toolchain import cold_tinygrad_cache

# tinygrad reads CACHEDB as it is imported: the private cache must be named first.
KERNEL_CACHE = cold_tinygrad_cache()

import tinygrad  # noqa: E402
from tinygrad import Context, Device, Tensor, TinyJit, function, nn  # noqa: E402
from tinygrad.helpers import ALLOW_TF32, DEV, NUM_CPU_THREADS, USE_ATOMICS  # noqa: E402
from tinygrad.nn.state import get_parameters, get_state_dict  # noqa: E402

from harness.config import CNNConfig, InferenceConfig, RNNConfig, TransformerConfig  # noqa: E402
from harness.interface import (  # noqa: E402
    InferenceImplementation,
    RunInfo,
    TrainingData,
    TrainingImplementation,
)
from harness.precision import OutputPrecision  # noqa: E402


def resolve_device(requested: str) -> str:
    """tinygrad's device for the harness's --device: CPU, or CUDA (auto: where it opens)."""
    if requested in ("cuda", "auto"):
        try:
            Device["CUDA"]
        except Exception as error:  # noqa: BLE001 - tinygrad raises whatever its runtime raised
            if requested == "cuda":
                raise RuntimeError(f"--device cuda was asked for, but tinygrad's CUDA device does "
                                   f"not open: {type(error).__name__}: {error}") from error
        else:
            return "CUDA"
    return "CPU"


def strict_fp32() -> str:
    """Strict fp32 the tinygrad way: fp32 matmuls never on TF32 tensor cores (ALLOW_TF32=0, its
    default; the CPU has none). Returns what is in effect."""
    ALLOW_TF32.value = 0
    return f"ALLOW_TF32={ALLOW_TF32.value}"


class _TinygradRun(OutputPrecision):
    """Device, synchronisation and the run's description, shared by the four benchmarks."""

    requested_device: str
    _produced: list[Tensor] = []  # what the latest phase computed: `sync` realizes all of it

    @property
    def device(self) -> str:
        if not hasattr(self, "_device"):
            self._device = resolve_device(self.requested_device)
            DEV.value = self._device  # every tensor is made on it
            if self._device in ("CPU", "AMD"):  # the devices with the atomic embedding gradient
                USE_ATOMICS.value = 1
            if self.strict:
                self.strict_settings = strict_fp32()
        return self._device

    def sync(self) -> None:
        # Lazy: a tensor nobody realized has not been computed at all; realized, its kernels
        # may still be queued on the device (the CPU device runs them on a worker thread).
        pending = [t for t in self._produced if not t.uop.is_realized]
        if pending:
            Tensor.realize(*pending)
        Device[self.device].synchronize()

    def matmul(self, n: int):
        a, b = (Tensor.rand(n, n).realize() for _ in range(2))
        product = TinyJit(lambda x, y: (x @ y).realize())

        def multiply() -> None:
            product(a, b)
            Device[self.device].synchronize()
        return multiply

    def device_memory_peak(self) -> int | None:
        return None  # tinygrad counts the memory in use (GlobalCounters.mem_used), no peak

    def info(self) -> RunInfo:
        dev = Device[self.device]
        renderer = type(dev.renderer).__name__.removesuffix("Renderer").upper()
        return RunInfo(
            framework="tinygrad",
            framework_version=tinygrad_version(),
            device="cuda" if self.device == "CUDA" else "cpu",
            device_name=self.device,
            # tinygrad keeps fp32 matmuls off TF32 tensor cores unless ALLOW_TF32=1
            precision=self.precision_record("", "fp32" if not ALLOW_TF32.value else
                                            "tf32-where-allowed (ALLOW_TF32=1)"),
            extra={
                "backend": f"{self.device}:{renderer}",  # e.g. CPU:CLANG, CUDA:CUDA
                "compiler": compiler_version() if self.device == "CPU" else None,
                "cpu_threads": NUM_CPU_THREADS.value if self.device == "CPU" else None,
                "use_atomics": bool(USE_ATOMICS.value),
                "kernel_cache": KERNEL_CACHE,
                "variant": "host batches, TinyJit training step",
            },
        )


def tinygrad_version() -> str:
    try:
        from importlib.metadata import version

        return version("tinygrad")
    except Exception:  # noqa: BLE001 - a source checkout has no metadata
        return getattr(tinygrad, "__version__", "unknown")


def compiler_version() -> str:
    """The first line of `$CC --version` (clang unless CC names another)."""
    cc = os.environ.get("CC", "clang")
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0] if out.stdout else cc
    except (OSError, subprocess.SubprocessError) as error:
        return f"{cc} ({type(error).__name__})"


def glorot_uniform(*shape: int) -> Tensor:
    """docs/benchmarks.md §2: Glorot uniform with Keras' and PyTorch's fans (a conv kernel's
    receptive field counts in both; tinygrad's `Tensor.glorot_uniform` leaves it out of the
    output fan)."""
    receptive = math.prod(shape[2:])
    bound = math.sqrt(6 / ((shape[0] + shape[1]) * receptive))
    return Tensor.uniform(*shape, low=-bound, high=bound)


def glorot(layer: nn.Conv2d | nn.Linear) -> nn.Conv2d | nn.Linear:
    """A conv or dense layer with Glorot-uniform weights and a zero bias (tinygrad's default is
    PyTorch's Kaiming-uniform)."""
    layer.weight = glorot_uniform(*layer.weight.shape)
    layer.bias = Tensor.zeros(layer.weight.shape[0]).contiguous()
    return layer


def parameters(model: object) -> dict[str, Tensor]:
    """The model's tensors by canonical name: attribute paths are PyTorch's state_dict keys."""
    return {k: v for k, v in get_state_dict(model).items() if not k.endswith("num_batches_tracked")}


def export_weights(model: object) -> dict[str, np.ndarray]:
    return {k: v.numpy().astype(np.float32) for k, v in parameters(model).items()}


def import_weights(model: object, params: dict[str, np.ndarray]) -> None:
    """Canonical weights into the model's own tensors (in place: a captured TinyJit keeps
    pointing at them)."""
    targets = parameters(model)
    missing, unknown = set(targets) - set(params), set(params) - set(targets)
    if missing or unknown:
        raise KeyError(f"canonical weights do not fit the model: missing {sorted(missing)[:5]}, "
                       f"unexpected {sorted(unknown)[:5]}")
    for name, tensor in targets.items():
        value = np.ascontiguousarray(params[name], dtype=np.float32)
        if value.shape != tensor.shape:
            raise ValueError(f"{name}: canonical shape {value.shape} does not fit {tensor.shape}")
        tensor.assign(Tensor(value, device=tensor.device))
    Tensor.realize(*targets.values())


class _Training(_TinygradRun, TrainingImplementation):
    """What the three training benchmarks share: host batches, one TinyJit step a batch, the
    harness's order. A subclass gives `make_model` and `make_optimizer`."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.x_train, self.y_train = data.x_train, data.y_train.astype(np.int32)
        self.x_test = data.x_test  # batches become tensors, copied to the device, each step
        self.device  # noqa: B018 - pick the device before anything is made on the default one

    def inputs(self, x: np.ndarray) -> Tensor:
        return Tensor(np.ascontiguousarray(x), device=self.device)

    # == model ==
    def build(self, config, seed: int) -> None:
        self.config = config
        Tensor.manual_seed(seed)
        self.model = self.make_model(config)
        self.new_optimizer()

    # == loss and optimizer ==
    def new_optimizer(self) -> None:
        self.optimizer = self.make_optimizer(get_parameters(self.model), self.config)
        self.jit_step = TinyJit(self.train_step)  # replays the step's kernels from its 3rd call
        self.jit_forward = TinyJit(lambda x: self.model(x).realize())
        self._produced = self.state()

    def train_step(self, x: Tensor, y: Tensor) -> Tensor:
        """One optimizer step: softmax cross-entropy (mean over the batch), backward, update.
        Dropout is on where the caller set TRAINING; tinygrad's optimizers need it for the
        update, so the update always has it."""
        self.optimizer.zero_grad()
        loss = self.model(x).sparse_categorical_crossentropy(y).backward()
        with Context(TRAINING=1):
            return loss.realize(*self.optimizer.schedule_step())

    def state(self) -> list[Tensor]:
        """Parameters and optimizer state: what a step writes."""
        return get_parameters(self.model) + get_parameters(self.optimizer)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        with Context(TRAINING=1):  # dropout on
            for idx in order.reshape(-1, self.config.batch_size):
                self.jit_step(self.inputs(self.x_train[idx]), self.inputs(self.y_train[idx]))
        self._produced = self.state()

    # == prediction ==
    def predict(self) -> np.ndarray:
        bs, logits = self.config.batch_size, []
        for start in range(0, len(self.x_test), bs):
            x = self.inputs(self.x_test[start:start + bs])
            # a partial last batch runs uncaptured: the captured kernels have the full shape
            logits.append((self.jit_forward(x) if len(x) == bs else self.model(x)).numpy())
        return self.outputs(np.concatenate(logits))

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        import_weights(self.model, params)
        self.new_optimizer()  # no steps taken

    def get_weights(self) -> dict[str, np.ndarray]:
        return export_weights(self.model)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        # the step train_epoch captures, run uncaptured (verify's batch is smaller), dropout off
        loss = self.train_step(self.inputs(x), self.inputs(y.astype(np.int32)))
        self._produced = self.state()
        return loss.item()


class CNN(_Training):
    """docs/benchmarks.md §2: VGG-style CNN on CIFAR-10, SGD with heavy-ball momentum."""

    # == model ==
    class Net:
        def __init__(self, config: CNNConfig) -> None:
            conv = lambda i, o: glorot(nn.Conv2d(i, o, 3, padding=1))  # noqa: E731
            self.conv1, self.conv2 = conv(config.channels, 50), conv(50, 50)
            self.conv3, self.conv4 = conv(50, 100), conv(100, 100)
            self.fc1 = glorot(nn.Linear(100 * 8 * 8, 512))
            self.fc2 = glorot(nn.Linear(512, config.n_classes))  # logits: softmax in the loss

        def layers(self) -> list[tuple[str, object]]:
            """In order, by canonical name; dropout is active only under TRAINING."""
            pool = lambda x: x.max_pool2d(2, stride=2)  # noqa: E731
            return [("conv1", self.conv1), ("relu1", Tensor.relu), ("conv2", self.conv2),
                    ("pool1", pool), ("relu2", Tensor.relu), ("drop1", lambda x: x.dropout(0.25)),
                    ("conv3", self.conv3), ("relu3", Tensor.relu), ("conv4", self.conv4),
                    ("pool2", pool), ("relu4", Tensor.relu), ("drop2", lambda x: x.dropout(0.25)),
                    ("flatten", lambda x: x.flatten(1)),  # C,H,W order
                    ("fc1", self.fc1), ("relu5", Tensor.relu), ("drop3", lambda x: x.dropout(0.5)),
                    ("fc2", self.fc2)]

        def __call__(self, x: Tensor) -> Tensor:
            return x.sequential([layer for _, layer in self.layers()])

    def make_model(self, config: CNNConfig) -> Net:
        return self.Net(config)

    # == loss and optimizer ==
    # the loss is in `train_step`; tinygrad's SGD with classic=False (its default) is PyTorch's
    # momentum, v <- 0.9 v + g, w <- w - lr v (its classic=True puts lr inside v)
    def make_optimizer(self, params: list[Tensor], config: CNNConfig) -> nn.optim.Optimizer:
        return nn.optim.SGD(params, lr=config.lr, momentum=config.momentum)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out, h = {}, self.inputs(x)
        for name, layer in self.model.layers():
            h = layer(h)
            if not name.startswith("drop"):
                out[name] = h.numpy()
        return out


@function(precompile=True, precompile_backward=True)
def gru_cell(gates_x: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> Tensor:
    """One GRU step in cuDNN's (PyTorch's) formulation, gate blocks r, z, n:
    r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h."""
    xr, xz, xn = gates_x.chunk(3, dim=1)
    hr, hz, hn = h.linear(weight_hh.T, bias_hh).chunk(3, dim=1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()  # reset after the recurrent matmul
    return (1 - z) * n + z * h


class GRU:
    """One GRU layer with PyTorch's tensors and layouts; returns every step's output (batch,
    time, hidden), as nn.GRU does. Initialised as PyTorch does: U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, n_in: int, hidden: int) -> None:
        bound = 1 / math.sqrt(hidden)
        uniform = lambda *shape: Tensor.uniform(*shape, low=-bound, high=bound)  # noqa: E731
        self.weight_ih_l0, self.weight_hh_l0 = uniform(3 * hidden, n_in), uniform(3 * hidden, hidden)
        self.bias_ih_l0, self.bias_hh_l0 = uniform(3 * hidden), uniform(3 * hidden)

    def __call__(self, x: Tensor) -> Tensor:  # x: (batch, time, features)
        gates_x = x.linear(self.weight_ih_l0.T, self.bias_ih_l0)  # all steps in one matmul
        h = Tensor.zeros(x.shape[0], self.weight_hh_l0.shape[1])  # initial state zero
        outputs = []
        for t in range(x.shape[1]):
            h = gru_cell(gates_x[:, t].contiguous(), h, self.weight_hh_l0, self.bias_hh_l0)
            outputs.append(h)
        return Tensor.stack(*outputs, dim=1)


class _Reviews(_Training):
    """What the two IMDB classifiers (docs/benchmarks.md §3 GRU, §3b Transformer) share: int32
    token ids, Adam as PyTorch defines it."""

    # == loss and optimizer ==
    # tinygrad's Adam is PyTorch's: bias-corrected, eps outside the square root
    def make_optimizer(self, params: list[Tensor], config) -> nn.optim.Optimizer:
        return nn.optim.Adam(params, lr=config.lr, b1=config.beta1, b2=config.beta2,
                             eps=config.eps)


class RNN(_Reviews):
    """docs/benchmarks.md §3: embedding -> GRU (cuDNN formulation, `GRU` above) -> last step ->
    dense. Embedding N(0, 1) and GRU U(+-1/sqrt(100)) as PyTorch's defaults (tinygrad's
    Embedding is Glorot-uniform); the dense layer Glorot."""

    # == model ==
    class Classifier:
        def __init__(self, config: RNNConfig) -> None:
            self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
            self.embedding.weight = Tensor.randn(config.vocab_size, config.embedding_dim)
            self.gru = GRU(config.embedding_dim, config.hidden)
            self.fc = glorot(nn.Linear(config.hidden, config.n_classes))

        def __call__(self, tokens: Tensor) -> Tensor:
            outputs = self.gru(self.embedding(tokens))  # initial state: zeros
            return self.fc(outputs[:, -1])  # the last time step, padding included

    def make_model(self, config: RNNConfig) -> Classifier:
        return self.Classifier(config)

    def info(self) -> RunInfo:
        run = super().info()
        run.cudnn = False  # a cell of tensor operations, no fused GRU kernel
        return run

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        embedded = self.model.embedding(self.inputs(x))
        outputs = self.model.gru(embedded)
        return {"embedding": embedded.numpy(), "gru": outputs.numpy(),
                "fc": self.model.fc(outputs[:, -1]).numpy()}


class Transformer(_Reviews):
    """docs/benchmarks.md §3b: token + position embedding -> 2 pre-LayerNorm encoder blocks ->
    LayerNorm -> mean over positions -> dense, attention by `Tensor.scaled_dot_product_attention`.
    Embeddings N(0, 0.02), dense layers Glorot with zero biases, LayerNorm 1 and 0."""

    # == model ==
    class SelfAttention:
        def __init__(self, c: TransformerConfig) -> None:
            self.heads = c.heads
            self.query, self.key, self.value, self.out = (glorot(nn.Linear(c.d_model, c.d_model))
                                                          for _ in range(4))

        def __call__(self, x: Tensor) -> Tensor:
            n, t, d = x.shape
            q, k, v = (proj(x).reshape(n, t, self.heads, d // self.heads).transpose(1, 2)
                       for proj in (self.query, self.key, self.value))  # (N, heads, T, 32)
            context = q.scaled_dot_product_attention(k, v)  # no mask: padding is content
            return self.out(context.transpose(1, 2).reshape(n, t, d))

    class MLP:
        def __init__(self, c: TransformerConfig) -> None:
            self.fc1 = glorot(nn.Linear(c.d_model, c.mlp_dim))
            self.fc2 = glorot(nn.Linear(c.mlp_dim, c.d_model))

        def __call__(self, x: Tensor) -> Tensor:
            # exact GELU, x * Phi(x) with erf (tinygrad's default is the tanh approximation;
            # its erf is Abramowitz-Stegun 7.1.26, within 1.5e-7 of erf). Contiguous: else the
            # scheduler fuses the GELU into fc2's weight-gradient reduction and recomputes it
            # for each of its 128 outputs (the MLP's step 9x slower on the CPU)
            return self.fc2(self.fc1(x).gelu(approximate="none").contiguous())

    class Block:
        def __init__(self, c: TransformerConfig) -> None:
            self.ln1 = nn.LayerNorm(c.d_model, eps=c.ln_eps)
            self.attn = Transformer.SelfAttention(c)
            self.ln2 = nn.LayerNorm(c.d_model, eps=c.ln_eps)
            self.mlp = Transformer.MLP(c)

        def __call__(self, x: Tensor) -> Tensor:
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class Classifier:
        def __init__(self, c: TransformerConfig) -> None:
            self.embedding = nn.Embedding(c.vocab_size, c.d_model)
            self.position = nn.Embedding(c.seq_len, c.d_model)
            for table in (self.embedding, self.position):  # §3b: N(0, 0.02)
                table.weight = Tensor.normal(*table.weight.shape, std=0.02)
            self.blocks = [Transformer.Block(c) for _ in range(c.blocks)]
            self.ln_f = nn.LayerNorm(c.d_model, eps=c.ln_eps)
            self.fc = glorot(nn.Linear(c.d_model, c.n_classes))

        def embed(self, tokens: Tensor) -> Tensor:
            return self.embedding(tokens) + self.position(Tensor.arange(tokens.shape[1]))

        def __call__(self, tokens: Tensor) -> Tensor:
            x = self.embed(tokens).sequential(self.blocks)
            return self.fc(self.ln_f(x).mean(axis=1))  # the mean over all 150 positions

    def make_model(self, config: TransformerConfig) -> Classifier:
        return self.Classifier(config)

    def info(self) -> RunInfo:
        run = super().info()
        run.attention = "Tensor.scaled_dot_product_attention: matmul, softmax (tinygrad kernels)"
        return run

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        m, out = self.model, {}
        h = m.embed(self.inputs(x))
        out["embedding"] = h.numpy()
        for i, block in enumerate(m.blocks):
            h = block(h)
            out[f"blocks.{i}"] = h.numpy()
        pooled = m.ln_f(h).mean(axis=1)
        out["pooled"], out["fc"] = pooled.numpy(), m.fc(pooled).numpy()
        return out


class Bottleneck:
    """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 convolution."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: bool = False) -> None:
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm(planes * 4)
        self.downsample = ([nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                            nn.BatchNorm(planes * 4)] if downsample else [])

    def __call__(self, x: Tensor) -> Tensor:
        identity = x.sequential(self.downsample)
        out = self.bn1(self.conv1(x)).relu()
        out = self.bn2(self.conv2(out)).relu()
        return (self.bn3(self.conv3(out)) + identity).relu()


class ResNet50:
    """torchvision.models.resnet50's layers and names, cut after the global average pool."""

    def __init__(self) -> None:
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm(64)
        inplanes = 64
        for i, (planes, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2),
                                                      (512, 3, 2)), start=1):
            stage = [Bottleneck(inplanes, planes, stride, downsample=True)]
            inplanes = planes * 4
            stage += [Bottleneck(inplanes, planes) for _ in range(blocks - 1)]
            setattr(self, f"layer{i}", stage)

    def layers(self) -> list[tuple[str, object]]:
        named = [("conv1", self.conv1), ("bn1", self.bn1), ("relu", Tensor.relu),
                 ("maxpool", lambda x: x.max_pool2d(3, stride=2, padding=1))]
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            named += [(f"{stage}.{i}", block) for i, block in enumerate(getattr(self, stage))]
        return named + [("avgpool", lambda x: x.mean(axis=(2, 3)))]  # (N, 2048)

    def __call__(self, x: Tensor) -> Tensor:
        return x.sequential([layer for _, layer in self.layers()])


class ResNet50Features(_TinygradRun, InferenceImplementation):
    """ResNet-50 v1.5 (docs/benchmarks.md §4), batch-norm in inference mode (running statistics:
    TRAINING is off), cut after global average pooling; the forward pass under TinyJit."""

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.images = images  # NCHW already; batches are copied to the device per call
        self.device  # noqa: B018

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        Tensor.manual_seed(seed)
        self.model = ResNet50()  # tinygrad's own initialisation unless weights are given
        if weights is not None:
            import_weights(self.model, {k: v for k, v in weights.items()
                                        if not k.startswith("fc.")})
        self.forward = TinyJit(lambda x: self.model(x).realize())
        self._produced = list(parameters(self.model).values())

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        return self.outputs(self.forward(Tensor(self.images[start:stop], device=self.device)).numpy())

    def activations(self, images: np.ndarray) -> dict[str, np.ndarray]:
        out, h = {}, Tensor(images, device=self.device)
        for name, layer in self.model.layers():
            h = layer(h)
            out[name] = h.numpy()
        return out

