"""Canonical weights (docs/benchmarks.md §9-10): one HDF5 file per model, every tensor under its PyTorch
`state_dict` name, in PyTorch's layout, float32.

Layout, for anyone converting: conv weight (O, I, kH, kW); dense weight (out, in); GRU
weight_ih (3H, E) and weight_hh (3H, H) with gate blocks r, z, n top to bottom, bias_ih and
bias_hh separate; embedding (vocab, E); batch-norm weight, bias, running_mean, running_var (C,).
Each tensor is a dataset at the file's root named exactly as the state_dict key
("conv1.weight"); an HDF5 reader in column-major Julia sees every array with its axes reversed.

Seeded weights are for `verify`, not for training: biases and batch-norm statistics are
random and non-zero on purpose, so that a bias that is dropped, split wrongly or applied in the
wrong place changes the output.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import numpy as np

from harness import benchmarks
from harness.project import REPO_ROOT

FORMAT_VERSION = 1


class WeightsError(RuntimeError):
    """A weight file or checkpoint that cannot be used, with what to do about it."""


def models() -> tuple[str, ...]:
    """The canonical weights' model names, one per benchmark (`data weights MODEL`)."""
    return tuple(benchmarks.get(name).model for name in benchmarks.names())


def _oracle(model: str) -> ModuleType:
    try:
        return benchmarks.by_model(model).oracle_module()
    except KeyError as error:
        raise WeightsError(error.args[0]) from None


def parameter_shapes(model: str) -> dict[str, tuple[int, ...]]:
    """Every canonical tensor of `model` and its shape, in state_dict order (its oracle's)."""
    return _oracle(model).parameter_shapes()


def seeded_weights(model: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Canonical weights drawn from `seed` (the same arrays on every machine), as the model's
    oracle draws them (`initial_weights`)."""
    benchmark = benchmarks.by_model(model)
    rng = np.random.default_rng([seed, benchmarks.order(benchmark.name)])
    return {name: np.ascontiguousarray(value, dtype=np.float32)
            for name, value in _oracle(model).initial_weights(rng).items()}


def default_weights_dir() -> Path:
    data_dir = os.environ.get("HARNESS_DATA_DIR")
    return (Path(data_dir) if data_dir else REPO_ROOT / "datasets") / "weights"


def seeded_weights_path(model: str, seed: int = 0, directory: Path | None = None) -> Path:
    return (directory or default_weights_dir()) / f"{model}-seed{seed}.h5"


def save_weights(path: str | os.PathLike, model: str, params: dict[str, np.ndarray],
                 source: str) -> Path:
    """Write canonical weights, checked against the model's names and shapes."""
    import h5py

    check_params(model, params)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with h5py.File(tmp, "w") as f:
        for name in parameter_shapes(model):
            f.create_dataset(name, data=np.ascontiguousarray(params[name], dtype=np.float32))
        f.attrs.update({"model": model, "format_version": FORMAT_VERSION, "source": source,
                        "layout": "PyTorch state_dict names and layouts, float32, C order",
                        "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    os.replace(tmp, path)
    return path


def load_weights(path: str | os.PathLike, model: str | None = None) -> dict[str, np.ndarray]:
    """Every tensor of a canonical weight file (checked against `model` when given)."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path} does not exist; write it with "
                           f"`python -m harness data weights {model or 'MODEL'}`")
    with h5py.File(path, "r") as f:
        params = {name: f[name][()] for name in f.keys() if isinstance(f[name], h5py.Dataset)}
        stored_model = f.attrs.get("model")
    if model is not None:
        if stored_model is not None and str(stored_model) != model:
            raise WeightsError(f"{path} holds {stored_model} weights, not {model}")
        check_params(model, params)
    return params


def ensure_seeded_weights(model: str, seed: int = 0, directory: Path | None = None) -> Path:
    """The seeded weight file, written on first use (it is a pure function of the seed)."""
    path = seeded_weights_path(model, seed, directory)
    if not path.exists():
        save_weights(path, model, seeded_weights(model, seed), source=f"seeded random, seed {seed}")
    return path


def check_params(model: str, params: dict[str, np.ndarray]) -> None:
    expected = parameter_shapes(model)
    missing = [n for n in expected if n not in params]
    unexpected = [n for n in params if n not in expected]
    wrong = [f"{n}: {tuple(np.shape(params[n]))}, expected {s}" for n, s in expected.items()
             if n in params and tuple(np.shape(params[n])) != s]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(unexpected)}")
        if wrong:
            parts.append(f"wrong shape {_few(wrong)}")
        raise WeightsError(f"not canonical {model} weights: " + "; ".join(parts))


def _few(names: list[str], limit: int = 5) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def convert_torchvision_checkpoint(path: str | os.PathLike, out: str | os.PathLike | None = None,
                                   directory: Path | None = None) -> Path:
    """A torchvision ResNet-50 checkpoint (a `state_dict` saved with torch.save, e.g.
    resnet50-11ad3fa6.pth) -> canonical HDF5 (default: weights/resnet50-<file stem>.h5 in the data
    store). `fc.*` and `num_batches_tracked` are dropped;
    a `module.` prefix (DataParallel) is removed. Needs torch to unpickle the file."""
    try:
        import torch
    except ImportError as error:
        raise WeightsError("reading a torchvision checkpoint needs PyTorch: "
                           "pip install -e '.[torch]'") from error
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):  # training checkpoints wrap the state_dict
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, not a state_dict; save it "
                           f"with torch.save(model.state_dict(), FILE)")
    params = {}
    for name, tensor in state.items():
        name = name.removeprefix("module.")
        if name.startswith("fc.") or name.endswith("num_batches_tracked"):
            continue
        params[name] = tensor.detach().to(torch.float32).cpu().numpy()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    out = Path(out) if out else (directory or default_weights_dir()) / f"resnet50-{path.stem}.h5"
    return save_weights(out, "resnet50", params,
                        source=f"torchvision checkpoint {path.name} (sha256 {digest})")
