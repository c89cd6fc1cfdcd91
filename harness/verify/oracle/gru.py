"""docs/benchmarks.md §3's GRU classifier: embedding -> GRU (cuDNN formulation) -> last step -> dense.

The GRU, as PyTorch's nn.GRU and cuDNN define it (gate blocks r, z, n in that order in
weight_ih / weight_hh, two bias vectors, reset applied AFTER the recurrent matmul):

    r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

Activations: `embedding` (N, T, E), `gru` (N, T, H: the output at every step), `fc` (logits).
"""

from __future__ import annotations

import numpy as np

from harness.config import RNNConfig
from harness.verify.oracle.init import glorot_uniform
from harness.verify.oracle.loss import cross_entropy
from harness.verify.oracle.optim import Params, adam

ACTIVATIONS = ("embedding", "gru", "fc")

PARAMETERS = ("embedding.weight", "gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0",
              "gru.bias_hh_l0", "fc.weight", "fc.bias")
EMBEDDINGS = ("embedding.weight",)  # lookup tables, (rows, features): harness.julia.layouts


LOGITS = "fc"


def parameter_shapes() -> dict[str, tuple[int, ...]]:
    """Every canonical tensor and its shape, in state_dict order."""
    r = RNNConfig()
    return {
        "embedding.weight": (r.vocab_size, r.embedding_dim),
        "gru.weight_ih_l0": (3 * r.hidden, r.embedding_dim),
        "gru.weight_hh_l0": (3 * r.hidden, r.hidden),
        "gru.bias_ih_l0": (3 * r.hidden,), "gru.bias_hh_l0": (3 * r.hidden,),
        "fc.weight": (r.n_classes, r.hidden), "fc.bias": (r.n_classes,),
    }


def initial_weights(rng: np.random.Generator) -> Params:
    """Seeded weights for `verify`: embedding N(0, 1), GRU tensors U(-1/sqrt(H), 1/sqrt(H))
    (PyTorch's init, biases included), dense Glorot with a U(-0.1, 0.1) bias."""
    bound = 1.0 / np.sqrt(RNNConfig().hidden)
    params: Params = {}
    for name, shape in parameter_shapes().items():
        if name == "embedding.weight":
            params[name] = rng.standard_normal(shape)
        elif name.startswith("gru."):
            params[name] = rng.uniform(-bound, bound, shape)
        elif name.endswith("weight"):
            params[name] = glorot_uniform(rng, shape)
        else:
            params[name] = rng.uniform(-0.1, 0.1, shape)
    return params


def sample_inputs(rng: np.random.Generator, batch: int, image_size: int) -> dict[str, np.ndarray]:
    """`verify`'s batch, like the preprocessed reviews: start marker 1, ids below the vocabulary
    size, and shorter reviews padded with zeros at the end (the model reads the last step
    regardless)."""
    r = RNNConfig()
    tokens = np.zeros((batch, r.seq_len), dtype=np.int32)
    for row in range(batch):
        length = r.seq_len if row % 2 == 0 else int(rng.integers(10, r.seq_len))
        tokens[row, :length] = rng.integers(2, r.vocab_size, length)
        tokens[row, 0] = 1
    return {"x": tokens, "y": rng.integers(0, r.n_classes, batch).astype(np.int32)}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def as_float64(params: Params) -> Params:
    return {name: np.asarray(params[name], dtype=np.float64) for name in PARAMETERS}


def gru_step(p: Params, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One time step for a batch: x (N, E), h (N, H) -> h' and what backprop needs."""
    hidden = h.shape[1]
    gi = x @ p["gru.weight_ih_l0"].T + p["gru.bias_ih_l0"]  # (N, 3H): blocks r, z, n
    gh = h @ p["gru.weight_hh_l0"].T + p["gru.bias_hh_l0"]
    i_r, i_z, i_n = gi[:, :hidden], gi[:, hidden:2 * hidden], gi[:, 2 * hidden:]
    h_r, h_z, h_n = gh[:, :hidden], gh[:, hidden:2 * hidden], gh[:, 2 * hidden:]
    r = sigmoid(i_r + h_r)
    z = sigmoid(i_z + h_z)
    n = np.tanh(i_n + r * h_n)  # reset after the recurrent matmul
    h_new = (1 - z) * n + z * h
    return h_new, {"x": x, "h": h, "r": r, "z": z, "n": n, "h_n": h_n}


def forward(params: Params, tokens: np.ndarray, keep: list | None = None) -> dict[str, np.ndarray]:
    """Every activation on token ids (N, T); logits are `["fc"]`. Initial state zero; the
    classifier reads the output at the last step (padding included). `keep`, if given,
    collects each step's intermediates for backprop."""
    p = as_float64(params)
    emb = p["embedding.weight"][np.asarray(tokens)]  # (N, T, E)
    n_batch, steps, _ = emb.shape
    h = np.zeros((n_batch, p["gru.weight_hh_l0"].shape[1]))
    outputs = []
    for t in range(steps):
        h, saved = gru_step(p, emb[:, t], h)
        outputs.append(h)
        if keep is not None:
            keep.append(saved)
    out = np.stack(outputs, axis=1)
    logits = out[:, -1] @ p["fc.weight"].T + p["fc.bias"]
    return {"embedding": emb, "gru": out, "fc": logits}


def loss_and_gradients(params: Params, tokens: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    """Mean cross-entropy and every parameter's gradient (backprop through all T steps)."""
    p = as_float64(params)
    w_ih, w_hh = p["gru.weight_ih_l0"], p["gru.weight_hh_l0"]
    steps: list[dict[str, np.ndarray]] = []
    a = forward(p, tokens, keep=steps)
    loss, d = cross_entropy(a["fc"], np.asarray(y))
    g = {name: np.zeros_like(value) for name, value in p.items()}
    g["fc.weight"], g["fc.bias"] = d.T @ a["gru"][:, -1], d.sum(0)
    dh = d @ p["fc.weight"]
    d_emb = np.zeros_like(a["embedding"])
    for t in reversed(range(len(steps))):
        s = steps[t]
        r, z, n = s["r"], s["z"], s["n"]
        dn = dh * (1 - z)
        dz = dh * (s["h"] - n)
        dh_prev = dh * z
        dn_pre = dn * (1 - n ** 2)  # through tanh
        dr = dn_pre * s["h_n"]
        dr_pre = dr * r * (1 - r)
        dz_pre = dz * z * (1 - z)
        d_gi = np.concatenate([dr_pre, dz_pre, dn_pre], axis=1)  # input-side pre-activations
        d_gh = np.concatenate([dr_pre, dz_pre, dn_pre * r], axis=1)  # recurrent side
        g["gru.weight_ih_l0"] += d_gi.T @ s["x"]
        g["gru.bias_ih_l0"] += d_gi.sum(0)
        g["gru.weight_hh_l0"] += d_gh.T @ s["h"]
        g["gru.bias_hh_l0"] += d_gh.sum(0)
        d_emb[:, t] = d_gi @ w_ih
        dh = dh_prev + d_gh @ w_hh
    np.add.at(g["embedding.weight"], np.asarray(tokens), d_emb)  # repeated ids accumulate
    return loss, g


def train_step(params: Params, state: dict | None, tokens: np.ndarray, y: np.ndarray,
               lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
               eps: float = 1e-8) -> tuple[float, Params, dict]:
    """One Adam step: (loss before the step, new params, new optimizer state)."""
    loss, grads = loss_and_gradients(params, tokens, y)
    new_params, new_state = adam(as_float64(params), grads, state, lr, beta1, beta2, eps)
    return loss, new_params, new_state
