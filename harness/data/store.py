"""The HDF5 data store (docs/benchmarks.md §6): where the files live, how they are written, checked and read.

One file a data set, arrays `x_train`, `y_train`, `x_test`, `y_test` at the root, C order, so
every language reads the same bytes. A file is written to a temporary name, read back, and renamed
over the old one only once it checks; each array carries the sha256 of its bytes, and the
`complete` attribute is set last: an interrupted or failed conversion never leaves a file that
passes as good data, nor costs the good file already there. Every load checks the checksums.
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.sources import SOURCES
from harness.project import REPO_ROOT

FORMAT_VERSION = 1
ARRAYS = ("x_train", "y_train", "x_test", "y_test")
CHECK_BLOCK_BYTES = 8 << 20  # how much of an array `read_checked` hashes at a time
# What a result calls real data converted from an archive whose checksum was not the canonical
# one (`data import --allow-unverified`): every record, table and plot carries it.
UNVERIFIED = "real, unverified"


@dataclass(frozen=True)
class Layout:
    """What docs/benchmarks.md §6 says a data set's arrays look like."""

    x_shape: tuple[int, ...]  # one sample
    x_dtype: np.dtype
    n_classes: int
    rows: tuple[int, int]  # (train, test) of the full data set
    x_max: int | None  # exclusive upper bound of x values, where one is worth checking


LAYOUTS = {
    "cifar10": Layout((3, 32, 32), np.dtype(np.uint8), 10, (50_000, 10_000), None),
    "imdb": Layout((150,), np.dtype(np.int32), 2, (25_000, 25_000), 30_000),
}


class DataError(Exception):
    """The data are missing or damaged; the message says what to do."""


@dataclass
class Dataset:
    name: str
    kind: str  # what results call the data: "real", "real, unverified" or "synthetic"
    path: Path
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Where the HDF5 files live: the flag, else $HARNESS_DATA_DIR, else <repo>/datasets."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("HARNESS_DATA_DIR")
    return Path(env).expanduser() if env else REPO_ROOT / "datasets"


def real_path(name: str, directory: Path) -> Path:
    return directory / SOURCES[name].h5_name


def synthetic_path(name: str, directory: Path) -> Path:
    return directory / "synthetic" / f"{name}.h5"


def fetch_hint(name: str) -> str:
    return (f"run `python -m harness data fetch {name}`, or `python -m harness data import PATH` "
            f"with the archive ({SOURCES[name].archive}) already on disk")


def array_sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --- writing -------------------------------------------------------------------------------

def write_dataset(path: str | os.PathLike, arrays: dict[str, np.ndarray],
                  attrs: dict[str, Any]) -> None:
    """Write `arrays` and `attrs` (must include `kind` and `name`) to `path` atomically.

    Adds `format_version`, `created` and, last of all, `complete=True`; each array gets its
    sha256 as the dataset attribute `sha256`. The new file is built under a temporary name in
    the same directory and read back completely (`verify_dataset`); only a file that passes
    replaces `path`, so a failed write or check never costs the data already there.
    """
    import h5py

    path = Path(path)
    if attrs.get("kind") not in ("real", "synthetic"):
        raise ValueError("attrs['kind'] must be 'real' or 'synthetic'")
    # A per-process name: two processes making the same synthetic file must not share it.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(tmp, "w") as f:
            for key, array in arrays.items():
                array = np.ascontiguousarray(array)
                f.create_dataset(key, data=array).attrs["sha256"] = array_sha256(array)
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["created"] = now_iso()
            for key, value in attrs.items():
                if value is not None:
                    f.attrs[key] = value
            f.flush()
            f.attrs["complete"] = True
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        problems = verify_dataset(tmp)
        if problems:
            kept = "the file already there is unchanged" if path.exists() else "nothing written"
            raise DataError(f"{path} was not written, the new data do not check "
                            f"({'; '.join(problems)}); {kept}")
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise DataError(write_failure(path, error)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_failure(path: Path, error: OSError) -> str:
    """The one line that says why `path` could not be written and what to do."""
    kept = "; the file already there is unchanged" if path.exists() else ""
    if error.errno == errno.ENOSPC:
        return f"disk full at {path.parent}: free space and rerun{kept}"
    return (f"cannot write {path} ({one_line(error)}): make {path.parent} writable or choose "
            f"another data directory with --data-dir{kept}")


def check_writable(directory: Path) -> None:
    """Raise DataError unless files can be created in `directory` (made if missing), so a
    command fails before its download or conversion, not after."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
            pass
    except OSError as error:
        raise DataError(f"the data directory {directory} is not writable ({one_line(error)}): "
                        f"fix its permissions or choose another with --data-dir") from None


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the rename itself is atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- checking ------------------------------------------------------------------------------

def dataset_name(f: Any, path: Path) -> str | None:
    name = f.attrs.get("name", path.stem)
    name = name.decode() if isinstance(name, bytes) else str(name)
    return name if name in LAYOUTS else None


def structure_problems(f: Any, path: Path) -> list[str]:
    """Cheap checks (metadata only): complete, known data set, arrays, dtypes, shapes."""
    if not f.attrs.get("complete", False):
        return ["incomplete: the `complete` mark is missing (an interrupted or foreign write)"]
    problems = []
    version = f.attrs.get("format_version")
    if version != FORMAT_VERSION:
        problems.append(f"format version {version}, expected {FORMAT_VERSION}")
    name = dataset_name(f, path)
    if name is None:
        return problems + [f"unknown data set (attribute `name` = {f.attrs.get('name')!r})"]
    layout = LAYOUTS[name]
    missing = [key for key in ARRAYS if key not in f]
    if missing:
        return problems + [f"arrays missing: {', '.join(missing)}"]
    for split in ("train", "test"):
        x, y = f[f"x_{split}"], f[f"y_{split}"]
        if x.dtype != layout.x_dtype or x.shape[1:] != layout.x_shape:
            problems.append(f"x_{split} is {x.dtype} {x.shape}, expected {layout.x_dtype} "
                            f"(N, {', '.join(map(str, layout.x_shape))})")
        if y.dtype != np.int32 or y.ndim != 1:
            problems.append(f"y_{split} is {y.dtype} {y.shape}, expected int32 (N,)")
        if x.shape[0] != y.shape[0]:
            problems.append(f"x_{split} has {x.shape[0]} rows but y_{split} has {y.shape[0]}")
        if x.shape[0] == 0:
            problems.append(f"x_{split} is empty")
    return problems


def content_problems(f: Any, path: Path) -> list[str]:
    """Expensive checks (reads every byte): checksums and value ranges."""
    layout = LAYOUTS[dataset_name(f, path)]
    problems = []
    for key in ARRAYS:
        array = f[key][()]
        stored = f[key].attrs.get("sha256")
        if stored is None:
            problems.append(f"{key} has no checksum")
        elif array_sha256(array) != stored:
            problems.append(f"{key} does not match its checksum (the bytes changed on disk)")
        if key.startswith("y") and array.size and (array.min() < 0
                                                   or array.max() >= layout.n_classes):
            problems.append(f"{key} has labels outside 0..{layout.n_classes - 1}")
        if key.startswith("x") and layout.x_max and array.size and (
                array.min() < 0 or array.max() >= layout.x_max):
            problems.append(f"{key} has values outside 0..{layout.x_max - 1}")
    return problems


def verify_dataset(path: str | os.PathLike) -> list[str]:
    """Everything wrong with the file at `path`; an empty list means it is good."""
    import h5py

    path = Path(path)
    if not path.exists():
        return [f"{path} does not exist"]
    try:
        with h5py.File(path, "r") as f:
            problems = structure_problems(f, path)
            if not problems:
                problems = content_problems(f, path)
            return problems
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        return [f"cannot be read, truncated or corrupt ({one_line(error)})"]


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# --- reading -------------------------------------------------------------------------------

def load_dataset(name: str, kind: str = "auto", data_dir: str | os.PathLike | None = None,
                 n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """The first `n_train`/`n_test` rows (None: all) of a data set, real or synthetic.

    kind "auto" reads the real file where one exists, else the synthetic stand-in (generated
    and cached on first use). A real file that exists but is damaged is an error, never a
    reason to fall back to synthetic data.
    """
    if name not in LAYOUTS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(LAYOUTS)}")
    if kind not in ("auto", "real", "synthetic"):
        raise DataError(f"unknown data kind {kind!r}; use real, synthetic or auto")
    directory = resolve_dir(data_dir)
    real = real_path(name, directory)
    if kind == "real" or (kind == "auto" and real.exists()):
        if not real.exists():
            raise DataError(f"no real {name} data at {real}: {fetch_hint(name)}")
        try:
            return read_dataset(real, name, "real", n_train, n_test)
        except DataError as error:
            raise DataError(f"{real} {error}: {fetch_hint(name)}") from None
    path = synthetic_path(name, directory)
    try:
        return read_dataset(path, name, "synthetic", n_train, n_test)
    except (DataError, FileNotFoundError) as error:
        if path.exists():
            print(f"{path}: {error}; generating it again", file=sys.stderr)
        make_synthetic(name, path)
        try:
            return read_dataset(path, name, "synthetic", n_train, n_test)
        except DataError as error:
            raise DataError(f"{path} {error}") from None


resolve_dir = data_dir  # load_dataset's parameter shadows the function's name


def read_dataset(path: Path, name: str, kind: str, n_train: int | None,
                 n_test: int | None) -> Dataset:
    """Read a file, raising DataError (message: what is wrong) if it is not good data."""
    import h5py

    from harness.data.synthetic import GENERATOR_VERSION

    if not path.exists():
        raise FileNotFoundError(path)
    try:
        with h5py.File(path, "r") as f:
            problems = structure_problems(f, path)
            attrs = {key: plain(value) for key, value in f.attrs.items()}
            if not problems and dataset_name(f, path) != name:
                problems.append(f"holds {attrs.get('name')!r}, not {name!r}")
            if not problems and attrs.get("kind") != kind:
                problems.append(f"is marked kind={attrs.get('kind')!r}, expected {kind!r}")
            if (not problems and kind == "synthetic"
                    and attrs.get("generator_version") != GENERATOR_VERSION):
                problems.append("was made by another version of the synthetic generator")
            if problems:
                raise DataError("is not usable: " + "; ".join(problems))
            arrays = {key: read_checked(f[key], n_train if key.endswith("train") else n_test)
                      for key in ARRAYS}
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        raise DataError(f"is truncated or corrupt ({one_line(error)})") from None
    if kind == "real" and attrs.get("verified") is False:
        kind = UNVERIFIED
    return Dataset(name=name, kind=kind, path=path, attrs=attrs, **arrays)


def read_checked(array: Any, n: int | None) -> np.ndarray:
    """The first `n` rows (None: all) of an HDF5 array, after checking the whole array's bytes
    against its stored sha256.

    Every run checks, so damage on disk fails the run instead of training on it. The array is
    hashed in blocks of about 8 MiB, in one pass that also keeps the rows asked for: the check
    costs one read of the file (CIFAR-10, 184 MB: about 0.1 s from the page cache on this
    project's CPU) and no more memory than the rows a run uses.
    """
    rows = array.shape[0]
    n = rows if n is None else min(n, rows)
    out = np.empty((n, *array.shape[1:]), array.dtype)
    digest = hashlib.sha256()
    row_bytes = int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize
    step = max(1, CHECK_BLOCK_BYTES // max(1, row_bytes))
    for start in range(0, rows, step):
        block = np.ascontiguousarray(array[start:start + step])
        digest.update(block.data)
        if start < n:
            out[start:min(n, start + step)] = block[:n - start]
    if digest.hexdigest() != array.attrs.get("sha256"):
        raise DataError(f"is corrupt: {array.name.lstrip('/')} does not match its checksum")
    return out


def plain(value: Any) -> Any:
    """An HDF5 attribute as a plain Python value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def make_synthetic(name: str, path: Path) -> None:
    from harness.data.synthetic import GENERATOR_VERSION, GENERATORS, SEED

    if name not in GENERATORS:
        raise DataError(f"no synthetic stand-in for data set {name!r}; known: "
                        f"{', '.join(GENERATORS)}")
    print(f"generating the synthetic {name} stand-in once: {path}", file=sys.stderr)
    arrays = GENERATORS[name](seed=SEED)
    write_dataset(path, arrays, {"kind": "synthetic", "name": name, "seed": SEED,
                                 "generator_version": GENERATOR_VERSION,
                                 "source": "harness.data.synthetic (learnable stand-in)"})
