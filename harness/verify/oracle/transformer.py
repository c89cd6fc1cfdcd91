"""docs/benchmarks.md §3b's Transformer classifier: token + position embedding -> 2 pre-LayerNorm
encoder blocks -> final LayerNorm -> mean over positions -> dense.

Each block is `x + MHA(LN1(x))`, then `x + MLP(LN2(x))`:

    MHA(h)  = concat_heads(softmax(q k^T / sqrt(32)) v) W_o^T + b_o,
              q, k, v = h W_q^T + b_q, ... split into 4 heads of 32 features (head i: 32i..32i+31)
    MLP(h)  = GELU(h W_1^T + b_1) W_2^T + b_2,  GELU(u) = u (1 + erf(u / sqrt(2))) / 2 (exact)
    LN(x)   = (x - mean) / sqrt(var + 1e-5) * gamma + beta  (biased variance, over the features)

No mask (padding is content, as in the GRU) and no dropout. Backprop is written by hand, layer
by layer, next to each forward function.

Activations: `embedding` (N, T, D: token plus position), `blocks.0`, `blocks.1` (N, T, D: each
block's output), `pooled` (N, D: the mean of the final LayerNorm's output), `fc` (logits).
"""

from __future__ import annotations

import math

import numpy as np

from harness.config import TransformerConfig
from harness.verify.oracle.init import glorot_uniform
from harness.verify.oracle.loss import cross_entropy
from harness.verify.oracle.optim import Params, adam

CONFIG = TransformerConfig()
ACTIVATIONS = ("embedding", *(f"blocks.{i}" for i in range(CONFIG.blocks)), "pooled", "fc")
LOGITS = "fc"
# Lookup tables, (rows, features) in the canonical layout; every other 2-D tensor is a dense
# weight (out, in). Julia stores a table as (features, rows) (harness.julia.layouts).
EMBEDDINGS = ("embedding.weight", "position.weight")
# The key projection's bias has no gradient: it adds q . b_k to every score of one query, and
# the softmax over keys ignores a shift shared by its whole row (nor does it change the output).
# Rounding leaves a gradient of ~1e-10 in fp32, which Adam scales up to a step of about lr, so
# `verify` does not compare its update (harness.verify.checks.compare_update).
NO_GRADIENT = tuple(f"blocks.{i}.attn.key.bias" for i in range(CONFIG.blocks))
_BLOCK = ("ln1.weight", "ln1.bias", "attn.query.weight", "attn.query.bias", "attn.key.weight",
          "attn.key.bias", "attn.value.weight", "attn.value.bias", "attn.out.weight",
          "attn.out.bias", "ln2.weight", "ln2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
          "mlp.fc2.weight", "mlp.fc2.bias")


def parameter_shapes() -> dict[str, tuple[int, ...]]:
    """Every canonical tensor and its shape, in state_dict order (PyTorch layouts: a dense
    weight is (out, in))."""
    c = CONFIG
    d, m = c.d_model, c.mlp_dim
    block = {"ln1.weight": (d,), "ln1.bias": (d,),
             **{f"attn.{p}.{t}": (d, d) if t == "weight" else (d,)
                for p in ("query", "key", "value", "out") for t in ("weight", "bias")},
             "ln2.weight": (d,), "ln2.bias": (d,),
             "mlp.fc1.weight": (m, d), "mlp.fc1.bias": (m,),
             "mlp.fc2.weight": (d, m), "mlp.fc2.bias": (d,)}
    assert tuple(block) == _BLOCK
    shapes = {"embedding.weight": (c.vocab_size, d), "position.weight": (c.seq_len, d)}
    for i in range(c.blocks):
        shapes.update({f"blocks.{i}.{name}": shape for name, shape in block.items()})
    shapes.update({"ln_f.weight": (d,), "ln_f.bias": (d,), "fc.weight": (c.n_classes, d),
                   "fc.bias": (c.n_classes,)})
    return shapes


PARAMETERS = tuple(parameter_shapes())


def initial_weights(rng: np.random.Generator) -> Params:
    """Seeded weights for `verify`: embeddings N(0, 0.02), dense weights Glorot, and - unlike
    the training initialisation (zero biases, LayerNorm 1 and 0) - every bias and LayerNorm
    parameter drawn too, so that a transposed or swapped one cannot pass unseen."""
    params: Params = {}
    for name, shape in parameter_shapes().items():
        if name in EMBEDDINGS:
            params[name] = 0.02 * rng.standard_normal(shape)
        elif len(shape) == 2:
            params[name] = glorot_uniform(rng, shape)
        elif ".ln" in f".{name}" and name.endswith("weight"):
            params[name] = rng.uniform(0.8, 1.2, shape)  # LayerNorm gamma near 1
        else:
            params[name] = rng.uniform(-0.1, 0.1, shape)
    return params


def sample_inputs(rng: np.random.Generator, batch: int, image_size: int) -> dict[str, np.ndarray]:
    """`verify`'s batch, like the preprocessed reviews (the GRU's: start marker 1, ids below the
    vocabulary size, every other review padded with zeros at the end)."""
    c = CONFIG
    tokens = np.zeros((batch, c.seq_len), dtype=np.int32)
    for row in range(batch):
        length = c.seq_len if row % 2 == 0 else int(rng.integers(10, c.seq_len))
        tokens[row, :length] = rng.integers(2, c.vocab_size, length)
        tokens[row, 0] = 1
    return {"x": tokens, "y": rng.integers(0, c.n_classes, batch).astype(np.int32)}


def as_float64(params: Params) -> Params:
    return {name: np.asarray(params[name], dtype=np.float64) for name in PARAMETERS}


# -- layers: each forward returns (output, what its backward needs) ------------------------------

def dense(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return x @ w.T + b


def dense_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    """(dx, dw, db) of y = x w^T + b over any leading axes."""
    dy2, x2 = dy.reshape(-1, dy.shape[-1]), x.reshape(-1, x.shape[-1])
    return dy @ w, dy2.T @ x2, dy2.sum(0)


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
               eps: float = CONFIG.ln_eps) -> tuple[np.ndarray, tuple]:
    mean = x.mean(-1, keepdims=True)
    inv = 1.0 / np.sqrt(x.var(-1, keepdims=True) + eps)  # biased variance
    xhat = (x - mean) * inv
    return xhat * gamma + beta, (xhat, inv, gamma)


def layer_norm_backward(dy: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    xhat, inv, gamma = cache
    dxhat = dy * gamma
    dx = inv * (dxhat - dxhat.mean(-1, keepdims=True)
                - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    lead = tuple(range(dy.ndim - 1))
    return dx, (dy * xhat).sum(lead), dy.sum(lead)


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(u: np.ndarray) -> np.ndarray:
    """The exact GELU, u * Phi(u)."""
    return 0.5 * u * (1.0 + _erf(u / math.sqrt(2.0)).astype(np.float64))


def gelu_grad(u: np.ndarray) -> np.ndarray:
    phi = np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi)
    return 0.5 * (1.0 + _erf(u / math.sqrt(2.0)).astype(np.float64)) + u * phi


def softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def split_heads(x: np.ndarray) -> np.ndarray:
    """(N, T, D) -> (N, H, T, D/H): head i takes features [i*D/H, (i+1)*D/H)."""
    n, t, d = x.shape
    return x.reshape(n, t, CONFIG.heads, d // CONFIG.heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    n, h, t, k = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, t, h * k)


def attention(p: Params, prefix: str, h: np.ndarray) -> tuple[np.ndarray, dict]:
    q, k, v = (split_heads(dense(h, p[f"{prefix}.{n}.weight"], p[f"{prefix}.{n}.bias"]))
               for n in ("query", "key", "value"))
    scale = 1.0 / math.sqrt(q.shape[-1])
    weights = softmax(q @ k.transpose(0, 1, 3, 2) * scale)  # (N, H, T, T)
    context = merge_heads(weights @ v)
    out = dense(context, p[f"{prefix}.out.weight"], p[f"{prefix}.out.bias"])
    return out, {"h": h, "q": q, "k": k, "v": v, "weights": weights, "context": context,
                 "scale": scale}


def attention_backward(dy: np.ndarray, p: Params, prefix: str, c: dict,
                       g: Params) -> np.ndarray:
    dcontext, g[f"{prefix}.out.weight"], g[f"{prefix}.out.bias"] = dense_backward(
        dy, c["context"], p[f"{prefix}.out.weight"])
    dctx = split_heads(dcontext)
    dweights = dctx @ c["v"].transpose(0, 1, 3, 2)
    dv = c["weights"].transpose(0, 1, 3, 2) @ dctx
    a = c["weights"]
    dscores = a * (dweights - (dweights * a).sum(-1, keepdims=True)) * c["scale"]
    dq = dscores @ c["k"]
    dk = dscores.transpose(0, 1, 3, 2) @ c["q"]
    dh = np.zeros_like(c["h"])
    for name, d in (("query", dq), ("key", dk), ("value", dv)):
        dx, g[f"{prefix}.{name}.weight"], g[f"{prefix}.{name}.bias"] = dense_backward(
            merge_heads(d), c["h"], p[f"{prefix}.{name}.weight"])
        dh += dx
    return dh


def block(p: Params, i: int, x: np.ndarray) -> tuple[np.ndarray, dict]:
    b = f"blocks.{i}"
    h1, ln1 = layer_norm(x, p[f"{b}.ln1.weight"], p[f"{b}.ln1.bias"])
    a, attn = attention(p, f"{b}.attn", h1)
    x1 = x + a
    h2, ln2 = layer_norm(x1, p[f"{b}.ln2.weight"], p[f"{b}.ln2.bias"])
    u = dense(h2, p[f"{b}.mlp.fc1.weight"], p[f"{b}.mlp.fc1.bias"])
    hidden = gelu(u)
    out = x1 + dense(hidden, p[f"{b}.mlp.fc2.weight"], p[f"{b}.mlp.fc2.bias"])
    return out, {"ln1": ln1, "attn": attn, "ln2": ln2, "h2": h2, "u": u, "hidden": hidden}


def block_backward(dout: np.ndarray, p: Params, i: int, c: dict, g: Params) -> np.ndarray:
    b = f"blocks.{i}"
    dhidden, g[f"{b}.mlp.fc2.weight"], g[f"{b}.mlp.fc2.bias"] = dense_backward(
        dout, c["hidden"], p[f"{b}.mlp.fc2.weight"])
    du = dhidden * gelu_grad(c["u"])
    dh2, g[f"{b}.mlp.fc1.weight"], g[f"{b}.mlp.fc1.bias"] = dense_backward(
        du, c["h2"], p[f"{b}.mlp.fc1.weight"])
    dx1, g[f"{b}.ln2.weight"], g[f"{b}.ln2.bias"] = layer_norm_backward(dh2, c["ln2"])
    dx1 = dx1 + dout  # the residual
    dh1 = attention_backward(dx1, p, f"{b}.attn", c["attn"], g)
    dx, g[f"{b}.ln1.weight"], g[f"{b}.ln1.bias"] = layer_norm_backward(dh1, c["ln1"])
    return dx + dx1


def forward(params: Params, tokens: np.ndarray, keep: dict | None = None) -> dict[str, np.ndarray]:
    """Every activation on token ids (N, T); logits are `["fc"]`. `keep`, if given, collects
    what backprop needs."""
    p = as_float64(params)
    tokens = np.asarray(tokens)
    x = p["embedding.weight"][tokens] + p["position.weight"][np.arange(tokens.shape[1])]
    out = {"embedding": x}
    caches = []
    for i in range(CONFIG.blocks):
        x, cache = block(p, i, x)
        caches.append(cache)
        out[f"blocks.{i}"] = x
    y, ln_f = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"])
    out["pooled"] = y.mean(1)
    out["fc"] = dense(out["pooled"], p["fc.weight"], p["fc.bias"])
    if keep is not None:
        keep.update(blocks=caches, ln_f=ln_f)
    return out


def loss_and_gradients(params: Params, tokens: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    """Mean cross-entropy and every parameter's gradient."""
    p = as_float64(params)
    tokens = np.asarray(tokens)
    keep: dict = {}
    a = forward(p, tokens, keep)
    loss, dlogits = cross_entropy(a["fc"], np.asarray(y))
    g: Params = {}
    dpooled, g["fc.weight"], g["fc.bias"] = dense_backward(dlogits, a["pooled"], p["fc.weight"])
    steps = tokens.shape[1]
    dy = np.repeat(dpooled[:, None, :] / steps, steps, axis=1)  # the mean over positions
    dx, g["ln_f.weight"], g["ln_f.bias"] = layer_norm_backward(dy, keep["ln_f"])
    for i in reversed(range(CONFIG.blocks)):
        dx = block_backward(dx, p, i, keep["blocks"][i], g)
    g["position.weight"] = dx.sum(0)
    g["embedding.weight"] = np.zeros_like(p["embedding.weight"])
    np.add.at(g["embedding.weight"], tokens, dx)  # repeated ids accumulate
    return loss, {name: g[name] for name in PARAMETERS}


def train_step(params: Params, state: dict | None, tokens: np.ndarray, y: np.ndarray,
               lr: float = CONFIG.lr, beta1: float = CONFIG.beta1, beta2: float = CONFIG.beta2,
               eps: float = CONFIG.eps) -> tuple[float, Params, dict]:
    """One Adam step: (loss before the step, new params, new optimizer state)."""
    loss, grads = loss_and_gradients(params, tokens, y)
    new_params, new_state = adam(as_float64(params), grads, state, lr, beta1, beta2, eps)
    return loss, new_params, new_state
