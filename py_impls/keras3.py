"""Keras 3: the CNN, the GRU, the Transformer and ResNet-50 features, written once, run on any
Keras backend.

The harness runs this module as three rows (`keras-tensorflow`, `keras-jax`, `keras-torch`),
each in its own child process whose environment sets `KERAS_BACKEND` (Keras reads it once, at
import). Training is `model.fit`, one call per harness epoch on the batches in the harness's
order (`shuffle=False`); prediction is `model.predict` / `predict_on_batch`, in inference mode
(dropout off). `jit_compile` is Keras' own "auto": XLA on JAX always, on TensorFlow only where a
GPU is present, eager on PyTorch; `info()` records what was in effect.

Images are channels-last (Keras' default `image_data_format`, on every backend and device; the
PyTorch backend transposes to NCHW inside each convolution). The lessons of the original
comparison are spelt out below: Keras convolutions default to padding "valid" (the contract needs
"same"), max-pool strides default to the pool size, Glorot uniform is Keras' default kernel
initializer and zeros its default bias. The Transformer is `layers.MultiHeadAttention`, which
Keras routes to `ops.dot_product_attention`, whose kernel each backend picks (`info()` records it).

Canonical weights (docs/benchmarks.md §9-10) are converted from and to PyTorch's layouts by the `*_to_keras` /
`*_from_keras` functions, which the TensorFlow implementation (`py_impls.tf_keras`) shares.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

import keras
from keras import layers

from harness.config import CNNConfig, InferenceConfig, RNNConfig, TransformerConfig
from harness.interface import (
    InferenceImplementation,
    RunInfo,
    TrainingData,
    TrainingImplementation,
)
from harness.precision import OutputPrecision
from harness.verify.oracle.resnet50 import BN_EPS, blocks
from harness.verify.oracle.transformer import parameter_shapes

BACKEND = keras.backend.backend()

if BACKEND == "jax":  # the same XLA:CPU setting as the jax-flax rows (py_impls/jax_settings.py)
    from py_impls.jax_settings import switch_off_ynn_fusions

    XLA_CPU_YNN_FUSIONS = switch_off_ynn_fusions()


def backend_sees_gpu() -> bool:
    """Whether the backend Keras runs on will place work on an NVIDIA GPU."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if BACKEND == "jax":
        import jax

        return jax.default_backend() in ("gpu", "cuda")
    if BACKEND == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def resolve_device(requested: str) -> str:
    gpu = backend_sees_gpu()
    if requested == "cuda" and not gpu:
        raise RuntimeError(f"--device cuda was asked for, but Keras' {BACKEND} backend sees no "
                           f"GPU (a CPU build of {BACKEND}, or no visible GPU)")
    if requested == "cpu" and gpu:
        # Keras binds its device when the backend is imported; hiding the GPU is the clean way.
        raise RuntimeError(f"--device cpu was asked for, but Keras' {BACKEND} backend already "
                           f"holds a GPU: run with CUDA_VISIBLE_DEVICES= to hide it")
    return "cuda" if gpu else "cpu"


def to_channels_last(images: np.ndarray) -> np.ndarray:
    """NCHW (canonical) -> NHWC, one contiguous copy made before timing starts."""
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1))


# -- canonical weights (docs/benchmarks.md §9-10): PyTorch state_dict names and layouts <-> Keras layers --

def conv_to_keras(weight: np.ndarray) -> np.ndarray:
    """(O, I, kH, kW) -> Keras' (kH, kW, I, O)."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def conv_from_keras(kernel: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def flattened_dense_to_keras(weight: np.ndarray, chw: tuple[int, int, int],
                             data_format: str) -> np.ndarray:
    """The dense layer after a flatten. PyTorch flattens C,H,W; a channels-last model flattens
    H,W,C, so the input rows of the kernel are permuted to match."""
    if data_format == "channels_first":
        return np.ascontiguousarray(weight.T)
    c, h, w = chw
    return np.ascontiguousarray(
        weight.reshape(-1, c, h, w).transpose(2, 3, 1, 0).reshape(c * h * w, -1))


def flattened_dense_from_keras(kernel: np.ndarray, chw: tuple[int, int, int],
                               data_format: str) -> np.ndarray:
    if data_format == "channels_first":
        return np.ascontiguousarray(kernel.T)
    c, h, w = chw
    return np.ascontiguousarray(
        kernel.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(-1, c * h * w))


def swap_rz(gates: np.ndarray) -> np.ndarray:
    """PyTorch stacks GRU gate blocks r, z, n; Keras stacks z, r, h (h is PyTorch's n). The
    swap of the first two blocks along axis 0 is its own inverse."""
    r, z, n = np.split(gates, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


CNN_FLAT = (100, 8, 8)  # C, H, W entering fc1


def cnn_to_keras(params: dict[str, np.ndarray], data_format: str
                 ) -> dict[str, list[np.ndarray]]:
    """Canonical CNN weights -> {Keras layer name: layer.get_weights() list}."""
    out = {f"conv{i}": [conv_to_keras(params[f"conv{i}.weight"]), params[f"conv{i}.bias"]]
           for i in range(1, 5)}
    out["fc1"] = [flattened_dense_to_keras(params["fc1.weight"], CNN_FLAT, data_format),
                  params["fc1.bias"]]
    out["fc2"] = [np.ascontiguousarray(params["fc2.weight"].T), params["fc2.bias"]]
    return out


def cnn_from_keras(weights: dict[str, list[np.ndarray]], data_format: str
                   ) -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    for i in range(1, 5):
        kernel, bias = weights[f"conv{i}"]
        params[f"conv{i}.weight"], params[f"conv{i}.bias"] = conv_from_keras(kernel), bias
    params["fc1.weight"] = flattened_dense_from_keras(weights["fc1"][0], CNN_FLAT, data_format)
    params["fc1.bias"] = weights["fc1"][1]
    params["fc2.weight"], params["fc2.bias"] = np.ascontiguousarray(weights["fc2"][0].T), \
        weights["fc2"][1]
    return params


def rnn_to_keras(params: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Canonical GRU classifier -> Keras. GRU(reset_after=True) holds kernel (E, 3H),
    recurrent_kernel (H, 3H) and bias (2, 3H): row 0 the input bias, row 1 the recurrent one."""
    return {
        "embedding": [params["embedding.weight"]],
        "gru": [np.ascontiguousarray(swap_rz(params["gru.weight_ih_l0"]).T),
                np.ascontiguousarray(swap_rz(params["gru.weight_hh_l0"]).T),
                np.stack([swap_rz(params["gru.bias_ih_l0"]), swap_rz(params["gru.bias_hh_l0"])])],
        "fc": [np.ascontiguousarray(params["fc.weight"].T), params["fc.bias"]],
    }


def rnn_from_keras(weights: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    kernel, recurrent, bias = weights["gru"]
    return {
        "embedding.weight": weights["embedding"][0],
        "gru.weight_ih_l0": np.ascontiguousarray(swap_rz(kernel.T)),
        "gru.weight_hh_l0": np.ascontiguousarray(swap_rz(recurrent.T)),
        "gru.bias_ih_l0": swap_rz(bias[0]), "gru.bias_hh_l0": swap_rz(bias[1]),
        "fc.weight": np.ascontiguousarray(weights["fc"][0].T), "fc.bias": weights["fc"][1],
    }


def transformer_layers(model: keras.Model, config: TransformerConfig) -> dict[str, layers.Layer]:
    """Canonical module name -> the Keras layer holding its parameters; an attention layer's
    four projections are its EinsumDense sublayers."""
    embedding = model.get_layer("embedding")
    found = {"embedding": embedding.token, "position": embedding.position,
             "ln_f": model.get_layer("ln_f"), "fc": model.get_layer("fc")}
    for i in range(config.blocks):
        attn = model.get_layer(f"blocks_{i}_attn")
        found.update({f"blocks.{i}.attn.{name}": getattr(attn, f"{keras_dense}_dense")
                      for name, keras_dense in (("query", "query"), ("key", "key"),
                                                ("value", "value"), ("out", "output"))})
        found.update({f"blocks.{i}.{m}": model.get_layer(keras_name(f"blocks.{i}.{m}"))
                      for m in ("ln1", "ln2", "mlp.fc1", "mlp.fc2")})
    return found


def transformer_to_keras(model: keras.Model, config: TransformerConfig,
                         params: dict[str, np.ndarray]) -> None:
    """Canonical weights into the model. A dense weight (out, in) becomes the kernel (in, out),
    reshaped to the layer's: MultiHeadAttention holds query/key/value kernels (D, heads, 32) with
    biases (heads, 32), and the output kernel (heads, 32, D); head i is canonical features
    32i..32i+31 in both, so a row-major reshape is the whole conversion."""
    for module, layer in transformer_layers(model, config).items():
        current = layer.get_weights()  # [kernel, bias], [gamma, beta] or [table]
        values = [params[f"{module}.{field}"] for field in ("weight", "bias")[:len(current)]]
        if isinstance(layer, (layers.Dense, layers.EinsumDense)):
            values[0] = values[0].T
        layer.set_weights([np.asarray(v, np.float32).reshape(c.shape)
                           for v, c in zip(values, current)])


def transformer_from_keras(model: keras.Model, config: TransformerConfig
                           ) -> dict[str, np.ndarray]:
    shapes, params = parameter_shapes(), {}
    for module, layer in transformer_layers(model, config).items():
        kernel = isinstance(layer, (layers.Dense, layers.EinsumDense))
        for field, value in zip(("weight", "bias"), layer.get_weights()):
            shape = shapes[f"{module}.{field}"]
            params[f"{module}.{field}"] = np.ascontiguousarray(
                value.reshape(shape[::-1]).T if kernel and field == "weight"
                else value.reshape(shape))
    return params


def keras_name(torch_name: str) -> str:
    """torchvision module name -> Keras layer name ("layer1.0.conv1" -> "layer1_0_conv1")."""
    return torch_name.replace(".", "_")


BN_FIELDS = ("weight", "bias", "running_mean", "running_var")  # = gamma, beta, moving mean/var


def resnet50_to_keras(params: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for name in params:
        module, field = name.rsplit(".", 1)
        if field == "weight" and params[name].ndim == 4:
            out[keras_name(module)] = [conv_to_keras(params[name])]
        elif field == "weight":
            out[keras_name(module)] = [params[f"{module}.{f}"] for f in BN_FIELDS]
    return out


def resnet50_from_keras(model: keras.Model) -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    for layer in model.layers:
        values = layer.get_weights()
        module = layer.name.replace("_", ".")
        if isinstance(layer, layers.Conv2D):
            params[f"{module}.weight"] = conv_from_keras(values[0])
        elif isinstance(layer, layers.BatchNormalization):
            params.update({f"{module}.{f}": v for f, v in zip(BN_FIELDS, values)})
    return params


def set_layer_weights(model: keras.Model, weights: dict[str, list[np.ndarray]]) -> None:
    for name, values in weights.items():
        model.get_layer(name).set_weights([np.asarray(v, dtype=np.float32) for v in values])


def layer_weights(model: keras.Model, names: list[str]) -> dict[str, list[np.ndarray]]:
    return {name: [np.asarray(v) for v in model.get_layer(name).get_weights()] for name in names}


def fit_in_order(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
    """One `fit` epoch over x, y in their order. On TensorFlow `fit` wraps arrays in a tf.data
    pipeline, and the end of each call waits for its autotuning thread: about 0.5 s, on some
    calls and not others (3-step quick windows took 0.80 or 1.31 s, one mode or the other, so a
    process's figure came out 1x or 1.6x). The harness calls fit once a timed window, so the
    same batches go through a pipeline with autotuning off; other backends take the arrays."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        options = tf.data.Options()
        options.autotune.enabled = False
        batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        model.fit(batches.with_options(options), epochs=1, verbose=0)
    else:
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)


def dense_gradient(gradient):
    """TensorFlow hands an Embedding's gradient over as IndexedSlices, one slice per token, a
    row repeated for a repeated token; keras.ops.square squares each slice on its own, so Adam's
    second moment would get sum(g_i^2) instead of (sum g_i)^2. Summing the rows first is
    PyTorch's dense gradient."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return tf.convert_to_tensor(gradient)
    return gradient


class TorchFormAdam(keras.optimizers.Adam):
    """Adam as docs/benchmarks.md §3 and torch.optim.Adam define it: w <- w - lr m_hat / (sqrt(v_hat) + eps).

    Keras' own Adam adds epsilon to sqrt(v) before the bias correction (the paper's "epsilon
    hat"): in step 1 an effective epsilon of 3.2e-7 instead of 1e-8, which changes the small
    embedding updates of the GRU by 39% (harness/verify/oracle/README.md) - a different function, so
    the update is written out here in keras.ops, the same on every backend."""

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = keras.ops.cast(learning_rate, dtype)
        gradient = keras.ops.cast(dense_gradient(gradient), dtype)
        step = keras.ops.cast(self.iterations + 1, dtype)
        bias_1 = 1 - keras.ops.power(keras.ops.cast(self.beta_1, dtype), step)
        bias_2 = 1 - keras.ops.power(keras.ops.cast(self.beta_2, dtype), step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, keras.ops.multiply(keras.ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, keras.ops.multiply(
            keras.ops.subtract(keras.ops.square(gradient), v), 1 - self.beta_2))
        denominator = keras.ops.add(keras.ops.sqrt(keras.ops.divide(v, bias_2)), self.epsilon)
        self.assign_sub(variable, keras.ops.divide(
            keras.ops.multiply(keras.ops.divide(m, bias_1), lr), denominator))


# -- the three networks, in Keras layers (tf.keras is the same Keras 3 in TensorFlow 2.16+) --

def cnn_model(config: CNNConfig, data_format: str = "channels_last") -> keras.Sequential:
    """docs/benchmarks.md §2. padding="same" on every convolution (Keras' default is "valid"); MaxPooling2D's
    strides default to the pool size (2); Glorot-uniform kernels and zero biases are Keras'
    defaults. The flatten follows `data_format` (H,W,C when channels-last)."""
    shape = ((config.height, config.width, config.channels) if data_format == "channels_last"
             else (config.channels, config.height, config.width))
    conv = dict(kernel_size=3, padding="same", data_format=data_format)
    return keras.Sequential([
        keras.Input(shape),
        layers.Conv2D(50, activation="relu", name="conv1", **conv),
        layers.Conv2D(50, name="conv2", **conv),
        layers.MaxPooling2D(2, data_format=data_format, name="pool1"),
        layers.ReLU(name="relu2"), layers.Dropout(0.25, name="drop1"),
        layers.Conv2D(100, activation="relu", name="conv3", **conv),
        layers.Conv2D(100, name="conv4", **conv),
        layers.MaxPooling2D(2, data_format=data_format, name="pool2"),
        layers.ReLU(name="relu4"), layers.Dropout(0.25, name="drop2"),
        layers.Flatten(data_format=data_format, name="flatten"),
        layers.Dense(512, activation="relu", name="fc1"), layers.Dropout(0.5, name="drop3"),
        layers.Dense(config.n_classes, name="fc2"),  # logits: softmax lives in the loss
    ], name="cnn")


# For `verify`: the canonical activation each Keras layer's output is (a fused ReLU makes the
# output of conv1, conv3 and fc1 the canonical relu1, relu3 and relu5).
CNN_ACTIVATIONS = {"conv1": "relu1", "conv2": "conv2", "pool1": "pool1", "relu2": "relu2",
                   "conv3": "relu3", "conv4": "conv4", "pool2": "pool2", "relu4": "relu4",
                   "flatten": "flatten", "fc1": "relu5", "fc2": "fc2"}


def gru_model(config: RNNConfig, use_cudnn: bool | str = "auto") -> keras.Sequential:
    """docs/benchmarks.md §3. GRU(reset_after=True) with tanh/sigmoid is the cuDNN formulation (gates applied
    as PyTorch's nn.GRU does); return_sequences=False yields the last step, padding included.
    Initialised by §3's rule, not Keras' defaults (uniform +-0.05 embedding, Glorot and
    orthogonal GRU kernels, zero biases): embedding N(0, 1), every GRU matrix and bias
    U(-1/sqrt(H), 1/sqrt(H)); the dense layer keeps Keras' Glorot kernel and zero bias."""
    bound = 1 / math.sqrt(config.hidden)

    def recurrent() -> keras.initializers.Initializer:  # one instance a tensor: its own draws
        return keras.initializers.RandomUniform(-bound, bound)

    return keras.Sequential([
        keras.Input((config.seq_len,), dtype="int32"),
        layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding",
                         embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)),
        layers.GRU(config.hidden, reset_after=True, use_cudnn=use_cudnn, name="gru",
                   kernel_initializer=recurrent(), recurrent_initializer=recurrent(),
                   bias_initializer=recurrent()),
        layers.Dense(config.n_classes, name="fc"),
    ], name="gru_classifier")


class TokenAndPositionEmbedding(layers.Layer):
    """A token table plus a learned position table, as in keras.io's Transformer text
    classifier (Keras has no position-embedding layer). Both N(0, 0.02) by §3b's rule (Keras'
    Embedding default is uniform +-0.05)."""

    def __init__(self, config: TransformerConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.token, self.position = (
            layers.Embedding(rows, config.d_model, name=name,
                             embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02))
            for name, rows in (("token", config.vocab_size), ("position", config.seq_len)))

    def call(self, tokens):
        return self.token(tokens) + self.position(keras.ops.arange(keras.ops.shape(tokens)[-1]))


def transformer_model(config: TransformerConfig) -> keras.Model:
    """docs/benchmarks.md §3b: pre-LayerNorm encoder blocks, layers named as the canonical
    modules ("blocks.0.ln1" -> "blocks_0_ln1"; a block's output is the Add named "blocks_0").
    LayerNormalization's epsilon is set to 1e-5 (Keras' default is 1e-3). MultiHeadAttention's
    and Dense's defaults are the rule's: Glorot-uniform kernels and zero biases; EinsumDense
    tells Glorot the input and output axes of a (D, heads, 32) kernel, so the fans are the
    128 x 128 matrix's, not a convolution's. No attention mask, no dropout."""
    exact_gelu = partial(keras.activations.gelu, approximate=False)  # erf, not the tanh form
    tokens = keras.Input((config.seq_len,), dtype="int32")
    x = TokenAndPositionEmbedding(config, name="embedding")(tokens)
    for i in range(config.blocks):
        n = f"blocks_{i}"
        h = layers.LayerNormalization(epsilon=config.ln_eps, name=f"{n}_ln1")(x)
        h = layers.MultiHeadAttention(config.heads, config.head_dim, name=f"{n}_attn")(h, h)
        x = layers.Add(name=f"{n}_attention_residual")([x, h])
        h = layers.LayerNormalization(epsilon=config.ln_eps, name=f"{n}_ln2")(x)
        h = layers.Dense(config.mlp_dim, activation=exact_gelu, name=f"{n}_mlp_fc1")(h)
        x = layers.Add(name=n)([x, layers.Dense(config.d_model, name=f"{n}_mlp_fc2")(h)])
    x = layers.LayerNormalization(epsilon=config.ln_eps, name="ln_f")(x)
    pooled = layers.GlobalAveragePooling1D(name="pooled")(x)  # all 150 positions, padding too
    return keras.Model(tokens, layers.Dense(config.n_classes, name="fc")(pooled),
                       name="transformer_classifier")


# For `verify`: Keras layer -> canonical activation (the embedding layer's output is the sum).
TRANSFORMER_ACTIVATIONS = {"embedding": "embedding",
                           **{f"blocks_{i}": f"blocks.{i}" for i in range(TransformerConfig().blocks)},
                           "pooled": "pooled", "fc": "fc"}


def resnet50_v15(data_format: str = "channels_last") -> keras.Model:
    """torchvision's ResNet-50 (v1.5: stride on the 3x3 convolution) up to the global average
    pool, from Keras layers (keras.applications.ResNet50 is v1). Padding is explicit
    (ZeroPadding2D + "valid"): Keras "same" with stride 2 pads right/bottom only, PyTorch pads
    both sides. Batch-norm epsilon 1e-5 as torchvision (Keras' own ResNet uses 1.001e-5)."""
    axis = -1 if data_format == "channels_last" else 1
    df = dict(data_format=data_format)

    def conv(x, filters: int, kernel: int, stride: int, name: str):
        if kernel > 1:
            x = layers.ZeroPadding2D(kernel // 2, **df)(x)
        return layers.Conv2D(filters, kernel, strides=stride, use_bias=False, name=name, **df)(x)

    def bn(x, name: str):
        return layers.BatchNormalization(axis=axis, epsilon=BN_EPS, momentum=0.9, name=name)(x)

    inputs = keras.Input((None, None, 3) if axis == -1 else (3, None, None))
    x = layers.ReLU(name="relu")(bn(conv(inputs, 64, 7, 2, "conv1"), "bn1"))
    # max-pool padding: zeros equal PyTorch's -inf here, since every input is >= 0 after ReLU
    x = layers.MaxPooling2D(3, strides=2, name="maxpool", **df)(layers.ZeroPadding2D(1, **df)(x))
    for name, _, planes, stride, down in blocks():
        n = keras_name(name)
        out = layers.ReLU()(bn(conv(x, planes, 1, 1, f"{n}_conv1"), f"{n}_bn1"))
        out = layers.ReLU()(bn(conv(out, planes, 3, stride, f"{n}_conv2"), f"{n}_bn2"))
        out = bn(conv(out, planes * 4, 1, 1, f"{n}_conv3"), f"{n}_bn3")
        if down:
            x = bn(conv(x, planes * 4, 1, stride, f"{n}_downsample_0"), f"{n}_downsample_1")
        x = layers.ReLU(name=n)(layers.Add()([out, x]))  # named as torchvision's block
    features = layers.GlobalAveragePooling2D(name="avgpool", **df)(x)
    return keras.Model(inputs, features, name="resnet50_v15")


RESNET50_ACTIVATIONS = {keras_name(n): n for n in
                        ("conv1", "bn1", "relu", "maxpool", *(b[0] for b in blocks()), "avgpool")}


# -- for `verify`: one step with dropout off, intermediate outputs, a fresh optimizer --

def layer_outputs(model: keras.Model, names: dict[str, str], x: np.ndarray,
                  data_format: str) -> dict[str, np.ndarray]:
    """Outputs of the Keras layers `names` (-> canonical names) in inference mode, in the
    canonical layout: feature maps NCHW, a flatten in C,H,W order."""
    wanted = [name for name in names if name in {layer.name for layer in model.layers}]
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in wanted])
    values = probe.predict_on_batch(x)
    out = {}
    for name, value in zip(wanted, values if len(wanted) > 1 else [values]):
        value = np.asarray(value, dtype=np.float32)  # bf16 under the mixed policy
        if data_format == "channels_last" and value.ndim == 4:
            value = value.transpose(0, 3, 1, 2)
        elif data_format == "channels_last" and name == "flatten":
            h, w, c = CNN_FLAT[1], CNN_FLAT[2], CNN_FLAT[0]
            value = value.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(len(value), -1)
        out[names[name]] = np.ascontiguousarray(value)
    return out


def set_dropout(model: keras.Model, active: bool) -> dict[str, float]:
    """Disable (active=False) every Dropout layer by a zero rate; returns the rates it had.
    Keras reads the rate when it traces a step, so a step traced afterwards has no dropout."""
    rates = {}
    for layer in model.layers:
        if isinstance(layer, layers.Dropout):
            rates[layer.name] = layer.rate
            if not active:
                layer.rate = 0.0
    return rates


def reset_optimizer(optimizer: keras.optimizers.Optimizer) -> None:
    """Back to no steps taken: iteration count, momentum and moment slots to zero."""
    if not optimizer.built:
        return
    for variable in optimizer.variables:
        if "learning_rate" not in variable.path:
            variable.assign(np.zeros(variable.shape, variable.dtype))


# -- run-wide: device, synchronisation, description --

def keras_gru_uses_cudnn(gru: layers.GRU, device: str) -> bool:
    """Whether Keras' fused cuDNN GRU kernel runs for this layer, by the backend's own test."""
    if gru.use_cudnn is False or device != "cuda":
        return False
    cell = gru.cell
    args = (cell.activation, cell.recurrent_activation, gru.unroll, cell.use_bias)
    if BACKEND == "tensorflow":
        from keras.src.backend.tensorflow.rnn import cudnn_ok

        return bool(cudnn_ok(*args, reset_after=cell.reset_after))
    if BACKEND == "torch":
        from keras.src.backend.torch.rnn import cudnn_ok

        return bool(cudnn_ok(*args)) and cell.reset_after
    return False  # JAX: Keras' GRU is a lax.scan (jax.experimental.rnn has no GRU)


def keras_attention(device: str) -> str:
    """What layers.MultiHeadAttention runs for the Transformer's fp32 shapes. Without dropout
    or returned scores it calls ops.dot_product_attention (flash_attention=None: the backend
    decides), and each backend's choice is asked of its own test, as Keras asks it."""
    c = TransformerConfig()
    shape = (c.batch_size, c.seq_len, c.heads, c.head_dim)  # Keras' (batch, time, heads, dim)
    if BACKEND == "tensorflow":  # no fused kernel: two einsums around a softmax
        return "layers.MultiHeadAttention: einsum + softmax (ops.dot_product_attention)"
    if BACKEND == "jax":
        import jax.numpy as jnp
        from keras.src.backend.jax.nn import _can_use_flash_attention

        q = jnp.zeros(shape, jnp.float32)  # cuDNN's fused attention takes fp16/bf16 only
        kernel = "cudnn" if _can_use_flash_attention(q, q, q, None) else "xla"
        return f"layers.MultiHeadAttention: jax.nn.dot_product_attention ({kernel})"
    import torch
    from keras.src.backend.torch.nn import _can_use_flash_attention

    from py_impls.pytorch import sdpa_backend

    # Keras forces flash only where PyTorch can use it (not fp32); else SDPA's dispatcher picks
    q = torch.zeros(shape, device=device).transpose(1, 2)
    kernel = "flash" if _can_use_flash_attention(q, q, q) else sdpa_backend(torch.device(device))
    return f"layers.MultiHeadAttention: F.scaled_dot_product_attention ({kernel})"


def precision_in_effect(device: str) -> str:
    if device == "cpu":
        return "fp32"
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return (f"fp32 (TensorFlow default: TF32="
                f"{tf.config.experimental.tensor_float_32_execution_enabled()})")
    if BACKEND == "jax":
        import jax

        setting = jax.config.jax_default_matmul_precision or "default"
        return f"fp32 (JAX matmul/conv precision {setting}: TF32 on GPUs that have it)"
    import torch

    return (f"fp32 (PyTorch default: cuDNN conv TF32={torch.backends.cudnn.allow_tf32}, "
            f"matmul TF32={torch.backends.cuda.matmul.allow_tf32})")


def backend_version() -> str:
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[BACKEND]
    return __import__(module).__version__


def gpu_name() -> str:
    if BACKEND == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    if BACKEND == "jax":
        import jax

        return jax.devices()[0].device_kind
    import torch

    return torch.cuda.get_device_name()


def strict_fp32() -> str:
    """Strict fp32 with the backend's own switch (Keras has none of its own); what is in
    effect, read back."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
        enabled = tf.config.experimental.tensor_float_32_execution_enabled()
        return f"TensorFlow tensor_float_32_execution={enabled}"
    if BACKEND == "jax":
        from py_impls.jax_settings import strict_fp32 as jax_strict_fp32

        return jax_strict_fp32()
    from py_impls.pytorch import strict_fp32 as torch_strict_fp32

    return torch_strict_fp32()


class KerasPrecision(OutputPrecision):
    """bf16-mixed the Keras way (`--precision bf16-mixed`, docs/benchmarks.md §8), for the
    Keras 3 rows and the TensorFlow rows: the `mixed_bfloat16` dtype policy makes every layer
    built under it compute in bf16 while its variables stay fp32, and Keras' losses cast their
    inputs to fp32. fp32-strict is the backend's switch (`strict_fp32`)."""

    def set_dtype_policy(self) -> None:
        """Before a model is built: the policy of the precision asked for (Keras' is global),
        and the backend's strict-fp32 switch when that was asked for."""
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16" if self.bf16 else "float32")
        if self.strict:
            self.strict_settings = strict_fp32()

    def precision(self, otherwise: str) -> str:
        """The record's precision: from the outputs' dtype when bf16 was asked for."""
        return self.precision_record("Keras mixed_bfloat16 policy: bf16 compute, fp32 variables",
                                     otherwise)

    def matmul_dtype(self) -> str:
        """The calibration's operands: the peak of the run's precision."""
        return "bfloat16" if self.bf16 else "float32"


class _KerasRun(KerasPrecision):
    """Device, synchronisation and the run's description, shared by the three benchmarks."""

    requested_device: str
    model: keras.Model

    @property
    def device(self) -> str:
        if not hasattr(self, "_device"):
            self._device = resolve_device(self.requested_device)
        return self._device

    def sync(self) -> None:
        if BACKEND == "tensorflow":
            import tensorflow as tf

            tf.test.experimental.sync_devices()
        elif BACKEND == "jax":
            import jax

            # Results come back as NumPy (already complete); the training state lives in the
            # variables Keras writes back after fit: wait for every one of them.
            model = getattr(self, "model", None)
            if model is not None:
                optimizer = getattr(model, "optimizer", None)
                variables = list(model.variables) + (list(optimizer.variables) if optimizer else [])
                jax.block_until_ready([v.value for v in variables])
        elif BACKEND == "torch" and self.device == "cuda":
            import torch

            torch.cuda.synchronize()

    def matmul(self, n: int):
        a, b = (keras.random.uniform((n, n), seed=seed, dtype=self.matmul_dtype())
                for seed in (0, 1))

        def multiply() -> None:
            product = keras.ops.matmul(a, b)
            if BACKEND == "jax":  # `sync` waits for the model's variables, not for this
                import jax

                jax.block_until_ready(product)
            else:
                self.sync()
        return multiply

    def device_memory_peak(self) -> int | None:
        if self.device != "cuda":
            return None
        if BACKEND == "torch":
            import torch

            return torch.cuda.max_memory_allocated()
        if BACKEND == "jax":
            import jax

            return (jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use")
        import tensorflow as tf

        return tf.config.experimental.get_memory_info("GPU:0")["peak"]

    def info(self) -> RunInfo:
        model = getattr(self, "model", None)
        return RunInfo(
            framework=f"Keras ({BACKEND})",
            framework_version=keras.__version__,
            device=self.device,
            device_name=gpu_name() if self.device == "cuda" else "cpu",
            precision=self.precision("" if self.strict else precision_in_effect(self.device)),
            extra={
                "backend": BACKEND,
                "backend_version": backend_version(),
                "jit_compile": getattr(model, "jit_compile", None),
                "image_data_format": "channels_last",
                **({"xla_cpu_ynn_fusions": XLA_CPU_YNN_FUSIONS} if BACKEND == "jax" else {}),
            },
        )


class CNN(_KerasRun, TrainingImplementation):
    """docs/benchmarks.md §2: VGG-style CNN on CIFAR-10, SGD with momentum, `model.fit` per epoch."""

    data_format = "channels_last"

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.device  # noqa: B018 - fail before timing if the device cannot be had
        self.x_train = to_channels_last(data.x_train)  # NHWC copy, before timing
        self.y_train = data.y_train
        self.x_test = to_channels_last(data.x_test)

    # == model ==
    def build(self, config: CNNConfig, seed: int) -> None:
        self.config = config
        keras.utils.set_random_seed(seed)
        self.set_dtype_policy()
        self.model = cnn_model(config, self.data_format)

        # == loss and optimizer ==
        # Keras' momentum m <- 0.9 m - lr g; w <- w + m is PyTorch's heavy ball at a fixed lr.
        self.model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=config.lr, momentum=config.momentum),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        # The harness's permutation, batched in order.
        fit_in_order(self.model, self.x_train[order], self.y_train[order], self.config.batch_size)

    # == prediction ==
    def predict(self) -> np.ndarray:
        # predict() runs the layers with training=False: dropout off.
        return self.outputs(self.model.predict(self.x_test, batch_size=self.config.batch_size,
                                               verbose=0))

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        set_layer_weights(self.model, cnn_to_keras(params, self.data_format))
        reset_optimizer(self.model.optimizer)

    def get_weights(self) -> dict[str, np.ndarray]:
        names = ["conv1", "conv2", "conv3", "conv4", "fc1", "fc2"]
        return cnn_from_keras(layer_weights(self.model, names), self.data_format)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return keras_verify_step(self.model, to_channels_last(x), y)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return layer_outputs(self.model, CNN_ACTIVATIONS, to_channels_last(x), self.data_format)


def keras_verify_step(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    """One `train_on_batch` (the step `fit` takes) with dropout off; the batch's loss, as
    computed before the update."""
    if not getattr(model, "_verify_traced", False):
        set_dropout(model, active=False)
        model.make_train_function(force=True)  # traced afresh: without dropout
        model._verify_traced = True
    return float(model.train_on_batch(x, y))


class _ReviewClassifier(_KerasRun):
    """What the GRU and the Transformer share: the IMDB token ids, Adam in PyTorch's form, the
    cross-entropy and `model.fit` per epoch; each adds its model."""

    config: RNNConfig | TransformerConfig

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.device  # noqa: B018 - fail before timing if the device cannot be had
        self.x_train, self.y_train, self.x_test = data.x_train, data.y_train, data.x_test

    # == loss and optimizer ==
    def compile_model(self) -> None:
        # TorchFormAdam: Keras' Adam class with epsilon where docs/benchmarks.md §3 (PyTorch) puts it.
        c = self.config
        self.model.compile(
            optimizer=TorchFormAdam(learning_rate=c.lr, beta_1=c.beta1, beta_2=c.beta2,
                                    epsilon=c.eps),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        fit_in_order(self.model, self.x_train[order], self.y_train[order], self.config.batch_size)

    # == prediction ==
    def predict(self) -> np.ndarray:
        return self.outputs(self.model.predict(self.x_test, batch_size=self.config.batch_size,
                                               verbose=0))

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return keras_verify_step(self.model, x, y)


class RNN(_ReviewClassifier, TrainingImplementation):
    """docs/benchmarks.md §3: embedding -> GRU (reset_after=True, cuDNN where the backend has it) -> dense.

    Initialised by docs/benchmarks.md §3's rule (`gru_model`), as every row. Data, loss,
    optimizer, training and prediction: `_ReviewClassifier`."""

    # == model ==
    def build(self, config: RNNConfig, seed: int) -> None:
        self.config = config
        keras.utils.set_random_seed(seed)
        self.set_dtype_policy()
        self.model = gru_model(config)
        self.compile_model()

    def info(self) -> RunInfo:
        run = super().info()
        gru = self.model.get_layer("gru") if hasattr(self, "model") else None
        run.cudnn = keras_gru_uses_cudnn(gru, self.device) if gru is not None else None
        return run

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        set_layer_weights(self.model, rnn_to_keras(params))
        reset_optimizer(self.model.optimizer)

    def get_weights(self) -> dict[str, np.ndarray]:
        return rnn_from_keras(layer_weights(self.model, ["embedding", "gru", "fc"]))

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        # The GRU layer yields only its last step (return_sequences=False): not compared.
        return layer_outputs(self.model, {"embedding": "embedding", "fc": "fc"}, x,
                             "channels_last")


class Transformer(_ReviewClassifier, TrainingImplementation):
    """docs/benchmarks.md §3b: token + position embedding -> 2 pre-LayerNorm encoder blocks
    (layers.MultiHeadAttention) -> LayerNorm -> mean over positions -> dense. Data, loss,
    optimizer, training and prediction are the GRU's (`_ReviewClassifier`)."""

    # == model ==
    def build(self, config: TransformerConfig, seed: int) -> None:
        self.config = config
        keras.utils.set_random_seed(seed)
        self.set_dtype_policy()
        self.model = transformer_model(config)
        self.compile_model()

    def info(self) -> RunInfo:
        run = super().info()
        run.attention = keras_attention(self.device)
        return run

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        transformer_to_keras(self.model, self.config, params)
        reset_optimizer(self.model.optimizer)

    def get_weights(self) -> dict[str, np.ndarray]:
        return transformer_from_keras(self.model, self.config)

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return layer_outputs(self.model, TRANSFORMER_ACTIVATIONS, x, "channels_last")


class ResNet50Features(_KerasRun, InferenceImplementation):
    """docs/benchmarks.md §4: ResNet-50 v1.5 from Keras layers, inference mode, cut after the average pool."""

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.device  # noqa: B018 - fail before timing if the device cannot be had
        self.images = to_channels_last(images)  # NHWC copy; batches are copied per call

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        keras.utils.set_random_seed(seed)
        self.set_dtype_policy()
        self.model = resnet50_v15()
        if weights is not None:
            set_layer_weights(self.model, resnet50_to_keras(
                {k: v for k, v in weights.items() if not k.startswith("fc.")}))

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        # predict_on_batch: Keras' compiled predict step, training=False (batch-norm statistics)
        return self.outputs(self.model.predict_on_batch(self.images[start:stop]))

    def get_weights(self) -> dict[str, np.ndarray]:
        return resnet50_from_keras(self.model)

    def activations(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return layer_outputs(self.model, RESNET50_ACTIVATIONS, to_channels_last(images),
                             "channels_last")
