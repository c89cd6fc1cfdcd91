"""MXNet Gluon: the CNN, the GRU, the Transformer and ResNet-50 features, as hybridized Gluon
blocks (fp32).

Runs in its own environment (`python -m harness setup mxnet`: MXNet 1.9.1, numpy 1.23.5), since
MXNet needs numpy < 2. Data stay on the host as NumPy arrays and each batch is copied to the
device per step, as in the PyTorch row. MXNet's engine is asynchronous: `sync()` is
`mx.nd.waitall()`, which the harness calls at every phase boundary.

The GRU is `gluon.rnn.GRU`, the fused RNN operator (cuDNN on a GPU, a fused CPU kernel
otherwise). Its formulation is the cuDNN one docs/benchmarks.md §3 asks for, gate blocks in the order r, z, n,
reset applied after the recurrent matmul: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), with
separate input and recurrent biases - PyTorch's layout, so canonical weights load unchanged.

The Transformer's attention is written out with `F.batch_dot` (Gluon 1.9 has no attention
layer; GluonNLP's fused `contrib.interleaved_matmul_selfatt_*` operators are a separate
library's and not used). Its GELU, `nn.GELU` (`LeakyReLU(act_type="gelu")`), is the exact erf
form docs/benchmarks.md §3b asks for: measured within 4e-7 of x * Phi(x), 4e-4 off the tanh one.

ResNet-50 is defined here as torchvision's v1.5 (stride on the 3x3 convolution): Gluon's
model-zoo `resnet50_v1` is v1 (stride on the first 1x1) and is not used.
"""

from __future__ import annotations

import os

# == compatibility shims (the only ones; MXNet 1.9.1 is retired upstream) ==
# MXNet 1.9.1 uses `np.bool`, removed in numpy 1.24 ("module 'numpy' has no attribute 'bool'").
# The mxnet environment pins numpy 1.23.5, which still has it; restoring the alias lets the same
# code import under a newer numpy < 2 too. It must run before `import mxnet`.
import numpy as np

if "bool" not in np.__dict__:
    np.bool = bool  # type: ignore[attr-defined]

import mxnet as mx  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402
from mxnet.gluon import nn  # noqa: E402

from harness.config import (  # noqa: E402
    CNNConfig,
    InferenceConfig,
    RNNConfig,
    TransformerConfig,
)
from harness.interface import (  # noqa: E402
    InferenceImplementation,
    RunInfo,
    TrainingData,
    TrainingImplementation,
)
from harness.precision import OutputPrecision  # noqa: E402


def resolve_context(requested: str) -> mx.Context:
    gpus = mx.context.num_gpus()
    if requested == "cuda" and gpus == 0:
        raise RuntimeError("--device cuda was asked for, but MXNet sees no GPU (the mxnet "
                           "environment holds the CPU wheel; a GPU needs mxnet-cu112)")
    if requested == "auto":
        requested = "cuda" if gpus else "cpu"
    return mx.gpu(0) if requested == "cuda" else mx.cpu()


def strict_fp32() -> str:
    """Strict fp32 the MXNet way: no tensor-core math in its cuDNN and cuBLAS calls (MXNet reads
    the variable as each operator is set up, so before the model is built; the CPU computes fp32
    with or without it). Returns what is in effect."""
    os.environ["MXNET_CUDA_ALLOW_TENSOR_CORE"] = "0"
    return f"MXNET_CUDA_ALLOW_TENSOR_CORE={os.environ['MXNET_CUDA_ALLOW_TENSOR_CORE']}"


class MXNetRun(OutputPrecision):
    """Context, synchronisation and the run's description, shared by every MXNet row."""

    requested_device: str

    @property
    def ctx(self) -> mx.Context:
        if not hasattr(self, "_ctx"):
            self._ctx = resolve_context(self.requested_device)
            if self.strict:
                self.strict_settings = strict_fp32()
        return self._ctx

    def sync(self) -> None:
        mx.nd.waitall()  # MXNet's engine runs ahead of Python; this waits for all of it

    def matmul(self, n: int):
        # FullyConnected (x . w^T, the same 2n^3 FLOPs), not `dot`: on the CPU it runs on oneDNN
        # like the models' dense and convolution layers, while `dot` takes the bundled OpenBLAS,
        # which on one Intel Xeon reached 39 GFLOP/s beside convolutions at 64-67.
        a, b = (mx.nd.random.uniform(shape=(n, n), ctx=self.ctx) for _ in range(2))
        return lambda: mx.nd.FullyConnected(a, b, no_bias=True, num_hidden=n).wait_to_read()

    def device_memory_peak(self) -> int | None:
        return None  # MXNet 1.9 reports free and total GPU memory, no high-water mark

    def info(self) -> RunInfo:
        features = mx.runtime.Features()
        gpu = self.ctx.device_type == "gpu"
        return RunInfo(
            framework="MXNet",
            framework_version=mx.__version__,
            device="cuda" if gpu else "cpu",
            device_name=f"gpu({self.ctx.device_id})" if gpu else "cpu",
            precision=self.precision_record("", "fp32"),
            extra={
                "cudnn_enabled": features.is_enabled("CUDNN"),
                "mkldnn": features.is_enabled("MKLDNN"),
                "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset (all cores)"),
                "numpy": np.__version__,
                # Importing mxnet sets torch's thread count to 1 in the same process; irrelevant
                # here (one framework per child process), noted for anyone mixing them.
            },
        )


# Gluon's BatchNorm and LayerNorm call the scale and shift gamma and beta; PyTorch weight and bias
# (BatchNorm's running_mean and running_var have the same names in both).
NORM_NAMES = {"gamma": "weight", "beta": "bias"}


def copy_params(block: gluon.Block, params: dict[str, np.ndarray], rename: dict[str, str]) -> None:
    """Set every parameter of `block` from canonical (PyTorch-named) arrays."""
    own = block._collect_params_with_prefix()  # structured names: "layer1.0.conv1.weight"
    for name, param in own.items():
        param.set_data(mx.nd.array(params[canonical_name(name, rename)], dtype="float32"))


def canonical_name(gluon_name: str, rename: dict[str, str]) -> str:
    prefix, _, leaf = gluon_name.rpartition(".")
    return rename.get(gluon_name) or (f"{prefix}." if prefix else "") + rename.get(leaf, leaf)


def export_params(block: gluon.Block, rename: dict[str, str]) -> dict[str, np.ndarray]:
    return {canonical_name(name, rename): param.data().asnumpy().copy()
            for name, param in block._collect_params_with_prefix().items()}


GLOROT_UNIFORM = mx.init.Xavier(rnd_type="uniform", factor_type="avg", magnitude=3)  # docs/benchmarks.md §2


class CNN(MXNetRun, TrainingImplementation):
    """docs/benchmarks.md §2: VGG-style CNN on CIFAR-10, SGD with heavy-ball momentum."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        # NCHW float32 is MXNet's native layout; batches are gathered on the host and copied.
        self.x_train = data.x_train
        self.y_train = data.y_train.astype(np.float32)  # Gluon's losses take float labels
        self.x_test = data.x_test

    # == model ==
    class VGGish(gluon.HybridBlock):
        def __init__(self, n_classes: int, dropout: bool = True, **kwargs) -> None:
            super().__init__(**kwargs)
            keep = 1.0 if dropout else 0.0  # rate 0: Gluon's Dropout is the identity
            with self.name_scope():  # attribute names are the canonical layer names
                self.conv1 = nn.Conv2D(50, 3, padding=1, in_channels=3)
                self.conv2 = nn.Conv2D(50, 3, padding=1, in_channels=50)
                self.pool1 = nn.MaxPool2D(2, strides=2)
                self.drop1 = nn.Dropout(0.25 * keep)
                self.conv3 = nn.Conv2D(100, 3, padding=1, in_channels=50)
                self.conv4 = nn.Conv2D(100, 3, padding=1, in_channels=100)
                self.pool2 = nn.MaxPool2D(2, strides=2)
                self.drop2 = nn.Dropout(0.25 * keep)
                self.fc1 = nn.Dense(512, in_units=100 * 8 * 8)  # flattens C,H,W order
                self.drop3 = nn.Dropout(0.5 * keep)
                self.fc2 = nn.Dense(n_classes, in_units=512)  # logits: softmax is in the loss

        def hybrid_forward(self, F, x):
            x = F.relu(self.conv1(x))
            x = self.drop1(F.relu(self.pool1(self.conv2(x))))
            x = F.relu(self.conv3(x))
            x = self.drop2(F.relu(self.pool2(self.conv4(x))))
            x = self.drop3(F.relu(self.fc1(x)))
            return self.fc2(x)

    def build(self, config: CNNConfig, seed: int) -> None:
        self.config = config
        mx.random.seed(seed)
        self.net = self.VGGish(config.n_classes)
        self.net.initialize(GLOROT_UNIFORM, ctx=self.ctx)  # biases: zeros (Gluon's default)
        self.net.hybridize()

        # == loss and optimizer ==
        self.loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        self.make_trainer()

    def make_trainer(self) -> None:
        # MXNet's momentum: v <- 0.9 v - lr g; w <- w + v, the same steps as heavy-ball at a
        # fixed lr. `step(batch_size)` divides the summed per-sample gradients: the batch mean.
        self.trainer = gluon.Trainer(self.net.collect_params(), "sgd",
                                     {"learning_rate": self.config.lr,
                                      "momentum": self.config.momentum})

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        for idx in order.reshape(-1, self.config.batch_size):
            x = mx.nd.array(self.x_train[idx], ctx=self.ctx)
            y = mx.nd.array(self.y_train[idx], ctx=self.ctx)
            with autograd.record():  # training mode: dropout active
                loss = self.loss_fn(self.net(x), y)
            loss.backward()
            self.trainer.step(self.config.batch_size)

    # == prediction ==
    def predict(self) -> np.ndarray:
        # Outside autograd.record() Gluon runs in inference mode: dropout off.
        batches = range(0, len(self.x_test), self.config.batch_size)
        return self.outputs(np.concatenate([
            self.net(mx.nd.array(self.x_test[i:i + self.config.batch_size], ctx=self.ctx))
            .asnumpy() for i in batches]))

    # == verification ==
    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        copy_params(self.net, params, {})
        self.make_trainer()  # fresh optimizer state

    def get_weights(self) -> dict[str, np.ndarray]:
        return export_params(self.net, {})

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        # Dropout off through a twin network without dropout sharing the parameters, not
        # through autograd.record(train_mode=False): MXNet 1.9.1's MKL-DNN max-pooling has no
        # correct backward after an inference-mode forward (measured: conv gradients ~0).
        if not hasattr(self, "net_without_dropout"):
            self.net_without_dropout = self.VGGish(self.config.n_classes, dropout=False,
                                                   prefix=self.net.prefix,
                                                   params=self.net.collect_params())
            self.net_without_dropout.hybridize()
        x_nd = mx.nd.array(x, ctx=self.ctx)
        y_nd = mx.nd.array(y.astype(np.float32), ctx=self.ctx)
        with autograd.record():
            loss = self.loss_fn(self.net_without_dropout(x_nd), y_nd)
        loss.backward()
        self.trainer.step(len(x))
        return float(loss.mean().asscalar())

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        net, out = self.net, {}
        h = mx.nd.array(x, ctx=self.ctx)
        for name, step in (("conv1", net.conv1), ("relu1", mx.nd.relu), ("conv2", net.conv2),
                           ("pool1", net.pool1), ("relu2", mx.nd.relu), ("conv3", net.conv3),
                           ("relu3", mx.nd.relu), ("conv4", net.conv4), ("pool2", net.pool2),
                           ("relu4", mx.nd.relu), ("flatten", mx.nd.flatten), ("fc1", net.fc1),
                           ("relu5", mx.nd.relu), ("fc2", net.fc2)):
            h = step(h)
            out[name] = h.asnumpy()
        return out


class AdamEpsAfterCorrection(mx.optimizer.Adam):
    """docs/benchmarks.md §3's Adam (Kingma & Ba's Algorithm 1, PyTorch's): eps added to sqrt(v_hat).

    MXNet's Adam folds both bias corrections into the step size and adds eps to sqrt(v), an
    effective eps of 1e-8 / sqrt(1 - beta2^t) (3.2e-7 at step 1); most embedding gradients of
    this GRU are below 1e-6, so that moves their updates by up to 40% (harness verify measures
    it). Scaling eps by sqrt(1 - beta2^t) each step gives exactly PyTorch's update."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base_epsilon = self.epsilon

    def update(self, index, weight, grad, state):
        t = self._index_update_count.get(index, self.begin_num_update) + 1  # this step's t
        self.epsilon = self.base_epsilon * (1.0 - self.beta2 ** t) ** 0.5
        super().update(index, weight, grad, state)


class TokenClassifier(MXNetRun, TrainingImplementation):
    """What the GRU and the Transformer rows share (docs/benchmarks.md §3, §3b): the token data,
    PyTorch's Adam, the training loop, prediction and the verify step. A subclass builds
    `self.net` and `self.loss_fn` and sets `self.config`."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        # Gluon's Embedding takes float32 ids (exact below 2**24); converted once, here.
        self.x_train = data.x_train.astype(np.float32)
        self.y_train = data.y_train.astype(np.float32)
        self.x_test = data.x_test.astype(np.float32)

    # == loss and optimizer ==
    def make_trainer(self) -> None:
        adam = AdamEpsAfterCorrection(learning_rate=self.config.lr, beta1=self.config.beta1,
                                      beta2=self.config.beta2, epsilon=self.config.eps)
        self.trainer = gluon.Trainer(self.net.collect_params(), adam)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        for idx in order.reshape(-1, self.config.batch_size):
            x = mx.nd.array(self.x_train[idx], ctx=self.ctx)
            y = mx.nd.array(self.y_train[idx], ctx=self.ctx)
            with autograd.record():
                loss = self.loss_fn(self.net(x), y)
            loss.backward()
            self.trainer.step(self.config.batch_size)

    # == prediction ==
    def predict(self) -> np.ndarray:
        batches = range(0, len(self.x_test), self.config.batch_size)
        return self.outputs(np.concatenate([
            self.net(mx.nd.array(self.x_test[i:i + self.config.batch_size], ctx=self.ctx))
            .asnumpy() for i in batches]))

    # == verification ==
    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        x_nd = mx.nd.array(x.astype(np.float32), ctx=self.ctx)
        y_nd = mx.nd.array(y.astype(np.float32), ctx=self.ctx)
        with autograd.record():  # training mode; neither model has dropout
            loss = self.loss_fn(self.net(x_nd), y_nd)
        loss.backward()
        self.trainer.step(len(x))
        return float(loss.mean().asscalar())


class RNN(TokenClassifier):
    """docs/benchmarks.md §3: embedding -> fused GRU -> last step -> dense, Adam.

    Initialisation follows the PyTorch row: embedding N(0, 1), GRU U(-1/sqrt(H), 1/sqrt(H)) for
    weights and biases, dense Glorot uniform with zero bias."""

    # == model ==
    class GRUClassifier(gluon.HybridBlock):
        def __init__(self, config: RNNConfig, **kwargs) -> None:
            super().__init__(**kwargs)
            recurrent_init = mx.init.Uniform(1 / np.sqrt(config.hidden))
            with self.name_scope():
                self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim,
                                              weight_initializer=mx.init.Normal(1.0))
                self.gru = gluon.rnn.GRU(config.hidden, layout="NTC",
                                         input_size=config.embedding_dim,
                                         i2h_weight_initializer=recurrent_init,
                                         h2h_weight_initializer=recurrent_init,
                                         i2h_bias_initializer=recurrent_init,
                                         h2h_bias_initializer=recurrent_init)
                self.fc = nn.Dense(config.n_classes, in_units=config.hidden,
                                   weight_initializer=GLOROT_UNIFORM)

        def hybrid_forward(self, F, tokens):
            outputs = self.gru(self.embedding(tokens))  # (N, T, H); initial state zeros
            last = F.squeeze(F.slice_axis(outputs, axis=1, begin=-1, end=None), axis=1)
            return self.fc(last)  # the last time step, padding included

    def build(self, config: RNNConfig, seed: int) -> None:
        self.config = config
        mx.random.seed(seed)
        self.net = self.GRUClassifier(config)
        self.net.initialize(ctx=self.ctx)
        self.net.hybridize()

        # == loss and optimizer ==
        self.loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        self.make_trainer()

    # == verification ==
    def info(self) -> RunInfo:
        run = super().info()
        # gluon.rnn.GRU is the fused RNN operator: cuDNN on a GPU context, a CPU kernel here.
        run.cudnn = self.ctx.device_type == "gpu"
        run.extra["gru"] = "gluon.rnn.GRU (fused RNN op), gates r,z,n, reset after"
        return run

    # Canonical names of the GRU's parameters (Gluon: "l0_i2h_weight", gate blocks r, z, n).
    GRU_NAMES = {"gru.l0_i2h_weight": "gru.weight_ih_l0", "gru.l0_h2h_weight": "gru.weight_hh_l0",
                 "gru.l0_i2h_bias": "gru.bias_ih_l0", "gru.l0_h2h_bias": "gru.bias_hh_l0"}

    def gluon_params(self) -> dict[str, gluon.Parameter]:
        net = self.net
        own = {f"embedding.{k}": v for k, v in net.embedding._reg_params.items()}
        own.update({f"gru.{k}": v for k, v in net.gru._reg_params.items()})
        own.update({f"fc.{k}": v for k, v in net.fc._reg_params.items()})
        return own

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        for name, param in self.gluon_params().items():
            param.set_data(mx.nd.array(params[self.GRU_NAMES.get(name, name)], dtype="float32"))
        self.make_trainer()

    def get_weights(self) -> dict[str, np.ndarray]:
        return {self.GRU_NAMES.get(name, name): param.data().asnumpy().copy()
                for name, param in self.gluon_params().items()}

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        net = self.net
        embedded = net.embedding(mx.nd.array(x.astype(np.float32), ctx=self.ctx))
        outputs = net.gru(embedded)
        logits = net.fc(outputs[:, -1, :])
        return {"embedding": embedded.asnumpy(), "gru": outputs.asnumpy(),
                "fc": logits.asnumpy()}


class Transformer(TokenClassifier):
    """docs/benchmarks.md §3b: token + position embedding -> 2 pre-LayerNorm encoder blocks ->
    LayerNorm -> mean over positions -> dense, attention written out with `F.batch_dot`.

    Gluon's structured names are the canonical ones but for LayerNorm's gamma/beta."""

    # == model ==
    class SelfAttention(gluon.HybridBlock):
        def __init__(self, c: TransformerConfig, **kwargs) -> None:
            super().__init__(**kwargs)
            self.heads, self.scale = c.heads, 1.0 / np.sqrt(c.head_dim)
            with self.name_scope():  # flatten=False: applied to the last axis of (N, T, D)
                self.query, self.key, self.value, self.out = (
                    nn.Dense(c.d_model, flatten=False, in_units=c.d_model) for _ in range(4))

        def hybrid_forward(self, F, x):
            def split(h):  # (N, T, D) -> (N * heads, T, 32); head i: features 32i..32i+31
                h = F.transpose(F.reshape(h, shape=(0, 0, -4, self.heads, -1)), axes=(0, 2, 1, 3))
                return F.reshape(h, shape=(-3, 0, 0))

            q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
            weights = F.softmax(F.batch_dot(q, k, transpose_b=True) * self.scale, axis=-1)
            context = F.reshape(F.batch_dot(weights, v), shape=(-4, -1, self.heads, 0, 0))
            context = F.reshape(F.transpose(context, axes=(0, 2, 1, 3)), shape=(0, 0, -3))
            return self.out(context)  # no mask: padding is content

    class Block(gluon.HybridBlock):
        def __init__(self, c: TransformerConfig, **kwargs) -> None:
            super().__init__(**kwargs)
            with self.name_scope():
                self.ln1 = nn.LayerNorm(epsilon=c.ln_eps, in_channels=c.d_model)
                self.attn = Transformer.SelfAttention(c)
                self.ln2 = nn.LayerNorm(epsilon=c.ln_eps, in_channels=c.d_model)
                self.mlp = nn.HybridSequential()
                with self.mlp.name_scope():  # children named as PyTorch's mlp.fc1, mlp.fc2
                    for name, layer in (
                            ("fc1", nn.Dense(c.mlp_dim, flatten=False, in_units=c.d_model)),
                            ("gelu", nn.GELU()),  # LeakyReLU(act_type="gelu"): the erf form
                            ("fc2", nn.Dense(c.d_model, flatten=False, in_units=c.mlp_dim))):
                        self.mlp.register_child(layer, name)

        def hybrid_forward(self, F, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class Classifier(gluon.HybridBlock):
        def __init__(self, c: TransformerConfig, **kwargs) -> None:
            super().__init__(**kwargs)
            table = mx.init.Normal(0.02)  # §3b: both embeddings N(0, 0.02)
            with self.name_scope():
                self.embedding = nn.Embedding(c.vocab_size, c.d_model, weight_initializer=table)
                self.position = nn.Embedding(c.seq_len, c.d_model, weight_initializer=table)
                self.blocks = nn.HybridSequential()
                with self.blocks.name_scope():
                    self.blocks.add(*(Transformer.Block(c) for _ in range(c.blocks)))
                self.ln_f = nn.LayerNorm(epsilon=c.ln_eps, in_channels=c.d_model)
                self.fc = nn.Dense(c.n_classes, in_units=c.d_model)

        def embed(self, F, tokens):
            positions = self.position(F.contrib.arange_like(tokens, axis=1))  # (T, D)
            return F.broadcast_add(self.embedding(tokens), F.expand_dims(positions, 0))

        def hybrid_forward(self, F, tokens):
            x = self.blocks(self.embed(F, tokens))
            return self.fc(F.mean(self.ln_f(x), axis=1))  # the mean over all 150 positions

    def build(self, config: TransformerConfig, seed: int) -> None:
        self.config = config
        mx.random.seed(seed)
        self.net = self.Classifier(config)
        # Glorot for every dense weight (the embeddings name their own initializer); Dense
        # biases and LayerNorm beta are zeros and gamma ones by Gluon's defaults.
        self.net.initialize(GLOROT_UNIFORM, ctx=self.ctx)
        self.net.hybridize()

        # == loss and optimizer ==
        self.loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        self.make_trainer()

    # == verification ==
    def info(self) -> RunInfo:
        run = super().info()
        run.attention = "F.batch_dot (written out)"
        return run

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        copy_params(self.net, params, NORM_NAMES)
        self.make_trainer()  # fresh optimizer state

    def get_weights(self) -> dict[str, np.ndarray]:
        return export_params(self.net, NORM_NAMES)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        net, out = self.net, {}
        h = out["embedding"] = net.embed(mx.nd, mx.nd.array(x.astype(np.float32), ctx=self.ctx))
        for i, block in enumerate(net.blocks):
            h = out[f"blocks.{i}"] = block(h)
        out["pooled"] = net.ln_f(h).mean(axis=1)
        out["fc"] = net.fc(out["pooled"])
        return {name: value.asnumpy() for name, value in out.items()}


# ResNet-50 v1.5, attribute names as torchvision's so structured names match its state_dict.


def batch_norm(channels: int) -> nn.BatchNorm:
    return nn.BatchNorm(epsilon=1e-5, in_channels=channels)  # torchvision's eps


class Bottleneck(gluon.HybridBlock):
    """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 convolution."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv1 = nn.Conv2D(planes, 1, use_bias=False, in_channels=inplanes)
            self.bn1 = batch_norm(planes)
            self.conv2 = nn.Conv2D(planes, 3, strides=stride, padding=1, use_bias=False,
                                   in_channels=planes)
            self.bn2 = batch_norm(planes)
            self.conv3 = nn.Conv2D(planes * 4, 1, use_bias=False, in_channels=planes)
            self.bn3 = batch_norm(planes * 4)
            self.downsample = None
            if downsample:
                self.downsample = nn.HybridSequential(prefix="downsample_")
                with self.downsample.name_scope():
                    self.downsample.add(nn.Conv2D(planes * 4, 1, strides=stride, use_bias=False,
                                                  in_channels=inplanes), batch_norm(planes * 4))

    def hybrid_forward(self, F, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + identity)


class ResNet50(gluon.HybridBlock):
    """torchvision.models.resnet50 up to and including the global average pool (no fc)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv1 = nn.Conv2D(64, 7, strides=2, padding=3, use_bias=False, in_channels=3)
            self.bn1 = batch_norm(64)
            self.maxpool = nn.MaxPool2D(3, strides=2, padding=1)
            inplanes = 64
            for i, (planes, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2),
                                                          (512, 3, 2)), start=1):
                stage = nn.HybridSequential(prefix=f"layer{i}_")
                with stage.name_scope():
                    stage.add(Bottleneck(inplanes, planes, stride, downsample=True))
                    inplanes = planes * 4
                    for _ in range(blocks - 1):
                        stage.add(Bottleneck(inplanes, planes))
                setattr(self, f"layer{i}", stage)
            self.avgpool = nn.GlobalAvgPool2D()

    def hybrid_forward(self, F, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return F.flatten(self.avgpool(x))  # (N, 2048)


class ResNet50Features(MXNetRun, InferenceImplementation):
    """ResNet-50 v1.5 (docs/benchmarks.md §4), batch-norm in inference mode, cut after global
    average pooling."""

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.images = images  # NCHW already; each batch is copied to the device per call

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        mx.random.seed(seed)
        self.net = ResNet50()
        # torchvision's initialisation: Kaiming normal, fan_out, for the convolutions.
        self.net.initialize(mx.init.MSRAPrelu(factor_type="out", slope=0.0), ctx=self.ctx)
        if weights is not None:
            copy_params(self.net, weights, NORM_NAMES)  # fc.* and num_batches_tracked unused
        self.net.hybridize()

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        # Outside autograd.record(): inference mode, batch-norm uses its running statistics.
        return self.outputs(self.net(mx.nd.array(self.images[start:stop], ctx=self.ctx)).asnumpy())

    # == verification ==
    def info(self) -> RunInfo:
        run = super().info()
        run.extra["resnet50"] = "Gluon HybridBlock, torchvision v1.5 layout"
        return run

    def activations(self, images: np.ndarray) -> dict[str, np.ndarray]:
        net, out = self.net, {}
        h = mx.nd.array(images, ctx=self.ctx)
        for name, step in (("conv1", net.conv1), ("bn1", net.bn1), ("relu", mx.nd.relu),
                           ("maxpool", net.maxpool)):
            h = step(h)
            out[name] = h.asnumpy()
        for i in range(1, 5):
            for j, block in enumerate(getattr(net, f"layer{i}")):
                h = block(h)
                out[f"layer{i}.{j}"] = h.asnumpy()
        out["avgpool"] = mx.nd.flatten(net.avgpool(h)).asnumpy()
        return out
