"""Chainer: the CNN, the GRU, the Transformer and ResNet-50 features, in Chainer's define-by-run
idiom (fp32).

Runs in its own environment (`python -m harness setup chainer`: Chainer 7.8.1, numpy < 2).
On a CPU Chainer computes with NumPy; a GPU needs CuPy, and Chainer 7.8.1 asks for CuPy 7.x,
which has no wheel for Python 3.11 and no build for CUDA 12 (untried here: see the report).
Data stay on the host and each batch is sent to the device per step.

The GRU is `L.NStepGRU`, Chainer's cuDNN-backed GRU. Its formulation is the cuDNN one docs/benchmarks.md §3
asks for (checked in chainer/functions/rnn/n_step_gru.py: h_bar = tanh(W2 x + b2 + r * (W5 h +
b5)), reset applied after the recurrent matmul), with six weight and six bias arrays: w0, w1, w2
the input blocks r, z, n, w3, w4, w5 the recurrent ones. `L.GRU`/`L.StatefulGRU` apply the reset
before the matmul (tanh(W x + U (r * h))) and would be a different network.

The Transformer's attention is written out with `F.matmul` on (N, heads, T, 32) arrays: Chainer
has no attention layer. Its GELU is written out too, with `F.erf` (Chainer 7.8 has no F.gelu),
whose CPU forward is SciPy's erf where SciPy imports and a Python loop otherwise (`info()` says
which ran).

ResNet-50 is torchvision's v1.5, defined below; Chainer's own `ResNet50Layers` is v1 (stride
on the first 1x1) and about 11.6 s a batch of 32 on 2 CPU cores.
"""

from __future__ import annotations

import importlib.util

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers, optimizers

from harness.config import CNNConfig, InferenceConfig, RNNConfig, TransformerConfig
from harness.interface import (
    InferenceImplementation,
    RunInfo,
    TrainingData,
    TrainingImplementation,
)
from harness.precision import OutputPrecision


def resolve_device(requested: str) -> chainer.backend.Device:
    gpu = chainer.backends.cuda.available
    if requested == "cuda" and not gpu:
        raise RuntimeError("--device cuda was asked for, but Chainer finds no CuPy/GPU "
                           "(chainer.backends.cuda.available is False)")
    if requested == "auto":
        requested = "cuda" if gpu else "cpu"
    return chainer.get_device("@cupy:0" if requested == "cuda" else "@numpy")


def strict_fp32() -> str:
    """Strict fp32 the Chainer way: cuDNN never in tensor-core math (on the CPU NumPy computes
    fp32 with or without it). Returns what is in effect."""
    chainer.global_config.use_cudnn_tensor_core = "never"
    return f"chainer.config.use_cudnn_tensor_core={chainer.config.use_cudnn_tensor_core}"


class _ChainerRun(OutputPrecision):
    """Device, synchronisation and the run's description, shared by the three benchmarks."""

    requested_device: str

    @property
    def device(self) -> chainer.backend.Device:
        if not hasattr(self, "_device"):
            self._device = resolve_device(self.requested_device)
            if self.strict:
                self.strict_settings = strict_fp32()
        return self._device

    @property
    def on_gpu(self) -> bool:
        return self.device.xp is not np

    def sync(self) -> None:
        if self.on_gpu:  # NumPy is synchronous; CuPy queues kernels on its stream
            chainer.backends.cuda.cupy.cuda.Device().synchronize()

    def matmul(self, n: int):
        xp = self.device.xp
        a, b = (xp.random.rand(n, n).astype(xp.float32) for _ in range(2))

        def multiply() -> None:
            xp.matmul(a, b)
            self.sync()
        return multiply

    def device_memory_peak(self) -> int | None:
        return None  # CuPy's memory pool says what it holds now, not its high-water mark

    def info(self) -> RunInfo:
        return RunInfo(
            framework="Chainer",
            framework_version=chainer.__version__,
            device="cuda" if self.on_gpu else "cpu",
            device_name=str(self.device),
            precision=self.precision_record("", "fp32"),
            extra={"numpy": np.__version__,
                   "cudnn_enabled": bool(chainer.backends.cuda.cudnn_enabled),
                   "ideep": chainer.backends.intel64.is_ideep_available()},
        )


def to_canonical(path: str) -> str:
    """Chainer's "/conv1/W" -> PyTorch's "conv1.weight" (BN: gamma/beta -> weight/bias)."""
    *links, leaf = path.strip("/").split("/")
    leaf = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias",
            "avg_mean": "running_mean", "avg_var": "running_var"}[leaf]
    return ".".join([*links, leaf])


def named_arrays(model: chainer.Link) -> dict[str, tuple[chainer.Link, str]]:
    """Canonical name -> (link, attribute) for every parameter and batch-norm statistic."""
    found = {}
    for path, link in model.namedlinks():
        names = [name for name, _ in link.namedparams(include_uninit=False)
                 if name.count("/") == 1]  # the link's own parameters, not its children's
        names = [name.strip("/") for name in names]
        if isinstance(link, L.BatchNormalization):
            names += ["avg_mean", "avg_var"]
        for name in names:
            found[to_canonical(f"{path}/{name}")] = (link, name)
    return found


def load_canonical(model: chainer.Link, params: dict[str, np.ndarray]) -> None:
    for name, (link, attribute) in named_arrays(model).items():
        value = np.asarray(params[name], dtype=np.float32)
        target = getattr(link, attribute)
        if isinstance(target, chainer.Parameter):
            target.array[...] = target.xp.asarray(value.reshape(target.shape))
        else:
            target[...] = link.xp.asarray(value.reshape(target.shape))


def export_canonical(model: chainer.Link) -> dict[str, np.ndarray]:
    out = {}
    for name, (link, attribute) in named_arrays(model).items():
        value = getattr(link, attribute)
        out[name] = chainer.backend.CpuDevice().send(
            value.array if isinstance(value, chainer.Parameter) else value).copy()
    return out


class CNN(_ChainerRun, TrainingImplementation):
    """docs/benchmarks.md §2: VGG-style CNN on CIFAR-10, MomentumSGD (heavy-ball)."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        # NCHW float32 and int32 labels are Chainer's layout and dtypes already.
        self.x_train, self.y_train = data.x_train, data.y_train
        self.x_test = data.x_test

    # == model ==
    class VGGish(chainer.Chain):
        def __init__(self, n_classes: int) -> None:
            super().__init__()
            glorot = initializers.GlorotUniform()  # biases: Chainer's default, zeros
            with self.init_scope():
                self.conv1 = L.Convolution2D(3, 50, ksize=3, pad=1, initialW=glorot)
                self.conv2 = L.Convolution2D(50, 50, ksize=3, pad=1, initialW=glorot)
                self.conv3 = L.Convolution2D(50, 100, ksize=3, pad=1, initialW=glorot)
                self.conv4 = L.Convolution2D(100, 100, ksize=3, pad=1, initialW=glorot)
                self.fc1 = L.Linear(100 * 8 * 8, 512, initialW=glorot)  # flattens C,H,W
                self.fc2 = L.Linear(512, n_classes, initialW=glorot)

        def forward(self, x):
            h = F.relu(self.conv1(x))
            # cover_all=False: the usual floor((n - k) / s) + 1 output size.
            h = F.relu(F.max_pooling_2d(self.conv2(h), 2, stride=2, cover_all=False))
            h = F.dropout(h, 0.25)  # active only under chainer.config.train
            h = F.relu(self.conv3(h))
            h = F.relu(F.max_pooling_2d(self.conv4(h), 2, stride=2, cover_all=False))
            h = F.dropout(h, 0.25)
            h = F.dropout(F.relu(self.fc1(h)), 0.5)
            return self.fc2(h)  # logits: softmax is in the loss

    def build(self, config: CNNConfig, seed: int) -> None:
        self.config = config
        np.random.seed(seed)  # Chainer's initializers and dropout draw from NumPy's generator
        self.model = self.VGGish(config.n_classes)
        self.model.to_device(self.device)

        # == loss and optimizer ==
        self.loss_fn = F.softmax_cross_entropy  # mean over the batch
        self.make_optimizer()

    def make_optimizer(self) -> None:
        # Chainer's MomentumSGD: v <- 0.9 v - lr g; w <- w + v, heavy-ball at a fixed lr.
        self.optimizer = optimizers.MomentumSGD(lr=self.config.lr, momentum=self.config.momentum)
        self.optimizer.setup(self.model)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        with chainer.using_config("train", True):
            for idx in order.reshape(-1, self.config.batch_size):
                x = self.device.send(self.x_train[idx])
                y = self.device.send(self.y_train[idx])
                self.optimizer.update(lambda: self.loss_fn(self.model(x), y))

    # == prediction ==
    def predict(self) -> np.ndarray:
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            return self.outputs(np.concatenate([
                chainer.backend.CpuDevice().send(self.model(self.device.send(
                    self.x_test[i:i + self.config.batch_size])).array)
                for i in range(0, len(self.x_test), self.config.batch_size)]))

    # == verification ==
    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        load_canonical(self.model, params)
        self.make_optimizer()  # fresh momentum

    def get_weights(self) -> dict[str, np.ndarray]:
        return export_canonical(self.model)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        with chainer.using_config("train", False):  # gradients, but dropout off
            loss = self.loss_fn(self.model(self.device.send(x)), self.device.send(y))
            self.model.cleargrads()
            loss.backward()
            self.optimizer.update()
        return float(loss.array)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        m, out = self.model, {}

        def pool(h):
            return F.max_pooling_2d(h, 2, stride=2, cover_all=False)

        with chainer.using_config("train", False), chainer.no_backprop_mode():
            h = self.device.send(x)
            for name, step in (("conv1", m.conv1), ("relu1", F.relu), ("conv2", m.conv2),
                               ("pool1", pool), ("relu2", F.relu), ("conv3", m.conv3),
                               ("relu3", F.relu), ("conv4", m.conv4), ("pool2", pool),
                               ("relu4", F.relu), ("flatten", lambda v: F.reshape(v, (len(x), -1))),
                               ("fc1", m.fc1), ("relu5", F.relu), ("fc2", m.fc2)):
                h = step(h)
                out[name] = chainer.backend.CpuDevice().send(h.array)
        return out


class AdamEpsAfterCorrection(optimizers.Adam):
    """docs/benchmarks.md §3's Adam (Kingma & Ba's Algorithm 1, PyTorch's): eps added to sqrt(v_hat).

    Chainer's Adam folds both bias corrections into the step size and adds eps to sqrt(v), an
    effective eps of 1e-8 / sqrt(1 - beta2^t) (3.2e-7 at step 1); most embedding gradients of
    this GRU are below 1e-6, so that moves their updates by up to 40% (harness verify measures
    it). Scaling eps by sqrt(1 - beta2^t) each step gives exactly PyTorch's update."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base_eps = self.eps

    def update(self, lossfun=None, *args, **kwargs):
        # Every parameter's update rule shares this eps and steps with the optimizer: t + 1.
        self.eps = self.base_eps * (1.0 - self.beta2 ** (self.t + 1)) ** 0.5
        return super().update(lossfun, *args, **kwargs)


class TokenClassifier(_ChainerRun, TrainingImplementation):
    """What the GRU and the Transformer rows share (docs/benchmarks.md §3, §3b): the token data,
    PyTorch's Adam, the training loop, prediction and the verify step. A subclass builds
    `self.model` and `self.loss_fn` and sets `self.config`."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.x_train, self.y_train = data.x_train, data.y_train  # int32 ids and labels
        self.x_test = data.x_test

    # == loss and optimizer ==
    def make_optimizer(self) -> None:
        self.optimizer = AdamEpsAfterCorrection(alpha=self.config.lr, beta1=self.config.beta1,
                                                beta2=self.config.beta2, eps=self.config.eps)
        self.optimizer.setup(self.model)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        with chainer.using_config("train", True):
            for idx in order.reshape(-1, self.config.batch_size):
                x = self.device.send(self.x_train[idx])
                y = self.device.send(self.y_train[idx])
                self.optimizer.update(lambda: self.loss_fn(self.model(x), y))

    # == prediction ==
    def predict(self) -> np.ndarray:
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            return self.outputs(np.concatenate([
                chainer.backend.CpuDevice().send(self.model(self.device.send(
                    self.x_test[i:i + self.config.batch_size])).array)
                for i in range(0, len(self.x_test), self.config.batch_size)]))

    # == verification ==
    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        with chainer.using_config("train", False):
            loss = self.loss_fn(self.model(self.device.send(x)), self.device.send(y))
            self.model.cleargrads()
            loss.backward()
            self.optimizer.update()
        return float(loss.array)


class RNN(TokenClassifier):
    """docs/benchmarks.md §3: EmbedID -> NStepGRU -> last step -> Linear, Adam.

    Initialisation follows the PyTorch row: embedding N(0, 1) (Chainer's EmbedID default), GRU
    U(-1/sqrt(H), 1/sqrt(H)) for weights and biases, dense Glorot uniform with zero bias."""

    # == model ==
    class GRUClassifier(chainer.Chain):
        def __init__(self, config: RNNConfig) -> None:
            super().__init__()
            recurrent = initializers.Uniform(1 / np.sqrt(config.hidden))
            with self.init_scope():
                self.embedding = L.EmbedID(config.vocab_size, config.embedding_dim)
                self.gru = L.NStepGRU(1, config.embedding_dim, config.hidden, dropout=0.0,
                                      initialW=recurrent, initial_bias=recurrent)
                self.fc = L.Linear(config.hidden, config.n_classes,
                                   initialW=initializers.GlorotUniform())

        def forward(self, tokens):
            # NStepGRU takes a list of sequences; every review has all 150 steps (padding
            # included), so the final state hy[0] is the output at the last time step.
            hy, _ = self.gru(None, F.separate(self.embedding(tokens), axis=0))  # h0: zeros
            return self.fc(hy[0])

    def build(self, config: RNNConfig, seed: int) -> None:
        self.config = config
        np.random.seed(seed)
        self.model = self.GRUClassifier(config)
        self.model.to_device(self.device)

        # == loss and optimizer ==
        self.loss_fn = F.softmax_cross_entropy
        self.make_optimizer()

    # == verification ==
    def info(self) -> RunInfo:
        run = super().info()
        # NStepGRU calls cuDNN's fused RNN when on a GPU with cuDNN enabled (use_cudnn "auto").
        run.cudnn = self.on_gpu and bool(chainer.backends.cuda.cudnn_enabled)
        run.extra["gru"] = "L.NStepGRU, gates r,z,n, reset after"
        return run

    # Canonical GRU blocks (gates r, z, n) <- Chainer's per-gate arrays w0..w5, b0..b5.
    GATES = {"gru.weight_ih_l0": ("w0", "w1", "w2"), "gru.weight_hh_l0": ("w3", "w4", "w5"),
             "gru.bias_ih_l0": ("b0", "b1", "b2"), "gru.bias_hh_l0": ("b3", "b4", "b5")}

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        m, xp = self.model, self.device.xp
        m.embedding.W.array[...] = xp.asarray(params["embedding.weight"])
        m.fc.W.array[...] = xp.asarray(params["fc.weight"])
        m.fc.b.array[...] = xp.asarray(params["fc.bias"])
        layer = m.gru[0]
        for name, parts in self.GATES.items():
            for part, block in zip(parts, np.split(np.asarray(params[name], np.float32), 3)):
                getattr(layer, part).array[...] = xp.asarray(block)
        self.make_optimizer()

    def get_weights(self) -> dict[str, np.ndarray]:
        m, cpu = self.model, chainer.backend.CpuDevice()
        out = {"embedding.weight": cpu.send(m.embedding.W.array).copy(),
               "fc.weight": cpu.send(m.fc.W.array).copy(), "fc.bias": cpu.send(m.fc.b.array).copy()}
        layer = m.gru[0]
        for name, parts in self.GATES.items():
            out[name] = np.concatenate([cpu.send(getattr(layer, p).array) for p in parts])
        return out

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        m, cpu = self.model, chainer.backend.CpuDevice()
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            embedded = m.embedding(self.device.send(x))
            _, ys = m.gru(None, F.separate(embedded, axis=0))
            outputs = F.stack(ys)
            logits = m.fc(outputs[:, -1])
        return {"embedding": cpu.send(embedded.array), "gru": cpu.send(outputs.array),
                "fc": cpu.send(logits.array)}


def gelu(x: chainer.Variable) -> chainer.Variable:
    """The exact GELU, x * Phi(x): Chainer 7.8 has no F.gelu."""
    return x * 0.5 * (1.0 + F.erf(x * (1.0 / np.sqrt(2.0))))


class Transformer(TokenClassifier):
    """docs/benchmarks.md §3b: token + position embedding -> 2 pre-LayerNorm encoder blocks ->
    LayerNorm -> mean over positions -> dense, attention written out with `F.matmul`.

    Link paths are the canonical names (L.LayerNormalization's gamma/beta map to weight/bias)."""

    # == model ==
    class SelfAttention(chainer.Chain):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            self.heads, self.scale = c.heads, 1.0 / np.sqrt(c.head_dim)
            with self.init_scope():
                self.query, self.key, self.value, self.out = (
                    L.Linear(c.d_model, c.d_model, initialW=initializers.GlorotUniform())
                    for _ in range(4))

        def forward(self, x):
            n, t, d = x.shape
            q, k, v = (F.transpose(F.reshape(proj(x, n_batch_axes=2),
                                             (n, t, self.heads, d // self.heads)), (0, 2, 1, 3))
                       for proj in (self.query, self.key, self.value))  # (N, heads, T, 32)
            weights = F.softmax(F.matmul(q, k, transb=True) * self.scale, axis=-1)
            context = F.reshape(F.transpose(F.matmul(weights, v), (0, 2, 1, 3)), (n, t, d))
            return self.out(context, n_batch_axes=2)  # no mask: padding is content

    class MLP(chainer.Chain):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            with self.init_scope():
                self.fc1 = L.Linear(c.d_model, c.mlp_dim, initialW=initializers.GlorotUniform())
                self.fc2 = L.Linear(c.mlp_dim, c.d_model, initialW=initializers.GlorotUniform())

        def forward(self, x):
            return self.fc2(gelu(self.fc1(x, n_batch_axes=2)), n_batch_axes=2)

    @staticmethod
    def layer_norm(ln: L.LayerNormalization, x: chainer.Variable) -> chainer.Variable:
        # Chainer's layer normalisation takes (batch, features) only: positions join the batch.
        return F.reshape(ln(F.reshape(x, (-1, x.shape[-1]))), x.shape)

    class Block(chainer.Chain):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            with self.init_scope():  # Chainer's LayerNormalization eps default is 1e-6
                self.ln1 = L.LayerNormalization(c.d_model, eps=c.ln_eps)
                self.attn = Transformer.SelfAttention(c)
                self.ln2 = L.LayerNormalization(c.d_model, eps=c.ln_eps)
                self.mlp = Transformer.MLP(c)

        def forward(self, x):
            x = x + self.attn(Transformer.layer_norm(self.ln1, x))
            return x + self.mlp(Transformer.layer_norm(self.ln2, x))

    class Classifier(chainer.Chain):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            table = initializers.Normal(0.02)  # §3b: both embeddings N(0, 0.02)
            with self.init_scope():
                self.embedding = L.EmbedID(c.vocab_size, c.d_model, initialW=table)
                self.position = L.EmbedID(c.seq_len, c.d_model, initialW=table)
                self.blocks = chainer.ChainList(*(Transformer.Block(c) for _ in range(c.blocks)))
                self.ln_f = L.LayerNormalization(c.d_model, eps=c.ln_eps)
                self.fc = L.Linear(c.d_model, c.n_classes, initialW=initializers.GlorotUniform())

        def embed(self, tokens):
            positions = self.position(self.xp.arange(tokens.shape[1], dtype=np.int32))
            return self.embedding(tokens) + positions[None]  # (N, T, D) + (1, T, D)

        def pool(self, x):
            return F.mean(Transformer.layer_norm(self.ln_f, x), axis=1)  # all 150 positions

        def forward(self, tokens):
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return self.fc(self.pool(x))

    def build(self, config: TransformerConfig, seed: int) -> None:
        self.config = config
        np.random.seed(seed)  # Chainer's initializers draw from NumPy's generator
        self.model = self.Classifier(config)  # Linear biases zeros, LayerNorm 1 and 0: defaults
        self.model.to_device(self.device)

        # == loss and optimizer ==
        self.loss_fn = F.softmax_cross_entropy
        self.make_optimizer()

    # == verification ==
    def info(self) -> RunInfo:
        run = super().info()
        run.attention = "F.matmul (written out)"
        # F.erf (the GELU's) runs SciPy's erf on a CPU where SciPy imports, else math.erf one
        # element at a time (Chainer warns): about 6 s per block per batch of 64 on 2 cores.
        run.extra["erf"] = ("CuPy" if self.on_gpu else "scipy.special.erf"
                            if importlib.util.find_spec("scipy") else "math.erf per element")
        return run

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        load_canonical(self.model, params)
        self.make_optimizer()  # fresh optimizer state

    def get_weights(self) -> dict[str, np.ndarray]:
        return export_canonical(self.model)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        m, out = self.model, {}
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            h = out["embedding"] = m.embed(self.device.send(x))
            for i, block in enumerate(m.blocks):
                h = out[f"blocks.{i}"] = block(h)
            out["pooled"] = m.pool(h)
            out["fc"] = m.fc(out["pooled"])
        return {name: chainer.backend.CpuDevice().send(v.array) for name, v in out.items()}


class Bottleneck(chainer.Chain):
    """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 convolution."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: bool = False) -> None:
        super().__init__()
        he = initializers.HeNormal(fan_option="fan_out")  # torchvision's initialisation
        with self.init_scope():
            self.conv1 = L.Convolution2D(inplanes, planes, 1, nobias=True, initialW=he)
            self.bn1 = L.BatchNormalization(planes, eps=1e-5)  # torchvision's eps
            self.conv2 = L.Convolution2D(planes, planes, 3, stride=stride, pad=1, nobias=True,
                                         initialW=he)
            self.bn2 = L.BatchNormalization(planes, eps=1e-5)
            self.conv3 = L.Convolution2D(planes, planes * 4, 1, nobias=True, initialW=he)
            self.bn3 = L.BatchNormalization(planes * 4, eps=1e-5)
            self.downsample = chainer.Sequential(
                L.Convolution2D(inplanes, planes * 4, 1, stride=stride, nobias=True,
                                initialW=he),
                L.BatchNormalization(planes * 4, eps=1e-5)) if downsample else None

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + identity)


class ResNet50(chainer.Chain):
    """torchvision.models.resnet50 up to and including the global average pool (no fc)."""

    def __init__(self) -> None:
        super().__init__()
        with self.init_scope():
            self.conv1 = L.Convolution2D(3, 64, 7, stride=2, pad=3, nobias=True,
                                         initialW=initializers.HeNormal(fan_option="fan_out"))
            self.bn1 = L.BatchNormalization(64, eps=1e-5)
            inplanes = 64
            for i, (planes, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2),
                                                          (512, 3, 2)), start=1):
                stage = chainer.ChainList(Bottleneck(inplanes, planes, stride, downsample=True))
                inplanes = planes * 4
                for _ in range(blocks - 1):
                    stage.add_link(Bottleneck(inplanes, planes))
                setattr(self, f"layer{i}", stage)

    @staticmethod
    def maxpool(h):
        return F.max_pooling_2d(h, 3, stride=2, pad=1, cover_all=False)  # torch's output size

    def forward(self, x):
        h = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in stage:
                h = block(h)
        return F.mean(h, axis=(2, 3))  # global average pool: (N, 2048)


class ResNet50Features(_ChainerRun, InferenceImplementation):
    """ResNet-50 v1.5 (docs/benchmarks.md §4), batch-norm in inference mode, cut after global
    average pooling."""

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.images = images  # NCHW float32 already; each batch is sent per call

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        np.random.seed(seed)
        self.model = ResNet50()
        if weights is not None:
            load_canonical(self.model, weights)  # fc.* and num_batches_tracked are not used
        self.model.to_device(self.device)

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        # train=False: batch-norm uses its running statistics.
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            features = self.model(self.device.send(self.images[start:stop]))
        return self.outputs(chainer.backend.CpuDevice().send(features.array))

    # == verification ==
    def info(self) -> RunInfo:
        run = super().info()
        run.extra["resnet50"] = "chainer.Chain, torchvision v1.5 layout"
        return run

    def activations(self, images: np.ndarray) -> dict[str, np.ndarray]:
        m, out, cpu = self.model, {}, chainer.backend.CpuDevice()
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            h = self.device.send(images)
            for name, step in (("conv1", m.conv1), ("bn1", m.bn1), ("relu", F.relu),
                               ("maxpool", m.maxpool)):
                h = step(h)
                out[name] = cpu.send(h.array)
            for i in range(1, 5):
                for j, block in enumerate(getattr(m, f"layer{i}")):
                    h = block(h)
                    out[f"layer{i}.{j}"] = cpu.send(h.array)
            out["avgpool"] = cpu.send(F.mean(h, axis=(2, 3)).array)
        return out
