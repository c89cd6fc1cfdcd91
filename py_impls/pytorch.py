"""PyTorch: the CNN, the GRU, the Transformer and ResNet-50 features, in idiomatic eager PyTorch
(fp32).

Data stay on the host as tensors and each batch is copied to the device per step (docs/benchmarks.md §12's
"batches copied from host each step"). cuDNN autotuning is on; PyTorch's own fp32 default is
kept, which lets cuDNN convolutions use TF32 but not matmuls (docs/benchmarks.md §8) - `info()` records it.

Asked for `bf16-mixed` (`--precision`, docs/benchmarks.md §8), the forward passes and the loss
run inside `torch.autocast(device, torch.bfloat16)`: bf16 matmuls and convolutions, fp32 weights
and optimizer state; `info()` reports the dtype the outputs came out in. Asked for `fp32-strict`,
every backend's fp32 precision is set to IEEE (`strict_fp32`): no TF32 in cuBLAS or cuDNN, no
bf16 passes for fp32 in oneDNN.

The `...Compiled` classes are the `pytorch-compile` row: the same models under `torch.compile`
(default mode, the Inductor backend, which on the CPU compiles C++ with the machine's compiler).
The loops call `self.net`, the compiled module, which shares the model's parameters, so the
optimizer, the weights and `activations()`' hooks still address `self.model`. Compilation lands
in the first timed window (and `predict`'s first call) as XLA's does; each process compiles
with a cache of its own, so every run pays the cold compile a user's first run pays.

ResNet-50 is torchvision's `resnet50` where torchvision imports; otherwise (PyPI's torchvision
does not import next to a local CPU build of torch) the same v1.5 network defined below in
torch.nn, with torchvision's parameter names so canonical weights load into either.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.config import CNNConfig, InferenceConfig, RNNConfig, TransformerConfig
from harness.interface import (
    InferenceImplementation,
    RunInfo,
    TrainingData,
    TrainingImplementation,
)
from harness.precision import OutputPrecision
from harness.toolchain import cold_inductor_cache


def resolve_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch.cuda.is_available() is False "
                           "(a CPU build of torch, or no visible GPU)")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        torch.backends.cudnn.benchmark = True  # autotune convolutions; lands in the first epoch
    return torch.device(requested)


def strict_fp32() -> str:
    """Strict fp32 the PyTorch way (its `fp32_precision` settings; the legacy `allow_tf32` flags
    must not be mixed with them): IEEE fp32 in every backend. Returns what is now in effect,
    read back."""
    torch.backends.fp32_precision = "ieee"
    backends = {"cuBLAS": torch.backends.cuda.matmul, "cuDNN conv": torch.backends.cudnn.conv,
                "cuDNN RNN": torch.backends.cudnn.rnn, "oneDNN matmul": torch.backends.mkldnn.matmul,
                "oneDNN conv": torch.backends.mkldnn.conv, "oneDNN RNN": torch.backends.mkldnn.rnn}
    for backend in backends.values():
        backend.fp32_precision = "ieee"
    by_value: dict[str, list[str]] = {}
    for name, backend in backends.items():
        by_value.setdefault(backend.fp32_precision, []).append(name)
    return "; ".join(f"fp32_precision {value}: {', '.join(names)}"
                     for value, names in by_value.items())


def default_precision(device: torch.device) -> str:
    """The record's precision of a default run: fp32, and on a GPU whether TF32 was allowed."""
    if device.type != "cuda":
        return "fp32"
    return (f"fp32 (PyTorch default: cuDNN conv TF32={torch.backends.cudnn.allow_tf32}, "
            f"matmul TF32={torch.backends.cuda.matmul.allow_tf32})")


class _TorchRun(OutputPrecision):
    """Device, synchronisation and the run's description, shared by the three benchmarks."""

    requested_device: str
    compiled = False  # the ...Compiled variants: torch.compile on the model

    def autocast(self) -> torch.autocast:
        """PyTorch's mixed precision: inside it, matmuls and convolutions compute in bf16 while
        the weights stay fp32 and the loss autocasts to fp32; off unless bf16 was asked for."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def outputs(self, logits: torch.Tensor) -> np.ndarray:
        """The model's outputs as float32 NumPy, noting the dtype they were computed in."""
        self.computed = logits.dtype
        return logits.float().cpu().numpy()

    def compile(self) -> None:
        """`self.net`, what the loops call: the model itself, or the model under torch.compile."""
        self.net = self.model
        if self.compiled:
            self.inductor_cache = cold_inductor_cache()
            self.net = torch.compile(self.model)

    @property
    def device(self) -> torch.device:
        if not hasattr(self, "_device"):
            self._device = resolve_device(self.requested_device)
            if self.strict:
                self.strict_settings = strict_fp32()
        return self._device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def matmul(self, n: int):
        dtype = torch.bfloat16 if self.bf16 else torch.float32  # the peak of the run's precision
        a, b = (torch.rand(n, n, device=self.device, dtype=dtype) for _ in range(2))

        def multiply() -> None:
            torch.mm(a, b)
            self.sync()
        return multiply

    def device_memory_peak(self) -> int | None:
        return torch.cuda.max_memory_allocated(self.device) if self.device.type == "cuda" else None

    def info(self) -> RunInfo:
        cuda = self.device.type == "cuda"
        # what the outputs were computed in, not what was asked for
        precision = self.precision_record(
            f"torch.autocast {self.device.type} bfloat16, fp32 weights",
            "" if self.strict else default_precision(self.device))
        return RunInfo(
            framework="PyTorch",
            framework_version=torch.__version__,
            device=self.device.type,
            device_name=torch.cuda.get_device_name(self.device) if cuda else "cpu",
            precision=precision,
            extra={
                "torch_compile": compiled_graphs(self.inductor_cache) if self.compiled else None,
                "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version() if cuda else None,
                "torch_threads": torch.get_num_threads(),
            },
        )


def compiled_graphs(cache: str) -> str:
    """What torch.compile did in this process: the graphs Dynamo handed to Inductor, or that it
    traced none and the model ran eager; and which cache it compiled against."""
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    done = f"{graphs} graph(s) compiled" if graphs else "no graph traced: the model ran eager"
    return f"default mode, inductor, {cache}; {done}"


def glorot_uniform_(model: nn.Module) -> None:
    """docs/benchmarks.md §2: Glorot-uniform weights and zero biases for every conv and dense layer."""
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


def state_to_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: t.detach().cpu().numpy().copy() for name, t in model.state_dict().items()}


def numpy_to_state(model: nn.Module, params: dict[str, np.ndarray]) -> None:
    state = {k: torch.from_numpy(np.asarray(v)) for k, v in params.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Batch-norm's num_batches_tracked is a counter, not a weight: canonical files omit it.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise KeyError(f"canonical weights do not fit the model: missing {missing[:5]}, "
                       f"unexpected {unexpected[:5]}")


# Hooks for `python -m harness verify` (harness/verify/runner.py).
def verification_step(impl, x: np.ndarray, y: np.ndarray) -> float:
    """One optimizer step as in train_epoch, on one given batch, with dropout off."""
    impl.model.train()  # training mode (cuDNN's GRU backward needs it) ...
    for module in impl.model.modules():
        if isinstance(module, nn.Dropout):
            module.eval()  # ... but dropout is the identity
    inputs = torch.from_numpy(x).to(impl.device)
    if not inputs.is_floating_point():
        inputs = inputs.long()
    impl.optimizer.zero_grad(set_to_none=True)
    with impl.autocast():
        loss = impl.loss_fn(impl.net(inputs), torch.from_numpy(y).long().to(impl.device))
    loss.backward()
    impl.optimizer.step()
    return loss.item()


@torch.no_grad()
def module_outputs(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, np.ndarray]:
    """The outputs of the named submodules during one forward pass, by forward hooks (copied
    at once: a later in-place ReLU would overwrite them)."""
    modules = dict(model.named_modules())
    outputs: dict[str, np.ndarray] = {}
    hooks = [modules[name].register_forward_hook(
        lambda _m, _i, out, name=name: outputs.__setitem__(
            name, out.detach().float().cpu().numpy().copy()))
        for name in names if name in modules]
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return outputs


class CNN(_TorchRun, TrainingImplementation):
    """docs/benchmarks.md §2: VGG-style CNN on CIFAR-10, SGD with heavy-ball momentum."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        # NCHW float32 is PyTorch's native layout: no copy, the tensors share NumPy's memory.
        self.x_train = torch.from_numpy(data.x_train)
        self.y_train = torch.from_numpy(data.y_train).long()  # cross_entropy wants int64
        self.x_test = torch.from_numpy(data.x_test)

    # == model ==
    def build(self, config: CNNConfig, seed: int) -> None:
        self.config = config
        torch.manual_seed(seed)
        self.model = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 50, kernel_size=3, padding=1)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(50, 50, kernel_size=3, padding=1)),
            ("pool1", nn.MaxPool2d(2, stride=2)), ("relu2", nn.ReLU()), ("drop1", nn.Dropout(0.25)),
            ("conv3", nn.Conv2d(50, 100, kernel_size=3, padding=1)), ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(100, 100, kernel_size=3, padding=1)),
            ("pool2", nn.MaxPool2d(2, stride=2)), ("relu4", nn.ReLU()), ("drop2", nn.Dropout(0.25)),
            ("flatten", nn.Flatten()),  # C,H,W order
            ("fc1", nn.Linear(100 * 8 * 8, 512)), ("relu5", nn.ReLU()), ("drop3", nn.Dropout(0.5)),
            ("fc2", nn.Linear(512, config.n_classes)),  # logits: softmax lives in the loss
        ]))
        glorot_uniform_(self.model)
        self.model.to(self.device)
        self.compile()

        # == loss and optimizer ==
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr,
                                         momentum=config.momentum)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.model.train()
        for idx in torch.from_numpy(order).split(self.config.batch_size):
            x = self.x_train[idx].to(self.device, non_blocking=True)
            y = self.y_train[idx].to(self.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                loss = self.loss_fn(self.net(x), y)
            loss.backward()
            self.optimizer.step()

    # == prediction ==
    @torch.no_grad()
    def predict(self) -> np.ndarray:
        self.model.eval()
        with self.autocast():
            logits = [self.net(x.to(self.device)) for x in self.x_test.split(self.config.batch_size)]
        return self.outputs(torch.cat(logits))

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        numpy_to_state(self.model, params)

    def get_weights(self) -> dict[str, np.ndarray]:
        return state_to_numpy(self.model)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return verification_step(self, x, y)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.model.eval()
        names = [n for n, m in self.model.named_children() if not isinstance(m, nn.Dropout)]
        with self.autocast():  # in the run's precision, as verify's logits are
            return module_outputs(self.model, names, torch.from_numpy(x).to(self.device))


class _Reviews(_TorchRun, TrainingImplementation):
    """What the two IMDB classifiers (docs/benchmarks.md §3 GRU, §3b Transformer) share: token
    ids as int64 tensors, PyTorch's Adam, the same loop. A subclass gives `Classifier`, which
    initialises itself by its benchmark's rule."""

    Classifier: type[nn.Module]

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.x_train = torch.from_numpy(data.x_train).long()  # nn.Embedding wants int64 ids
        self.y_train = torch.from_numpy(data.y_train).long()
        self.x_test = torch.from_numpy(data.x_test).long()

    # == model ==
    def build(self, config: RNNConfig | TransformerConfig, seed: int) -> None:
        self.config = config
        torch.manual_seed(seed)
        self.model = self.Classifier(config).to(self.device)
        self.compile()

        # == loss and optimizer ==
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr,
                                          betas=(config.beta1, config.beta2), eps=config.eps)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.model.train()
        for idx in torch.from_numpy(order).split(self.config.batch_size):
            x = self.x_train[idx].to(self.device, non_blocking=True)
            y = self.y_train[idx].to(self.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                loss = self.loss_fn(self.net(x), y)
            loss.backward()
            self.optimizer.step()

    # == prediction ==
    @torch.no_grad()
    def predict(self) -> np.ndarray:
        self.model.eval()
        with self.autocast():
            logits = [self.net(x.to(self.device)) for x in self.x_test.split(self.config.batch_size)]
        return self.outputs(torch.cat(logits))

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        numpy_to_state(self.model, params)

    def get_weights(self) -> dict[str, np.ndarray]:
        return state_to_numpy(self.model)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return verification_step(self, x, y)


class RNN(_Reviews):
    """docs/benchmarks.md §3: embedding -> GRU (cuDNN formulation: nn.GRU is it) -> last step -> dense.

    Embedding and GRU keep PyTorch's default initialisation; the dense layer is Glorot."""

    # == model ==
    class Classifier(nn.Module):
        def __init__(self, config: RNNConfig) -> None:
            super().__init__()
            self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
            self.gru = nn.GRU(config.embedding_dim, config.hidden, batch_first=True)
            self.fc = nn.Linear(config.hidden, config.n_classes)
            glorot_uniform_(self.fc)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            outputs, _ = self.gru(self.embedding(tokens))  # initial state: zeros
            return self.fc(outputs[:, -1])  # the last time step, padding included

    def info(self) -> RunInfo:
        if self.bf16 and hasattr(self, "model"):
            # The logits come from the dense layer, which autocast runs in bf16 everywhere; the
            # GRU, nearly all of the work, is what says whether this ran in bf16.
            with torch.no_grad(), self.autocast():
                probe = self.x_test[:1].to(self.device)
                self.computed = self.model.gru(self.model.embedding(probe))[0].dtype
        run = super().info()
        # nn.GRU dispatches to cuDNN's fused kernel on a CUDA device whenever cuDNN is enabled.
        run.cudnn = self.device.type == "cuda" and torch.backends.cudnn.enabled
        return run

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.model.eval()
        tokens = torch.from_numpy(x).long().to(self.device)
        with self.autocast():  # in the run's precision, as verify's logits are
            out = module_outputs(self.model, ["embedding", "fc"], tokens)
            with torch.no_grad():  # nn.GRU returns (outputs, state): keep the outputs
                out["gru"] = self.model.gru(self.model.embedding(tokens))[0].float().cpu().numpy()
        return out


def sdpa_backend(device: torch.device) -> str:
    """Which kernel `F.scaled_dot_product_attention` picks for the Transformer's shapes on this
    device, asked of PyTorch's own dispatcher (`torch._fused_sdp_choice`) rather than assumed:
    flash, memory-efficient, cuDNN or math."""
    c = TransformerConfig()
    q = torch.empty(c.batch_size, c.heads, c.seq_len, c.head_dim, device=device)
    try:
        from torch.nn.attention import SDPBackend

        choice = SDPBackend(torch._fused_sdp_choice(q, q, q))
    except (AttributeError, ImportError, RuntimeError, TypeError, ValueError) as error:
        return f"unknown ({type(error).__name__})"
    return {"FLASH_ATTENTION": "flash", "EFFICIENT_ATTENTION": "memory-efficient",
            "CUDNN_ATTENTION": "cudnn", "MATH": "math"}.get(choice.name, choice.name.lower())


class Transformer(_Reviews):
    """docs/benchmarks.md §3b: token + position embedding -> 2 pre-LayerNorm encoder blocks ->
    LayerNorm -> mean over positions -> dense, attention by `F.scaled_dot_product_attention`."""

    # == model ==
    class SelfAttention(nn.Module):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            self.heads = c.heads
            self.query, self.key, self.value, self.out = (nn.Linear(c.d_model, c.d_model)
                                                          for _ in range(4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n, t, d = x.shape
            q, k, v = (proj(x).view(n, t, self.heads, d // self.heads).transpose(1, 2)
                       for proj in (self.query, self.key, self.value))  # (N, heads, T, 32)
            context = F.scaled_dot_product_attention(q, k, v)  # no mask: padding is content
            return self.out(context.transpose(1, 2).reshape(n, t, d))

    class Block(nn.Module):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(c.d_model, eps=c.ln_eps)
            self.attn = Transformer.SelfAttention(c)
            self.ln2 = nn.LayerNorm(c.d_model, eps=c.ln_eps)
            self.mlp = nn.Sequential(OrderedDict([
                ("fc1", nn.Linear(c.d_model, c.mlp_dim)), ("gelu", nn.GELU()),  # exact (erf)
                ("fc2", nn.Linear(c.mlp_dim, c.d_model))]))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class Classifier(nn.Module):
        def __init__(self, c: TransformerConfig) -> None:
            super().__init__()
            self.embedding = nn.Embedding(c.vocab_size, c.d_model)
            self.position = nn.Embedding(c.seq_len, c.d_model)
            self.blocks = nn.Sequential(*(Transformer.Block(c) for _ in range(c.blocks)))
            self.ln_f = nn.LayerNorm(c.d_model, eps=c.ln_eps)
            self.fc = nn.Linear(c.d_model, c.n_classes)
            for table in (self.embedding, self.position):  # §3b: N(0, 0.02)
                nn.init.normal_(table.weight, std=0.02)
            glorot_uniform_(self)  # every dense layer; LayerNorm keeps 1 and 0

        def embed(self, tokens: torch.Tensor) -> torch.Tensor:
            positions = torch.arange(tokens.shape[1], device=tokens.device)
            return self.embedding(tokens) + self.position(positions)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            x = self.blocks(self.embed(tokens))
            return self.fc(self.ln_f(x).mean(dim=1))  # the mean over all 150 positions

    def info(self) -> RunInfo:
        run = super().info()
        run.attention = f"F.scaled_dot_product_attention: {sdpa_backend(self.device)}"
        return run

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.model.eval()
        tokens = torch.from_numpy(x).long().to(self.device)
        names = [f"blocks.{i}" for i in range(self.config.blocks)] + ["fc"]
        with self.autocast(), torch.no_grad():  # in the run's precision, as verify's logits are
            out = module_outputs(self.model, names, tokens)
            out["embedding"] = self.model.embed(tokens).float().cpu().numpy()
            out["pooled"] = self.model.ln_f(
                self.model.blocks(self.model.embed(tokens))).mean(dim=1).float().cpu().numpy()
        return out


class _Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 convolution."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class _ResNet50(nn.Module):
    """torchvision.models.resnet50 with the same module names, for when torchvision is absent."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes, layers = 64, []
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4))
            stage = [_Bottleneck(inplanes, planes, stride, downsample)]
            inplanes = planes * 4
            stage += [_Bottleneck(inplanes, planes) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, 1000)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50() -> tuple[nn.Module, str]:
    """torchvision's ResNet-50 where it imports, else the torch.nn definition above."""
    try:
        from torchvision.models import resnet50 as tv_resnet50
    except Exception as error:  # noqa: BLE001 - a broken torchvision raises RuntimeError at import
        return _ResNet50(), f"torch.nn definition (torchvision unavailable: {type(error).__name__})"
    return tv_resnet50(weights=None), "torchvision.models.resnet50"


class ResNet50Features(_TorchRun, InferenceImplementation):
    """ResNet-50 v1.5 (docs/benchmarks.md §4), batch-norm in inference mode, cut after global
    average pooling."""

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.images = torch.from_numpy(images)  # NCHW already; batches are copied per call

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        torch.manual_seed(seed)
        self.model, self.definition = resnet50()
        self.model.fc = nn.Identity()  # cut after the global average pool: 2048-d features
        if weights is not None:
            numpy_to_state(self.model, {k: v for k, v in weights.items()
                                        if not k.startswith("fc.")})
        self.model.eval().to(self.device)
        self.compile()

    # == features ==
    @torch.inference_mode()
    def extract(self, start: int, stop: int) -> np.ndarray:
        with self.autocast():
            return self.outputs(self.net(self.images[start:stop].to(self.device)))

    def info(self) -> RunInfo:
        run = super().info()
        run.extra["resnet50"] = getattr(self, "definition", "not built")
        return run

    def activations(self, images: np.ndarray) -> dict[str, np.ndarray]:
        names = ["conv1", "bn1", "relu", "maxpool", "avgpool"] + [
            f"{stage}.{i}" for stage, blocks in (("layer1", 3), ("layer2", 4), ("layer3", 6),
                                                 ("layer4", 3)) for i in range(blocks)]
        with self.autocast():  # in the run's precision, as verify's features are
            out = module_outputs(self.model, names, torch.from_numpy(images).to(self.device))
        out["avgpool"] = out["avgpool"].reshape(len(images), -1)  # (N, 2048, 1, 1) -> (N, 2048)
        return out


# The pytorch-compile row: each model under torch.compile, nothing else changed.
class CNNCompiled(CNN):
    """The CNN with the model under torch.compile."""

    compiled = True


class RNNCompiled(RNN):
    """The GRU classifier under torch.compile. In its default mode Dynamo traces no graph of a
    model holding an nn.GRU (`torch._dynamo.config.allow_rnn` is off), so this runs eager, as a
    user's compiled GRU does; the record says so."""

    compiled = True


class TransformerCompiled(Transformer):
    """The Transformer under torch.compile."""

    compiled = True


class ResNet50FeaturesCompiled(ResNet50Features):
    """ResNet-50 features under torch.compile."""

    compiled = True
