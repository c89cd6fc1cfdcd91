"""Learnable synthetic stand-ins for CIFAR-10 and IMDB (docs/benchmarks.md §6): same shapes and dtypes as the
real data, a class-dependent signal plus noise, so a correct implementation clearly beats chance
(measured after one quick-profile epoch, 50 steps, two seeds: the CNN 0.85-0.91, the GRU
0.87-0.94; chance is 0.1 and 0.5).

Rows are made in blocks of 1,000 from their own seeded streams, so the first n rows do not
depend on how many rows are made, and each block has exactly balanced labels.
"""

from __future__ import annotations

import colorsys

import numpy as np

GENERATOR_VERSION = 1  # bump when the data change, so cached files are made again
SEED = 0
BLOCK = 1000
TRAIN, TEST = 0, 1

# CIFAR-10: a class is a colour and a low-frequency stripe pattern; images add noise to it.
CIFAR_PATTERN_AMPLITUDE = 45.0
CIFAR_BRIGHTNESS_SD = 20.0  # per image
CIFAR_NOISE_SD = 40.0  # per pixel, uniform

# IMDB: a review is background words with "sentiment" words of its class sprinkled densely.
VOCAB = 30_000
SEQ_LEN = 150
SENTIMENT_IDS = (np.arange(20, 25), np.arange(25, 30))  # low ids: many embedding updates
SENTIMENT_RATE = 0.2  # share of positions holding a word of the review's class
CONFUSER_RATE = 0.05  # share holding a word of the other class
SHORT_SHARE = 0.1  # reviews shorter than SEQ_LEN (start marker, zero padding at the end)


def block_rng(seed: int, split: int, block: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, split, block]))


def balanced_labels(rng: np.random.Generator, n: int, n_classes: int) -> np.ndarray:
    return rng.permutation(np.arange(n) % n_classes).astype(np.int32)


def blocks(n: int):
    for index, start in enumerate(range(0, n, BLOCK)):
        yield index, start, min(start + BLOCK, n)


def cifar_templates(seed: int) -> np.ndarray:
    """(10, 3, 32, 32) float32 class means: a distinct hue and stripe orientation per class."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 99]))
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32) / 32
    templates = np.empty((10, 3, 32, 32), np.float32)
    for c in range(10):
        rgb = np.array(colorsys.hsv_to_rgb(c / 10, 0.7, 0.8), np.float32) * 255
        angle = np.pi * c / 10 + rng.uniform(-0.1, 0.1)
        frequency = 1.5 + (c % 3)
        stripes = np.sin(2 * np.pi * frequency * (np.cos(angle) * xx + np.sin(angle) * yy))
        templates[c] = rgb[:, None, None] + CIFAR_PATTERN_AMPLITUDE * stripes
    return templates


def synthetic_cifar10(seed: int = SEED, n_train: int = 50_000,
                      n_test: int = 10_000) -> dict[str, np.ndarray]:
    """x uint8 (N, 3, 32, 32) NCHW, y int32 (N,) in 0..9, like cifar10.h5."""
    templates = cifar_templates(seed)
    out = {}
    for split, name, n in ((TRAIN, "train", n_train), (TEST, "test", n_test)):
        x = np.empty((n, 3, 32, 32), np.uint8)
        y = np.empty(n, np.int32)
        for index, start, stop in blocks(n):
            rng = block_rng(seed, split, index)
            # Always a whole block from the stream, so a row never depends on n.
            labels = balanced_labels(rng, BLOCK, 10)
            # Uniform pixel noise from random bytes: several times faster than normal draws.
            pixels = rng.integers(0, 256, (BLOCK, 3, 32, 32), np.uint8).astype(np.float32)
            pixels *= CIFAR_NOISE_SD * np.sqrt(12) / 255
            pixels -= CIFAR_NOISE_SD * np.sqrt(3)
            pixels += templates[labels]
            pixels += CIFAR_BRIGHTNESS_SD * rng.standard_normal((BLOCK, 1, 1, 1), np.float32)
            np.clip(pixels, 0, 255, out=pixels)
            x[start:stop] = pixels[: stop - start]
            y[start:stop] = labels[: stop - start]
        out[f"x_{name}"], out[f"y_{name}"] = x, y
    return out


def synthetic_imdb(seed: int = SEED, n_train: int = 25_000,
                   n_test: int = 25_000) -> dict[str, np.ndarray]:
    """x int32 (N, 150) token ids as after docs/benchmarks.md §3's preprocessing, y int32 (N,) in 0..1."""
    out = {}
    for split, name, n in ((TRAIN, "train", n_train), (TEST, "test", n_test)):
        x = np.empty((n, SEQ_LEN), np.int32)
        y = np.empty(n, np.int32)
        for index, start, stop in blocks(n):
            rng = block_rng(seed, split, index)
            labels = balanced_labels(rng, BLOCK, 2)
            x[start:stop] = imdb_block(rng, labels)[: stop - start]
            y[start:stop] = labels[: stop - start]
        out[f"x_{name}"], out[f"y_{name}"] = x, y
    return out


def imdb_block(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    n = len(labels)
    # Background words: log-uniform ids, like a Zipf vocabulary; 2% out of vocabulary.
    tokens = np.exp(rng.uniform(np.log(3), np.log(VOCAB), (n, SEQ_LEN))).astype(np.int32)
    tokens[rng.random((n, SEQ_LEN)) < 0.02] = 2
    draw = rng.random((n, SEQ_LEN))
    own = draw < SENTIMENT_RATE
    other = (draw >= SENTIMENT_RATE) & (draw < SENTIMENT_RATE + CONFUSER_RATE)
    word = rng.integers(0, len(SENTIMENT_IDS[0]), (n, SEQ_LEN))
    sets = np.stack(SENTIMENT_IDS).astype(np.int32)  # (2, words)
    label_grid = np.broadcast_to(labels[:, None], (n, SEQ_LEN))
    tokens[own] = sets[label_grid[own], word[own]]
    tokens[other] = sets[1 - label_grid[other], word[other]]
    # A few short reviews: start marker first, zero padding at the end (docs/benchmarks.md §3).
    short = np.flatnonzero(rng.random(n) < SHORT_SHARE)
    lengths = rng.integers(40, SEQ_LEN, len(short))
    for row, length in zip(short, lengths):
        tokens[row, 0] = 1
        tokens[row, length:] = 0
    return tokens


# Data set -> its stand-in's generator.
GENERATORS = {"cifar10": synthetic_cifar10, "imdb": synthetic_imdb}
