"""Work per sample: the floating-point operations of each built-in network, counted from its
configuration.

The convention (docs/benchmarks.md, section 11), the one MLPerf and nanoGPT's `estimate_mfu`
use:
- 2 operations per multiply-add;
- only matrix products are counted: convolutions, dense layers, the GRU's input and hidden
  products, attention's two batched products (the scores, and their product with the values).
  Element-wise work (activations, pooling, batch-norm, layer-norm, bias adds, softmax, the
  loss, the optimizer's update) and the embedding lookups are left out: together they are
  under 2% of each network's total, and frameworks fuse them differently;
- a training step is 3 forward passes: the forward pass, the gradient with respect to the
  activations and the gradient with respect to the weights each cost one (the first layer's
  input gradient, which no framework needs, is counted too, for simplicity).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.config import CNNConfig, InferenceConfig, RNNConfig, TransformerConfig

TRAINING_FACTOR = 3


@dataclass(frozen=True)
class Flops:
    """Floating-point operations of one sample."""

    forward: int
    train_step: int | None  # None: an inference-only benchmark


def conv_macs(c_in: int, c_out: int, kernel: int, out_h: int, out_w: int) -> int:
    return c_in * c_out * kernel * kernel * out_h * out_w


def training(forward_macs: int) -> Flops:
    forward = 2 * forward_macs
    return Flops(forward, TRAINING_FACTOR * forward)


def cnn_flops(c: CNNConfig) -> Flops:
    h, w = c.height, c.width
    macs = (conv_macs(c.channels, 50, 3, h, w) + conv_macs(50, 50, 3, h, w)
            + conv_macs(50, 100, 3, h // 2, w // 2) + conv_macs(100, 100, 3, h // 2, w // 2)
            + 100 * (h // 4) * (w // 4) * 512 + 512 * c.n_classes)
    return training(macs)


def gru_flops(c: RNNConfig) -> Flops:
    per_step = 3 * c.hidden * c.embedding_dim + 3 * c.hidden * c.hidden
    return training(c.seq_len * per_step + c.hidden * c.n_classes)


def transformer_flops(c: TransformerConfig) -> Flops:
    """Per block: the query, key, value and output projections (4 T D^2), the attention
    scores q k^T and their product with v (T^2 D each, over all heads), the MLP (2 T D M);
    then the classifier."""
    t, d = c.seq_len, c.d_model
    per_block = 4 * t * d * d + 2 * t * t * d + 2 * t * d * c.mlp_dim
    return training(c.blocks * per_block + d * c.n_classes)


# ResNet-50 v1.5 stages: (bottleneck width, blocks, stride of the first block's 3x3 conv).
RESNET50_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))


def resnet50_flops(c: InferenceConfig) -> Flops:
    """Up to global average pooling (the fc layer is cut off)."""
    size = (c.image_size + 1) // 2  # conv1: 7x7 stride 2, padding 3
    macs = conv_macs(3, 64, 7, size, size)
    size = (size + 1) // 2  # max-pool 3x3 stride 2, padding 1
    channels = 64
    for width, blocks, stride in RESNET50_STAGES:
        for block in range(blocks):
            s = stride if block == 0 else 1
            out = (size + s - 1) // s  # v1.5: the stride sits on the 3x3 conv
            macs += conv_macs(channels, width, 1, size, size)
            macs += conv_macs(width, width, 3, out, out)
            macs += conv_macs(width, 4 * width, 1, out, out)
            if block == 0:  # projection shortcut
                macs += conv_macs(channels, 4 * width, 1, out, out)
            channels, size = 4 * width, out
    return Flops(2 * macs, None)
