"""Array layouts between the harness and Julia, decided here, once, in Python, where they are
tested:

- a C-ordered NCHW array is, read column-major, Julia's WHCN: `julia_images` returns the
  transposed *view* (`x.T`, F-contiguous, no copy), which Julia receives as a (W, H, C, N)
  array;
- class labels and permutations become 1-based (`julia_labels`, `julia_order`);
- inputs are converted by their dtype (`julia_inputs`): float images, integer token ids;
- canonical weights (PyTorch state_dict layout, docs/benchmarks.md section 9) are converted per
  flavor (`julia_weights`), by what each tensor is, never by which model holds it: a lookup
  table (named in the oracle module's `EMBEDDINGS`) (rows, D) -> (D, rows), conv O,I,kH,kW ->
  kW,kH,I,O (flipped for Flux, whose `Conv` is a true convolution), dense (out, in) as is, the
  `gru.*` gate blocks into Knet's packed cuDNN vector or Flux's matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness import benchmarks
from harness.julia.readiness import flavor_named


def julia_images(x: np.ndarray) -> np.ndarray:
    """NCHW float32 in C order -> the same memory seen as WHCN, column-major: `x.T`, a view
    (no copy). Julia receives it as a (W, H, C, N) array."""
    if x.ndim != 4 or not x.flags.c_contiguous:
        raise ValueError(f"expected a C-contiguous NCHW array, got shape {x.shape} "
                         f"(C-contiguous: {x.flags.c_contiguous})")
    return x.T


def julia_tokens(x: np.ndarray) -> np.ndarray:
    """Token ids (N, T) int32 in C order -> (T, N) column-major view: one review a column."""
    if x.ndim != 2 or not x.flags.c_contiguous:
        raise ValueError(f"expected C-contiguous (N, T) token ids, got shape {x.shape}")
    return x.T


def julia_inputs(x: np.ndarray) -> np.ndarray:
    """A benchmark's inputs by their dtype: float images (NCHW) -> `julia_images` as float32,
    integer token ids (N, T) -> `julia_tokens` as int32. Already of that dtype and C-ordered
    (the data store's arrays), they cross without a copy."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        return julia_images(np.ascontiguousarray(x, dtype=np.float32))
    if np.issubdtype(x.dtype, np.integer):
        return julia_tokens(np.ascontiguousarray(x, dtype=np.int32))
    raise ValueError(f"inputs must be float images or integer token ids, not {x.dtype}")


def julia_labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    """0-based class indices -> 1-based Int64 (Knet's `nll`, Flux's `onehotbatch(y, 1:K)`)."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, got {y.min()}..{y.max()}")
    return y.astype(np.int64) + 1


def julia_order(order: np.ndarray, n: int, batch_size: int) -> np.ndarray:
    """An epoch's 0-based permutation (whole batches) -> 1-based Int64 row indices."""
    order = np.asarray(order)
    if order.ndim != 1 or not np.issubdtype(order.dtype, np.integer):
        raise ValueError(f"order must be a 1-D integer array, got {order.dtype} {order.shape}")
    if len(order) % batch_size:
        raise ValueError(f"order has {len(order)} indices, not a whole number of batches "
                         f"of {batch_size}")
    if order.size and (order.min() < 0 or order.max() >= n):
        raise ValueError(f"order indexes rows {order.min()}..{order.max()} of {n}")
    return order.astype(np.int64) + 1


def julia_range(start: int, stop: int) -> tuple[int, int]:
    """Python's half-open [start, stop) -> Julia's closed 1-based start:stop."""
    if not 0 <= start < stop:
        raise ValueError(f"empty or negative range [{start}, {stop})")
    return start + 1, stop


def from_julia_columns(value: Any, rows: int, width: int) -> np.ndarray:
    """A Julia (width, rows) matrix (one sample a column: logits, features) -> NumPy
    (rows, width) float32, C-ordered."""
    array = np.asarray(value)
    if array.shape != (width, rows):
        raise ValueError(f"Julia returned shape {array.shape}, expected {(width, rows)} "
                         f"(one column per sample)")
    return np.ascontiguousarray(array.T, dtype=np.float32)


def julia_conv_weight(w: np.ndarray, flip: bool) -> np.ndarray:
    """PyTorch conv weight (O, I, kH, kW), a cross-correlation kernel -> Julia's (kW, kH, I, O).
    `flip`: for a layer computing a true convolution (Flux's `Conv`, Knet's `conv4` with
    mode=0), whose kernel is the cross-correlation kernel rotated by 180 degrees."""
    if w.ndim != 4:
        raise ValueError(f"conv weight must be (O, I, kH, kW), got {w.shape}")
    if flip:
        w = w[:, :, ::-1, ::-1]
    return np.asfortranarray(w.T, dtype=np.float32)


def julia_dense_weight(w: np.ndarray) -> np.ndarray:
    """(out, in) stays (out, in): Julia computes W * x on column vectors, as PyTorch x @ W.T."""
    if w.ndim != 2:
        raise ValueError(f"dense weight must be (out, in), got {w.shape}")
    return np.asfortranarray(w, dtype=np.float32)


def knet_gru_vector(w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray,
                    b_hh: np.ndarray) -> np.ndarray:
    """PyTorch's GRU tensors -> Knet's packed cuDNN parameter vector `RNN.w` (one layer).

    Knet (src/ops20/rnn.jl, `rnnparam`): all matrices, then all biases; ids 1-3 multiply the
    input and 4-6 the hidden state, gates reset, update, new = PyTorch's r, z, n; each matrix
    is stored transposed, (in, hidden) column-major - the same numbers in the same order as
    PyTorch's (hidden, in) block in C order. Biases: the three input ones, then the three
    recurrent ones (cuDNN keeps b_hn apart, as PyTorch does)."""
    hidden3 = w_ih.shape[0]
    if hidden3 % 3 or w_hh.shape != (hidden3, hidden3 // 3) or b_ih.shape != (hidden3,) \
            or b_hh.shape != (hidden3,):
        raise ValueError(f"GRU shapes do not fit: weight_ih {w_ih.shape}, weight_hh "
                         f"{w_hh.shape}, bias_ih {b_ih.shape}, bias_hh {b_hh.shape}")
    flat = [np.ascontiguousarray(a, dtype=np.float32).ravel() for a in (w_ih, w_hh, b_ih, b_hh)]
    return np.concatenate(flat)


def embedding_tables(model: str) -> tuple[str, ...]:
    """The lookup tables among a model's canonical tensors: its oracle module's `EMBEDDINGS`
    (harness/verify/oracle/README.md), none when it names none."""
    return tuple(getattr(benchmarks.by_model(model).oracle_module(), "EMBEDDINGS", ()))


def julia_weights(model: str, params: dict[str, np.ndarray], flavor: str) -> dict[str, np.ndarray]:
    """Canonical weights (docs/benchmarks.md §9) -> {name: array} in the logical shapes
    `flavor`'s Julia code stores (each F-contiguous, so Julia copies it as one block). Names stay
    canonical, except a GRU's four `gru.*` tensors: Knet's packed vector `gru.w`, or the Flux
    cell's `gru.Wi`, `gru.Wh`, `gru.bi`, `gru.bh`."""
    f = flavor_named(flavor)
    tables = embedding_tables(model)
    out: dict[str, np.ndarray] = {}
    for name, value in params.items():
        if name.startswith("gru.") or name.endswith("num_batches_tracked"):  # a counter
            continue
        value = np.asarray(value, dtype=np.float32)
        if name in tables:
            out[name] = np.asfortranarray(value.T)  # (rows, D) -> (D, rows): one row a column
        elif value.ndim == 4:
            out[name] = julia_conv_weight(value, flip=f.flips_kernels)
        elif value.ndim == 2:
            out[name] = julia_dense_weight(value)
        else:
            out[name] = np.asfortranarray(value)
    if GRU_TENSORS[0] in params:
        gru = [params[name] for name in GRU_TENSORS]
        if f.name == "knet":
            out["gru.w"] = knet_gru_vector(*gru)
        else:  # Flux: the cell in julia_impls/flux/rnn.jl keeps PyTorch's four tensors
            for key, value in zip(FLUX_GRU, gru):
                out[key] = np.asfortranarray(value, dtype=np.float32)
    return out


GRU_TENSORS = ("gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0")
FLUX_GRU = ("gru.Wi", "gru.Wh", "gru.bi", "gru.bh")


def knet_gru_tensors(w: np.ndarray, inputs: int, hidden: int) -> tuple[np.ndarray, ...]:
    """The inverse of `knet_gru_vector`: PyTorch's four GRU tensors from Knet's packed vector."""
    sizes = [3 * hidden * inputs, 3 * hidden * hidden, 3 * hidden, 3 * hidden]
    w = np.asarray(w, np.float32).ravel()
    if len(w) != sum(sizes):
        raise ValueError(f"Knet's GRU vector has {len(w)} numbers, not the {sum(sizes)} of "
                         f"input {inputs}, hidden {hidden}")
    w_ih, w_hh, b_ih, b_hh = np.split(w, np.cumsum(sizes)[:-1])
    return w_ih.reshape(3 * hidden, inputs), w_hh.reshape(3 * hidden, hidden), b_ih, b_hh


def canonical_weights(model: str, params: dict[str, np.ndarray], flavor: str) -> dict[str, np.ndarray]:
    """The inverse of `julia_weights`: what a flavor's `get_weights` returns (its names and
    shapes) -> canonical names and layouts, C-ordered float32."""
    f = flavor_named(flavor)
    tables = embedding_tables(model)
    out: dict[str, np.ndarray] = {}
    for name, value in params.items():
        value = np.asarray(value, dtype=np.float32)
        if name.startswith("gru."):
            continue
        if name in tables:
            out[name] = value.T  # (D, rows) -> (rows, D)
        elif name.endswith(".bias"):
            out[name] = value.reshape(-1)  # Knet keeps conv biases as (1, 1, C, 1)
        elif value.ndim == 4:  # (kW, kH, I, O) -> (O, I, kH, kW)
            out[name] = value.T[:, :, ::-1, ::-1] if f.flips_kernels else value.T
        else:
            out[name] = value
    if "gru.w" in params:
        # the GRU reads the embedding and feeds the classifier: its input and hidden sizes
        gru = knet_gru_tensors(params["gru.w"], out["embedding.weight"].shape[1],
                               out["fc.weight"].shape[1])
    elif FLUX_GRU[0] in params:
        gru = tuple(np.asarray(params[key], np.float32) for key in FLUX_GRU)
    else:
        gru = ()
    out.update(zip(GRU_TENSORS, gru))
    return {name: np.ascontiguousarray(value) for name, value in out.items()}
