"""The contract between the harness and one framework's implementation of a benchmark.

An implementation supplies only what is framework-specific. The harness owns the loop over
epochs, each epoch's permutation, the clock and every `sync()` around it, the accuracy (computed
from the logits `predict` returns) and the results.

Each implementation file reads the same way, top to bottom, in sections marked by comments
`# == data ==`, `# == model ==`, `# == loss and optimizer ==`, `# == training epoch ==`,
`# == prediction ==` (training) and `# == data ==`, `# == model ==`, `# == features ==` (inference),
so that `python -m harness show` can put two implementations side by side. Julia sources use the
same markers.

Arrays cross this boundary as NumPy arrays in the canonical layout (docs/benchmarks.md §1):
images NCHW float32 in C order, token ids and labels int32, permutations int64 and 0-based. A
Julia implementation behind a Python-Julia bridge satisfies the same contract (a C-ordered NCHW
array is Julia's WHCN without a copy).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np



class TrainingSettings(Protocol):
    """What the harness reads of a training benchmark's hyperparameters (harness.config holds
    the built-in ones; the implementation reads the rest of its own benchmark's)."""

    batch_size: int
    n_classes: int
    epochs: int


class InferenceSettings(Protocol):
    """What the harness reads of an inference benchmark's settings."""

    batch_size: int
    image_size: int
    feature_dim: int
    warmup_batches: int
    timed_batches: int
    passes: int


@dataclass
class TrainingData:
    """One training benchmark's arrays, already preprocessed (images scaled to 0..1 float32)."""

    x_train: np.ndarray
    y_train: np.ndarray  # int32 class indices, 0-based
    x_test: np.ndarray
    y_test: np.ndarray
    kind: str = "synthetic"  # "real" or "synthetic"


@dataclass
class RunInfo:
    """What an implementation reports about itself; stored with every result."""

    framework: str
    framework_version: str
    language: str = "python"
    language_version: str = ""
    device: str = "cpu"  # resolved device: "cpu" or "cuda"
    device_name: str = ""
    precision: str = "fp32"  # in effect: fp32-strict, tf32-where-allowed (say which), bf16-mixed
    cudnn: bool | None = None  # RNN: did the fused/cuDNN GRU run
    # Transformer: which attention ran, "API: kernel" ("F.scaled_dot_product_attention: flash",
    # "layers.MultiHeadAttention: einsum", "batched matmul")
    attention: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # CUDA/cuDNN versions, threads, notes


class Implementation(ABC):
    """Common to every benchmark: construction with the requested device, `sync`, `info`."""

    def __init__(self, device: str = "auto", **options: Any) -> None:
        # device: "auto" (a GPU where the framework sees one), "cuda" or "cpu".
        self.requested_device = device
        self.options = options

    @abstractmethod
    def sync(self) -> None:
        """Block until all work queued on the device has finished (docs/benchmarks.md §7)."""

    @abstractmethod
    def info(self) -> RunInfo:
        """Framework, version, resolved device, precision in effect."""

    # For the utilisation columns (harness/run/utilisation.py), called after the timed work.
    # Optional: without them the record says "not measured" and why.
    def matmul(self, n: int) -> Callable[[], Any]:
        """A function that multiplies two n x n matrices of the benchmark's precision on the
        run's device, the way this framework would, and returns once the product is finished:
        the harness times it for the rate this framework can reach here."""
        raise NotImplementedError(f"{type(self).__name__} has no matmul calibration")

    def device_memory_peak(self) -> int | None:
        """Bytes of device memory at this process's high-water mark (GPU runs); None where the
        framework keeps no such mark."""
        raise NotImplementedError(f"{type(self).__name__} does not report device memory")


class TrainingImplementation(Implementation):
    """CNN and RNN benchmarks. The harness calls, in order (each followed by `sync()` and a
    clock read): prepare, build, train_epoch once per epoch, predict."""

    config: TrainingSettings

    @abstractmethod
    def prepare(self, data: TrainingData) -> None:
        """Put the data into the framework's layout (and onto its device, if the variant keeps
        data resident). Any copy or transpose happens here, before timing of training starts."""

    @abstractmethod
    def build(self, config: TrainingSettings, seed: int) -> None:
        """Model (Glorot-uniform weights, zero biases, seeded), loss and optimizer."""

    @abstractmethod
    def train_epoch(self, order: np.ndarray) -> None:
        """One epoch: for each consecutive slice of `config.batch_size` indices of `order`
        (0-based rows of x_train; its length is a whole number of batches), one optimizer step
        with dropout active."""

    @abstractmethod
    def predict(self) -> np.ndarray:
        """Logits (n_test, n_classes) for all of x_test in inference mode, in batches of
        `config.batch_size` (the last one partial)."""

    # For `verify` (docs/benchmarks.md §9-10; harness/verify/runner.py,
    # harness/verify/oracle/README.md). Optional: an implementation without them runs every
    # benchmark; `verify` reports the check it could not make as "not supported". verify calls,
    # on a few samples: prepare (x_train = x_test = the batch), build, load_weights, predict,
    # activations, then verify_step, get_weights, verify_step, get_weights, predict.
    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        """Replace every parameter with canonical ones (PyTorch state_dict names and layouts,
        float32, see harness/verify/weights.py: conv O,I,kH,kW; dense out,in; GRU gate blocks r,z,n
        with bias_ih and bias_hh apart), converting to the framework's layout, and reset the
        optimizer state to what `build` made (no steps taken). Called after `build`."""
        raise NotImplementedError(f"{type(self).__name__} cannot load canonical weights yet")

    def get_weights(self) -> dict[str, np.ndarray]:
        """Every parameter, converted back to the canonical names and layouts."""
        raise NotImplementedError(f"{type(self).__name__} cannot export canonical weights yet")

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on the batch (x, y), exactly as `train_epoch` does one, but with
        dropout disabled; returns that step's mean loss (computed before the update) as a
        float. x and y are in the canonical layout (NCHW float32 images or int32 token ids;
        int32 labels); the batch may be smaller than `config.batch_size`."""
        raise NotImplementedError(f"{type(self).__name__} has no verify_step")

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Intermediate outputs of a forward pass in inference mode, by canonical layer name,
        each as a NumPy array in the canonical layout, so `verify` can name the first layer
        that departs from the oracle. CNN: conv1 relu1 conv2 pool1 relu2 conv3 relu3 conv4
        pool2 relu4 (all NCHW) flatten (N, 6400 in C,H,W order) fc1 relu5 fc2. GRU: embedding
        (N, T, E), gru (N, T, H: the output at every step), fc (logits). Any subset may be
        returned (a fused layer may hide its inside); those present are compared."""
        raise NotImplementedError(f"{type(self).__name__} exposes no activations")


class InferenceImplementation(Implementation):
    """ResNet-50 feature extraction. The harness calls prepare, build, then extract per batch
    (each timed batch between two `sync()`ed clock reads)."""

    @abstractmethod
    def prepare(self, images: np.ndarray) -> None:
        """Images (N, 3, 224, 224) float32 in [0, 1): into the framework's layout (and device)."""

    @abstractmethod
    def build(self, config: InferenceSettings, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        """ResNet-50 v1.5 in inference mode, cut after global average pooling. `weights` are
        canonical (torchvision state_dict names and layouts); None: seeded random init."""

    @abstractmethod
    def extract(self, start: int, stop: int) -> np.ndarray:
        """Features (stop - start, 2048) float32 of images[start:stop], as a NumPy array."""

    # For `verify`: optional, as for training. Canonical weights arrive through `build`.
    def activations(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Intermediate outputs on images (N, 3, H, W), canonical layout (NCHW), by torchvision
        module name: conv1 bn1 relu maxpool, layer1.0 ... layer4.2 (each bottleneck's output),
        avgpool (N, 2048). Any subset may be returned. H, W may be smaller than 224."""
        raise NotImplementedError(f"{type(self).__name__} exposes no activations")
