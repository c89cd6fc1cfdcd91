"""The one module that talks to Julia: readiness, array layouts, and the adapter classes.

Julia rows (Knet.jl and Flux.jl, `julia_impls/`) satisfy the same interface as the Python
rows: the harness's worker imports `JuliaCNN`, `JuliaRNN` or `JuliaFeatures` from here, as it
would a Python class, and never knows that the work happens in Julia. Each adapter starts
Julia in its own child process (every run is one), `include`s one source file
(`julia_impls/<flavor>/<benchmark>.jl`, sections marked as in the Python files) and calls the
Julia functions of the same names: `prepare`, `build`, `train_epoch`, `predict`, `extract`,
`sync`, `info`.

The bridge is juliacall (PythonCall.jl), which passes NumPy arrays to Julia without copying;
PyJulia (`HARNESS_JULIA_BRIDGE=pyjulia`) slots in where a user already has it set up. Both
hand Julia a NumPy array with the same logical shape, so all layout decisions are made here,
once, in Python, where they are tested:

- a C-ordered NCHW array is, read column-major, Julia's WHCN: `julia_images` returns the
  transposed *view* (`x.T`, F-contiguous, no copy), which Julia receives as a (W, H, C, N)
  array;
- class labels and permutations become 1-based (`julia_labels`, `julia_order`);
- canonical weights (PyTorch state_dict layout, SPEC 5) are converted per flavor
  (`julia_weights`): conv O,I,kH,kW -> kW,kH,I,O (flipped for Flux, whose `Conv` is a true
  convolution), GRU gate blocks into Knet's packed cuDNN vector or Flux's matrices.

Nothing here imports Julia at module import: `julia_readiness` (called by the parent process
for `list`) only looks at files, environment variables and `julia --version`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import CNNConfig, InferenceConfig, RNNConfig
from harness.run.host import REPO_ROOT
from harness.interface import (InferenceImplementation, RunInfo, TrainingData,
                               TrainingImplementation)

JULIA_IMPLS = REPO_ROOT / "julia_impls"
SETUP_COMMAND = "python -m harness setup julia"
BRIDGE_VARIABLE = "HARNESS_JULIA_BRIDGE"  # "juliacall" (default) or "pyjulia"
INSTALL_JULIA = ("install it (juliaup: `curl -fsSL https://install.julialang.org | sh`, then "
                 "`juliaup add 1.9` for Knet and/or `juliaup add release` for Flux; or a "
                 "binary from https://julialang.org/downloads/)")


@dataclass(frozen=True)
class Flavor:
    """One Julia framework: its environment, its sources and the Julia versions it runs on."""

    name: str  # "knet" or "flux"
    framework: str  # as shown in results
    package: str  # the Julia package whose version `info` reports
    project: Path  # the directory holding its Project.toml
    sources: Path  # cnn.jl, rnn.jl, inference.jl
    minimum: tuple[int, int]  # oldest Julia (major, minor)
    below: tuple[int, int] | None  # first Julia (major, minor) it does not run on
    versions: str  # the range in words
    flips_kernels: bool  # its convolution layer flips the kernel (true convolution)

    @property
    def julia_variable(self) -> str:
        return f"HARNESS_JULIA_{self.name.upper()}"

    def accepts(self, version: tuple[int, ...]) -> bool:
        return version[:2] >= self.minimum and (self.below is None or version[:2] < self.below)


FLAVORS: dict[str, Flavor] = {
    # Knet 1.4.10 (2022, its last release) needs CUDA.jl <= 3, which needs Julia <= 1.9.
    "knet": Flavor("knet", "Knet.jl", "Knet", REPO_ROOT, JULIA_IMPLS / "knet",
                   (1, 6), (1, 10), "1.6-1.9", flips_kernels=False),
    "flux": Flavor("flux", "Flux.jl", "Flux", JULIA_IMPLS / "flux", JULIA_IMPLS / "flux",
                   (1, 10), None, ">= 1.10", flips_kernels=True),
}

SOURCES = {"cnn": "cnn.jl", "rnn": "rnn.jl", "inference": "inference.jl"}


def row_options(flavor: str) -> dict[str, Any]:
    """The registry's `options` for a Julia row: the flavor for the adapters, and the Julia
    source of each benchmark for `python -m harness show` (its entry point is this module)."""
    f = flavor_named(flavor)
    return {"flavor": f.name,
            "source": {benchmark: str((f.sources / name).relative_to(REPO_ROOT))
                       for benchmark, name in SOURCES.items()}}


class JuliaNotReady(RuntimeError):
    """Julia, juliacall or the Julia environment is missing; the message says how to fix it."""


def flavor_named(name: str) -> Flavor:
    try:
        return FLAVORS[name]
    except KeyError:
        raise ValueError(f"unknown Julia flavor {name!r}; known: {', '.join(FLAVORS)}") from None


# ---------------------------------------------------------------------------------------------
# Readiness: decided without starting Julia in this process.
# ---------------------------------------------------------------------------------------------

def julia_candidates(flavor: Flavor) -> list[tuple[str, str]]:
    """Where the julia binary may be named, in order: (where, value)."""
    found = []
    for variable in (flavor.julia_variable, "HARNESS_JULIA", "PYTHON_JULIACALL_EXE",
                     "PYTHON_JULIAPKG_EXE"):
        if os.environ.get(variable):
            found.append((variable, os.environ[variable]))
    on_path = shutil.which("julia")
    if on_path:
        found.append(("PATH", on_path))
    return found


def find_julia(flavor: Flavor) -> tuple[str | None, str]:
    """The julia binary for `flavor` and where it came from; (None, reason) when there is none.

    The first named binary wins, so that `HARNESS_JULIA_KNET` can point at a Julia 1.9 while
    `julia` on PATH is a current one for Flux."""
    for where, value in julia_candidates(flavor):
        path = shutil.which(value) if os.sep not in value else value
        if path is None or not os.access(path, os.X_OK) or not os.path.isfile(path):
            return None, f"{where}={value} is not an executable file"
        return path, where
    return None, "julia not found on PATH"


@lru_cache(maxsize=16)
def _version_output(path: str, mtime: float) -> str:
    run = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=120)
    return run.stdout + run.stderr


def julia_version(path: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from `julia --version`, None when it does not say."""
    try:
        output = _version_output(path, os.path.getmtime(path))
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"julia version (\d+)\.(\d+)\.(\d+)", output)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def parse_version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", text.split("+")[0].split("-")[0])[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


def julia_compat_contains(spec: str, version: tuple[int, int, int]) -> bool:
    """Whether `version` satisfies a Julia Pkg compat specifier (as in juliacall's
    juliapkg.json: "~1.6.1,~1.7,=1.10.0,^1.10.3", "1.6.1-1.10.0,^1.10.3", "1.9")."""
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if "-" in part and not part.startswith(("^", "~", "=")):
            low, high = (s.strip() for s in part.split("-", 1))
            high_parts = re.findall(r"\d+", high)
            upper = parse_version(high)
            # "a - b" includes every version that starts with b's given components
            if parse_version(low) <= version and version[:len(high_parts)] <= upper[:len(high_parts)]:
                return True
            continue
        if part.startswith("="):
            if version == parse_version(part[1:]):
                return True
            continue
        tilde = part.startswith("~")
        given = re.findall(r"\d+", part.lstrip("^~"))
        low = parse_version(part.lstrip("^~"))
        if version < low:
            continue
        if tilde:  # ~1.2.3 -> [1.2.3, 1.3.0); ~1 -> [1, 2)
            fixed = 1 if len(given) == 1 else 2
        else:  # caret (the default): the first non-zero component is fixed
            nonzero = next((i for i, c in enumerate(low) if c != 0), len(given) - 1)
            fixed = min(nonzero + 1, len(given))
        if version[:fixed] == low[:fixed]:
            return True
    return False


def bridge_name() -> str:
    name = os.environ.get(BRIDGE_VARIABLE, "juliacall").strip().lower()
    if name not in ("juliacall", "pyjulia"):
        raise ValueError(f"{BRIDGE_VARIABLE}={name!r}: use 'juliacall' (default) or 'pyjulia'")
    return name


def juliacall_requirements() -> tuple[str, str, str] | None:
    """(juliacall version, Julia versions it supports, the PythonCall version it needs),
    read from the installed juliacall's juliapkg.json; None when juliacall is not installed."""
    spec = importlib.util.find_spec("juliacall")
    if spec is None or not spec.submodule_search_locations:
        return None
    version = importlib.metadata.version("juliacall")
    deps = json.loads((Path(list(spec.submodule_search_locations)[0]) / "juliapkg.json")
                      .read_text())
    pythoncall = deps.get("packages", {}).get("PythonCall", {}).get("version", "")
    return version, deps.get("julia", ""), pythoncall.lstrip("=")


def manifest_path(flavor: Flavor) -> Path | None:
    """The environment's manifest (`Manifest.toml`, or a versioned `Manifest-v1.x.toml`)."""
    found = sorted(flavor.project.glob("Manifest*.toml"))
    return found[0] if found else None


_MANIFEST_ENTRY = re.compile(r'^\[\[(?:deps\.)?"?([^"\]]+)"?\]\]\s*$')
_MANIFEST_VERSION = re.compile(r'^version\s*=\s*"([^"]*)"')


def manifest_versions(path: Path) -> dict[str, str]:
    """Package -> version in a Julia manifest (format 1: `[[Name]]` tables; 2: `[[deps.Name]]`).
    Read line by line (no TOML parser: Python 3.10 has none in its standard library); a
    standard library package has no version ("")."""
    versions: dict[str, str] = {}
    current = None
    for line in path.read_text().splitlines():
        entry = _MANIFEST_ENTRY.match(line.strip())
        if entry:
            current = entry.group(1)
            versions.setdefault(current, "")
            continue
        version = _MANIFEST_VERSION.match(line.strip())
        if version and current is not None and not versions[current]:
            versions[current] = version.group(1)
        elif line.startswith("["):  # another table ends the entry
            current = None
    return versions


def julia_readiness(flavor: str) -> tuple[bool, str]:
    """Can this flavor's rows run here? (True, what will be used) or (False, what is missing
    and the steps that fix it). Starts no Julia in this process."""
    f = flavor_named(flavor)
    both = "need Julia 1.6-1.9 for Knet / >= 1.10 for Flux"
    setup = f"`{SETUP_COMMAND}`"
    path, where = find_julia(f)
    if path is None:
        pip = ('pip install "juliacall<=0.9.28"' if f.name == "knet"  # Julia 1.9 and >= 1.10.3
               else "pip install juliacall")
        return False, f"{where} ({both}): {INSTALL_JULIA}, then `{pip}` and {setup}"
    version = julia_version(path)
    if version is None:
        return False, f"{path} ({where}) did not print `julia version X.Y.Z` for `--version`"
    shown = ".".join(map(str, version))
    if not f.accepts(version):
        return False, (f"{f.framework} needs Julia {f.versions}, but {path} ({where}) is Julia "
                       f"{shown}: install a Julia {f.versions} (e.g. `juliaup add "
                       f"{'1.9' if f.name == 'knet' else 'release'}`) and point "
                       f"{f.julia_variable} at its julia binary, then run {setup}")
    try:
        bridge = bridge_name()
    except ValueError as error:
        return False, str(error)
    if bridge == "pyjulia":
        if importlib.util.find_spec("julia") is None:
            return False, (f"{BRIDGE_VARIABLE}=pyjulia, but PyJulia is not installed: "
                           "`pip install julia` and add PyCall to the Julia environment, or "
                           f"unset {BRIDGE_VARIABLE} to use juliacall")
        bridge = "PyJulia"
    else:
        required = juliacall_requirements()
        if required is None:
            pin = (' "juliacall<=0.9.28"' if f.name == "knet" else " juliacall")
            return False, (f"juliacall is not installed (the Python-Julia bridge): "
                           f"`pip install{pin}`, then {setup}")
        jc_version, jc_julia, pythoncall = required
        if jc_julia and not julia_compat_contains(jc_julia, version):
            return False, (f"juliacall {jc_version} supports Julia {jc_julia}, not {shown}: "
                           f"`pip install \"juliacall<=0.9.28\"` (Julia 1.9 and >= 1.10.3) or "
                           f"`pip install \"juliacall<=0.9.25\"` (Julia 1.6-1.8), then {setup}")
        bridge = f"juliacall {jc_version}"
    manifest = manifest_path(f)
    if manifest is None:
        return False, (f"the {f.framework} environment ({f.project / 'Project.toml'}) is not "
                       f"instantiated (no Manifest.toml): run {setup}")
    versions = manifest_versions(manifest)
    if f.package not in versions:
        return False, f"{manifest} has no {f.package}: run {setup}"
    if bridge.startswith("juliacall"):
        have = versions.get("PythonCall")
        if have != pythoncall:
            return False, (f"{bridge} needs PythonCall {pythoncall} in the {f.framework} "
                           f"environment, which has {have or 'none'}: run {setup}")
    return True, (f"ready: Julia {shown} ({path}, from {where}), {f.package} "
                  f"{versions[f.package]}, {bridge}")


def julia_problem(flavor: str) -> str | None:
    """`julia_readiness` in the registry's form: None when ready, else the reason."""
    ready, reason = julia_readiness(flavor)
    return None if ready else reason


# ---------------------------------------------------------------------------------------------
# Layouts: what Julia receives (each array in the logical shape the Julia code indexes).
# ---------------------------------------------------------------------------------------------

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


def julia_weights(model: str, params: dict[str, np.ndarray], flavor: str) -> dict[str, np.ndarray]:
    """Canonical weights (SPEC 5) -> {name: array} in the logical shapes `flavor`'s Julia code
    stores (each F-contiguous, so Julia copies it as one block). Names stay canonical, except
    Knet's GRU, whose four tensors become one packed vector `gru.w`."""
    f = flavor_named(flavor)
    out: dict[str, np.ndarray] = {}
    for name, value in params.items():
        if name.startswith("gru.") or name.endswith("num_batches_tracked"):  # a counter
            continue
        value = np.asarray(value, dtype=np.float32)
        if model == "rnn" and name == "embedding.weight":
            out[name] = np.asfortranarray(value.T)  # (vocab, E) -> (E, vocab): one word a column
        elif value.ndim == 4:
            out[name] = julia_conv_weight(value, flip=f.flips_kernels)
        elif value.ndim == 2:
            out[name] = julia_dense_weight(value)
        else:
            out[name] = np.asfortranarray(value)
    if model == "rnn":
        gru = [params[f"gru.{k}_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if f.name == "knet":
            out["gru.w"] = knet_gru_vector(*gru)
        else:  # Flux: the cell in julia_impls/flux/rnn.jl keeps PyTorch's four tensors
            for key, value in zip(("Wi", "Wh", "bi", "bh"), gru):
                out[f"gru.{key}"] = np.asfortranarray(value, dtype=np.float32)
    return out


def canonical_weights(model: str, params: dict[str, np.ndarray], flavor: str) -> dict[str, np.ndarray]:
    """The inverse of `julia_weights`: what a flavor's `get_weights` returns (its names and
    shapes) -> canonical names and layouts, C-ordered float32."""
    f = flavor_named(flavor)
    out: dict[str, np.ndarray] = {}
    for name, value in params.items():
        value = np.asarray(value, dtype=np.float32)
        if name.startswith("gru."):
            continue
        if model == "rnn" and name == "embedding.weight":
            out[name] = value.T  # (E, vocab) -> (vocab, E)
        elif name.endswith(".bias"):
            out[name] = value.reshape(-1)  # Knet keeps conv biases as (1, 1, C, 1)
        elif value.ndim == 4:  # (kW, kH, I, O) -> (O, I, kH, kW)
            out[name] = value.T[:, :, ::-1, ::-1] if f.flips_kernels else value.T
        else:
            out[name] = value
    if model == "rnn":
        if f.name == "knet":
            hidden, embedding = out["fc.weight"].shape[1], out["embedding.weight"].shape[1]
            sizes = [3 * hidden * embedding, 3 * hidden * hidden, 3 * hidden, 3 * hidden]
            w_ih, w_hh, b_ih, b_hh = np.split(np.asarray(params["gru.w"], np.float32).ravel(),
                                              np.cumsum(sizes)[:-1])
            gru = (w_ih.reshape(3 * hidden, embedding), w_hh.reshape(3 * hidden, hidden),
                   b_ih, b_hh)
        else:
            gru = tuple(np.asarray(params[f"gru.{k}"], np.float32) for k in ("Wi", "Wh", "bi", "bh"))
        for key, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), gru):
            out[f"gru.{key}_l0"] = value
    return {name: np.ascontiguousarray(value) for name, value in out.items()}


# ---------------------------------------------------------------------------------------------
# Starting Julia (in the child process only).
# ---------------------------------------------------------------------------------------------

def juliacall_environment(flavor: Flavor, julia: str) -> dict[str, str]:
    """Variables that make juliacall use this julia and this flavor's environment as is:
    PYTHON_JULIACALL_EXE/PROJECT (juliacall >= 0.9.28 then skips juliapkg), and juliapkg's
    EXE/PROJECT with OFFLINE=yes for older juliacall (it then installs nothing; `setup julia`
    did). Signal handling on: CUDA.jl and Julia's GC rely on it in a host process."""
    project = str(flavor.project)
    return {
        "PYTHON_JULIACALL_EXE": julia, "PYTHON_JULIACALL_PROJECT": project,
        "PYTHON_JULIAPKG_EXE": julia, "PYTHON_JULIAPKG_PROJECT": project,
        "PYTHON_JULIAPKG_OFFLINE": "yes",
    }


class _JuliaCall:
    """juliacall: numeric NumPy arrays arrive in Julia as `PyArray`s sharing their memory."""

    name = "juliacall"

    def __init__(self, flavor: Flavor, julia: str) -> None:
        os.environ.update(juliacall_environment(flavor, julia))
        os.environ.setdefault("PYTHON_JULIACALL_HANDLE_SIGNALS", "yes")
        import juliacall  # starts Julia

        self.main = juliacall.Main
        self.version = importlib.metadata.version("juliacall")

    def include(self, path: Path) -> Any:
        return self.main.include(str(path))


class _PyJulia:
    """PyJulia (`julia` on PyPI, last release 2023), for users who already have it working;
    PyCall must be in the flavor's Julia environment. Arrays arrive as copies."""

    name = "pyjulia"

    def __init__(self, flavor: Flavor, julia: str) -> None:
        os.environ["JULIA_PROJECT"] = str(flavor.project)
        from julia.api import Julia

        Julia(runtime=julia, compiled_modules=False)
        from julia import Main

        self.main = Main
        self.version = importlib.metadata.version("julia")

    def include(self, path: Path) -> Any:
        return self.main.include(str(path))


def start_julia(flavor: Flavor) -> _JuliaCall | _PyJulia:
    ready, reason = julia_readiness(flavor.name)
    if not ready:
        raise JuliaNotReady(reason)
    julia, _ = find_julia(flavor)
    assert julia is not None
    return (_PyJulia if bridge_name() == "pyjulia" else _JuliaCall)(flavor, julia)


# ---------------------------------------------------------------------------------------------
# The adapters: the harness's interface, implemented by calling Julia.
# ---------------------------------------------------------------------------------------------

class _JuliaRun:
    """Starts Julia and loads one source file at construction (outside every timed phase:
    the harness starts its clock after constructing), then forwards the interface."""

    benchmark: str
    requested_device: str

    def _start(self, flavor: str) -> None:
        self.flavor = flavor_named(flavor)
        started = time.perf_counter()
        self.bridge = start_julia(self.flavor)
        self.module = self.bridge.include(self.flavor.sources / SOURCES[self.benchmark])
        self.state = self.module.State(self.requested_device)
        self.start_s = time.perf_counter() - started

    def sync(self) -> None:
        self.module.sync(self.state)  # CUDA.synchronize() on a GPU

    def info(self) -> RunInfo:
        jl = {str(k): str(v) for k, v in dict(self.module.info(self.state)).items()}
        return RunInfo(
            framework=self.flavor.framework,
            framework_version=jl.pop("framework_version", ""),
            language="julia",
            language_version=jl.pop("julia_version", ""),
            device=jl.pop("device", "cpu"),
            device_name=jl.pop("device_name", ""),
            precision=jl.pop("precision", "fp32"),
            cudnn={"yes": True, "no": False}.get(jl.pop("cudnn", ""), None),
            extra={**jl, "bridge": f"{self.bridge.name} {self.bridge.version}",
                   "julia_start_s": round(self.start_s, 2), "not_run_in_ci": True},
        )

    def _load(self, model: str, params: dict[str, np.ndarray]) -> None:
        for name, value in julia_weights(model, params, self.flavor.name).items():
            self.module.load_weight(self.state, name, value)


class _JuliaTraining(_JuliaRun):
    """For `verify` (training): the Julia side returns arrays in its own layout, which is the
    canonical one reversed; everything is turned back here."""

    config: CNNConfig | RNNConfig

    def _julia_inputs(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_weights(self) -> dict[str, np.ndarray]:
        julia = {str(k): np.asarray(v) for k, v in dict(self.module.get_weights(self.state)).items()}
        return canonical_weights(self.benchmark, julia, self.flavor.name)

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.module.verify_step(self.state, self._julia_inputs(x),
                                             julia_labels(y, self.config.n_classes)))

    def activations(self, x: np.ndarray) -> dict[str, np.ndarray]:
        julia = dict(self.module.activations(self.state, self._julia_inputs(x)))
        return {str(k): np.ascontiguousarray(np.asarray(v).T) for k, v in julia.items()}


class JuliaCNN(_JuliaTraining, TrainingImplementation):
    """SPEC 1 in Julia: `julia_impls/<flavor>/cnn.jl`."""

    benchmark = "cnn"

    def __init__(self, device: str = "auto", flavor: str = "knet", **options: Any) -> None:
        super().__init__(device, flavor=flavor, **options)
        self._start(flavor)

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.n_train, self.n_test = len(data.x_train), len(data.x_test)
        self.n_classes = CNNConfig().n_classes
        self.module.prepare(self.state, julia_images(data.x_train),
                            julia_labels(data.y_train, self.n_classes), julia_images(data.x_test))

    # == model ==  (and == loss and optimizer ==, in the Julia file)
    def build(self, config: CNNConfig, seed: int) -> None:
        self.config, self.n_classes = config, config.n_classes
        self.module.build(self.state, seed, batch_size=config.batch_size, lr=config.lr,
                          momentum=config.momentum, n_classes=config.n_classes)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.module.train_epoch(self.state, julia_order(order, self.n_train,
                                                        self.config.batch_size))

    # == prediction ==
    def predict(self) -> np.ndarray:
        return from_julia_columns(self.module.predict(self.state), self.n_test, self.n_classes)

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        self._load("cnn", params)

    @staticmethod
    def _julia_inputs(x: np.ndarray) -> np.ndarray:
        return julia_images(np.ascontiguousarray(x, dtype=np.float32))


class JuliaRNN(_JuliaTraining, TrainingImplementation):
    """SPEC 2 in Julia: `julia_impls/<flavor>/rnn.jl`."""

    benchmark = "rnn"

    def __init__(self, device: str = "auto", flavor: str = "knet", **options: Any) -> None:
        super().__init__(device, flavor=flavor, **options)
        self._start(flavor)

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.n_train, self.n_test = len(data.x_train), len(data.x_test)
        n_classes = RNNConfig().n_classes
        # Token ids stay 0-based: they index rows of the embedding, which Julia shifts by one.
        self.module.prepare(self.state, julia_tokens(data.x_train),
                            julia_labels(data.y_train, n_classes), julia_tokens(data.x_test))

    # == model ==
    def build(self, config: RNNConfig, seed: int) -> None:
        self.config = config
        self.module.build(self.state, seed, batch_size=config.batch_size,
                          vocab_size=config.vocab_size, embedding_dim=config.embedding_dim,
                          hidden=config.hidden, n_classes=config.n_classes, lr=config.lr,
                          beta1=config.beta1, beta2=config.beta2, eps=config.eps)

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        self.module.train_epoch(self.state, julia_order(order, self.n_train,
                                                        self.config.batch_size))

    # == prediction ==
    def predict(self) -> np.ndarray:
        return from_julia_columns(self.module.predict(self.state), self.n_test,
                                  self.config.n_classes)

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        self._load("rnn", params)

    @staticmethod
    def _julia_inputs(x: np.ndarray) -> np.ndarray:
        return julia_tokens(np.ascontiguousarray(x, dtype=np.int32))


class JuliaFeatures(_JuliaRun, InferenceImplementation):
    """SPEC 3 in Julia: `julia_impls/<flavor>/inference.jl`."""

    benchmark = "inference"

    def __init__(self, device: str = "auto", flavor: str = "knet", **options: Any) -> None:
        super().__init__(device, flavor=flavor, **options)
        self._start(flavor)

    # == data ==
    def prepare(self, images: np.ndarray) -> None:
        self.module.prepare(self.state, julia_images(images))

    # == model ==
    def build(self, config: InferenceConfig, weights: dict[str, np.ndarray] | None,
              seed: int) -> None:
        self.feature_dim = config.feature_dim
        if weights is not None:  # canonical tensors first; `build` initialises the rest
            self._load("resnet50", {k: v for k, v in weights.items() if not k.startswith("fc.")})
        self.module.build(self.state, seed)

    # == features ==
    def extract(self, start: int, stop: int) -> np.ndarray:
        first, last = julia_range(start, stop)
        return from_julia_columns(self.module.extract(self.state, first, last), stop - start,
                                  self.feature_dim)
