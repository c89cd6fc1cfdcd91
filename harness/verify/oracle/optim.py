"""The two optimizers of docs/benchmarks.md §2-3, exactly as PyTorch defines them, on dicts of arrays.

Both return new parameters and new state; nothing is updated in place.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


def sgd_momentum(params: Params, grads: Params, velocity: Params | None, lr: float,
                 momentum: float) -> tuple[Params, Params]:
    """Heavy-ball momentum (docs/benchmarks.md §2): v <- momentum v + g; w <- w - lr v.

    The first step starts from v = 0, so v = g (PyTorch stores a copy of g on the first step:
    the same thing). No dampening, no Nesterov, no weight decay."""
    velocity = velocity or {name: np.zeros_like(g) for name, g in grads.items()}
    new_v = {name: momentum * velocity[name] + grads[name] for name in params}
    new_p = {name: params[name] - lr * new_v[name] for name in params}
    return new_p, new_v


def adam(params: Params, grads: Params, state: dict | None, lr: float, beta1: float,
         beta2: float, eps: float) -> tuple[Params, dict]:
    """Adam (Kingma & Ba, as torch.optim.Adam): bias-corrected moments, eps added to the
    bias-corrected root: w <- w - lr m_hat / (sqrt(v_hat) + eps). Every parameter is updated
    densely, including embedding rows whose gradient is zero this step."""
    state = state or {"step": 0, "m": {n: np.zeros_like(g) for n, g in grads.items()},
                      "v": {n: np.zeros_like(g) for n, g in grads.items()}}
    t = state["step"] + 1
    m = {n: beta1 * state["m"][n] + (1 - beta1) * grads[n] for n in params}
    v = {n: beta2 * state["v"][n] + (1 - beta2) * grads[n] ** 2 for n in params}
    new_p = {}
    for n in params:
        m_hat = m[n] / (1 - beta1 ** t)
        v_hat = v[n] / (1 - beta2 ** t)
        new_p[n] = params[n] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return new_p, {"step": t, "m": m, "v": v}
