"""TensorFlow 2: the CNN, the GRU, the Transformer and ResNet-50 features, as a TensorFlow user
writes them today.

A tf.keras model (TensorFlow 2.16+ ships Keras 3 as tf.keras), trained by a custom loop: a
`tf.function` training step (GradientTape, the optimizer's apply_gradients) called once per
batch, each batch gathered on the host in the harness's order and copied in per step (docs/benchmarks.md §12's
"batches copied from host each step"). Prediction and feature extraction are `tf.function`s with
training=False (dropout off, batch-norm statistics).

Layout: TensorFlow's CPU kernels want channels-last (NHWC; its CPU max-pool has no NCHW kernel),
so on CPU the data are transposed once, before timing. On a GPU the model is channels-first
(NCHW), cuDNN's native fp32 layout, which Grappler's layout optimizer would otherwise convert to
around every convolution. TensorFlow's fp32 default allows TF32 on GPUs that have it; `info()`
records it.

The `...XLA` classes are the separately named variant with `jit_compile=True`: XLA compiles the
whole training step (compilation lands in the first epoch). cuDNN's GRU kernel is not an XLA
op, so the XLA GRU is Keras' generic loop (`use_cudnn=False`, recorded as cudnn: no). The
Transformer's attention is tf.keras' `layers.MultiHeadAttention`: on TensorFlow two einsums around a
softmax (there is no fused kernel), compiled by XLA in the XLA variant.

The networks and the conversion of canonical weights are shared with `py_impls.keras3`.
"""

from __future__ import annotations

import os
import sys

if "keras" not in sys.modules:  # tf.keras is Keras 3 on whatever KERAS_BACKEND names
    os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np
import tensorflow as tf

from harness.config import CNNConfig, InferenceConfig, RNNConfig, TransformerConfig
from harness.interface import (
    InferenceImplementation,
    RunInfo,
    TrainingData,
    TrainingImplementation,
)
from py_impls.keras3 import (
    BACKEND,
    CNN_ACTIVATIONS,
    RESNET50_ACTIVATIONS,
    KerasPrecision,
    TRANSFORMER_ACTIVATIONS,
    TorchFormAdam,
    cnn_from_keras,
    cnn_model,
    cnn_to_keras,
    gru_model,
    keras_attention,
    keras_gru_uses_cudnn,
    layer_outputs,
    layer_weights,
    reset_optimizer,
    resnet50_from_keras,
    resnet50_to_keras,
    resnet50_v15,
    rnn_from_keras,
    rnn_to_keras,
    set_dropout,
    set_layer_weights,
    transformer_from_keras,
    transformer_model,
    transformer_to_keras,
)

if BACKEND != "tensorflow":
    raise ImportError(f"py_impls.tf_keras needs Keras on the TensorFlow backend, but Keras was "
                      f"imported with KERAS_BACKEND={BACKEND}: run it in a fresh process with "
                      f"KERAS_BACKEND=tensorflow")


def resolve_device(requested: str) -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if requested == "cuda" and not gpus:
        raise RuntimeError("--device cuda was asked for, but TensorFlow sees no GPU "
                           "(tensorflow-cpu, a build without CUDA, or no visible GPU)")
    if requested == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")  # must happen before TensorFlow places anything
    return "cuda" if gpus and requested != "cpu" else "cpu"


class _TFRun(KerasPrecision):
    """Device, layout, synchronisation and the run's description, shared by the benchmarks."""

    requested_device: str
    jit_compile = False  # the XLA variants set True

    @property
    def device(self) -> str:
        if not hasattr(self, "_device"):
            self._device = resolve_device(self.requested_device)
        return self._device

    @property
    def data_format(self) -> str:
        return "channels_first" if self.device == "cuda" else "channels_last"

    def to_layout(self, images: np.ndarray) -> np.ndarray:
        """Canonical NCHW -> the layout in use: one contiguous copy, before timing."""
        if self.data_format == "channels_first":
            return images
        return np.ascontiguousarray(images.transpose(0, 2, 3, 1))

    def sync(self) -> None:
        tf.test.experimental.sync_devices()

    def matmul(self, n: int):
        with tf.device("/GPU:0" if self.device == "cuda" else "/CPU:0"):
            a, b = (tf.random.uniform((n, n), dtype=self.matmul_dtype()) for _ in range(2))
        product = tf.function(tf.linalg.matmul, jit_compile=self.jit_compile)

        def multiply() -> None:
            product(a, b)
            self.sync()
        return multiply

    def device_memory_peak(self) -> int | None:
        if self.device != "cuda":
            return None
        return tf.config.experimental.get_memory_info("GPU:0")["peak"]

    def info(self) -> RunInfo:
        cuda = self.device == "cuda"
        build = tf.sysconfig.get_build_info()
        if cuda:
            gpu = tf.config.list_physical_devices("GPU")[0]
            device_name = tf.config.experimental.get_device_details(gpu).get("device_name", "GPU")
            precision = (f"fp32 (TensorFlow default: TF32="
                         f"{tf.config.experimental.tensor_float_32_execution_enabled()})")
        else:
            device_name, precision = "cpu", "fp32"
        return RunInfo(
            framework="TensorFlow",
            framework_version=tf.__version__,
            device=self.device,
            device_name=device_name,
            precision=self.precision(precision),
            extra={
                "keras": __import__("keras").__version__,
                "xla_jit_compile": self.jit_compile,
                "data_format": self.data_format,
                "cuda": build.get("cuda_version") if cuda else None,
                "cudnn": build.get("cudnn_version") if cuda else None,
                "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            },
        )


class _TFTraining(_TFRun):
    """The custom training loop shared by the CNN, the GRU and the Transformer."""

    config: CNNConfig | RNNConfig | TransformerConfig

    def compile_steps(self) -> None:
        if not self.optimizer.built:
            self.optimizer.build(self.model.trainable_variables)  # slots before tracing
        self.train_step = self.compile_train_step()
        self.predict_step = self.compile_predict_step()

    # == training epoch ==
    def compile_train_step(self) -> tf.types.experimental.PolymorphicFunction:
        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer

        # autograph=False: no Python control flow to convert (and no re-reading of this source)
        @tf.function(jit_compile=self.jit_compile, autograph=False)
        def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss

        return train_step

    def train_epoch(self, order: np.ndarray) -> None:
        for idx in np.split(order, len(order) // self.config.batch_size):
            self.train_step(self.x_train[idx], self.y_train[idx])

    # == prediction ==
    def compile_predict_step(self) -> tf.types.experimental.PolymorphicFunction:
        model = self.model
        return tf.function(lambda x: model(x, training=False), jit_compile=self.jit_compile,
                           autograph=False)

    def predict(self) -> np.ndarray:
        bs = self.config.batch_size
        logits = [self.predict_step(self.x_test[i:i + bs]) for i in range(0, len(self.x_test), bs)]
        return self.outputs(tf.concat(logits, axis=0).numpy())

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        if not getattr(self, "_verify_traced", False):
            set_dropout(self.model, active=False)
            self.compile_steps()  # traced afresh: without dropout
            self._verify_traced = True
        return float(self.train_step(self.to_layout(x) if x.ndim == 4 else x, y))


class CNN(_TFTraining, TrainingImplementation):
    """docs/benchmarks.md §2: VGG-style CNN on CIFAR-10, SGD with momentum."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.x_train = self.to_layout(data.x_train)  # stays on the host; batches copied per step
        self.y_train = data.y_train
        self.x_test = self.to_layout(data.x_test)

    # == model ==
    def build(self, config: CNNConfig, seed: int) -> None:
        self.config = config
        tf.keras.utils.set_random_seed(seed)
        self.set_dtype_policy()
        # tf.keras.Sequential of Conv2D(padding="same") / MaxPooling2D(2) / Dropout / Dense:
        # see py_impls.keras3.cnn_model
        self.model = cnn_model(config, self.data_format)

        # == loss and optimizer ==
        self.loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # Keras' momentum m <- 0.9 m - lr g; w <- w + m is PyTorch's heavy ball at a fixed lr.
        self.optimizer = tf.keras.optimizers.SGD(learning_rate=config.lr, momentum=config.momentum)
        self.compile_steps()

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        set_layer_weights(self.model, cnn_to_keras(params, self.data_format))
        reset_optimizer(self.optimizer)

    def get_weights(self) -> dict[str, np.ndarray]:
        names = ["conv1", "conv2", "conv3", "conv4", "fc1", "fc2"]
        return cnn_from_keras(layer_weights(self.model, names), self.data_format)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return layer_outputs(self.model, CNN_ACTIVATIONS, self.to_layout(x), self.data_format)


class _ReviewClassifier(_TFTraining):
    """What the GRU and the Transformer share: the IMDB token ids, the cross-entropy and Adam
    in PyTorch's form; each adds its model."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.x_train, self.y_train, self.x_test = data.x_train, data.y_train, data.x_test

    # == loss and optimizer ==
    def compile_model(self) -> None:
        c = self.config
        self.loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # Keras' Adam puts epsilon before the bias correction; docs/benchmarks.md §3's (PyTorch's) after it.
        self.optimizer = TorchFormAdam(learning_rate=c.lr, beta_1=c.beta1, beta_2=c.beta2,
                                       epsilon=c.eps)
        self.compile_steps()


class RNN(_ReviewClassifier, TrainingImplementation):
    """docs/benchmarks.md §3: embedding -> GRU (reset_after=True: cuDNN's kernel on a GPU) -> dense, Adam."""

    # == model ==
    def build(self, config: RNNConfig, seed: int) -> None:
        self.config = config
        tf.keras.utils.set_random_seed(seed)
        self.set_dtype_policy()
        # Embedding -> GRU(reset_after=True) -> Dense: see py_impls.keras3.gru_model
        self.model = gru_model(config, use_cudnn=False if self.jit_compile else "auto")
        self.compile_model()

    def info(self) -> RunInfo:
        run = super().info()
        if hasattr(self, "model"):
            run.cudnn = keras_gru_uses_cudnn(self.model.get_layer("gru"), self.device)
        return run

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        set_layer_weights(self.model, rnn_to_keras(params))
        reset_optimizer(self.optimizer)

    def get_weights(self) -> dict[str, np.ndarray]:
        return rnn_from_keras(layer_weights(self.model, ["embedding", "gru", "fc"]))

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        # The GRU layer yields only its last step (return_sequences=False): not compared.
        return layer_outputs(self.model, {"embedding": "embedding", "fc": "fc"}, x,
                             "channels_last")


class Transformer(_ReviewClassifier, TrainingImplementation):
    """docs/benchmarks.md §3b: token + position embedding -> 2 pre-LayerNorm encoder blocks
    (tf.keras.layers.MultiHeadAttention) -> LayerNorm -> mean over positions -> dense, Adam.
    Data, loss and optimizer are the GRU's (`_ReviewClassifier`), the loop the CNN's too."""

    # == model ==
    def build(self, config: TransformerConfig, seed: int) -> None:
        self.config = config
        tf.keras.utils.set_random_seed(seed)
        self.set_dtype_policy()
        # TokenAndPositionEmbedding -> (LayerNormalization, MultiHeadAttention, Add,
        # LayerNormalization, Dense, Dense, Add) x 2 -> LayerNormalization ->
        # GlobalAveragePooling1D -> Dense: see py_impls.keras3.transformer_model
        self.model = transformer_model(config)
        self.compile_model()

    def info(self) -> RunInfo:
        run = super().info()
        run.attention = keras_attention(self.device)
        return run

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        transformer_to_keras(self.model, self.config, params)
        reset_optimizer(self.optimizer)

    def get_weights(self) -> dict[str, np.ndarray]:
        return transformer_from_keras(self.model, self.config)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return layer_outputs(self.model, TRANSFORMER_ACTIVATIONS, x, "channels_last")


class ResNet50Features(_TFRun, InferenceImplementation):
    """ResNet-50 v1.5 (docs/benchmarks.md §4) from tf.keras layers, inference mode, cut after the
    average pool."""

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.images = self.to_layout(images)  # batches are copied per call

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        tf.keras.utils.set_random_seed(seed)
        self.set_dtype_policy()
        self.model = resnet50_v15(self.data_format)
        if weights is not None:
            set_layer_weights(self.model, resnet50_to_keras(
                {k: v for k, v in weights.items() if not k.startswith("fc.")}))
        self.features = tf.function(lambda x: self.model(x, training=False),
                                    jit_compile=self.jit_compile, autograph=False)

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        return self.outputs(self.features(self.images[start:stop]).numpy())

    def get_weights(self) -> dict[str, np.ndarray]:
        return resnet50_from_keras(self.model)

    def activations(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return layer_outputs(self.model, RESNET50_ACTIVATIONS, self.to_layout(images),
                             self.data_format)


class CNNXLA(CNN):
    """CNN with the training step compiled by XLA (`tf.function(jit_compile=True)`)."""

    jit_compile = True


class RNNXLA(RNN):
    """GRU with the training step compiled by XLA (Keras' generic GRU loop, no cuDNN)."""

    jit_compile = True


class ResNet50FeaturesXLA(ResNet50Features):
    """ResNet-50 features compiled by XLA."""

    jit_compile = True


class TransformerXLA(Transformer):
    """Transformer with the training step compiled by XLA."""

    jit_compile = True
