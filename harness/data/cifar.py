"""CIFAR-10 from its python archive (cifar-10-python.tar.gz) into canonical arrays.

The archive holds `cifar-10-batches-py/data_batch_1..5` and `test_batch`: pickled dicts with
b"data", uint8 (N, 3072) (1024 red, 1024 green, 1024 blue values, each 32x32 row-major, so a
plain reshape gives NCHW) and b"labels", a list of class indices.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.store import DataError, fetch_hint

PREFIX = "cifar-10-batches-py/"
TRAIN_MEMBERS = tuple(f"{PREFIX}data_batch_{i}" for i in range(1, 6))
TEST_MEMBER = f"{PREFIX}test_batch"


# No array in a data archive comes near this (a CIFAR-10 batch holds 30 MB); a pickle that
# declares more is refused before NumPy allocates it.
MAX_ARRAY_BYTES = 1 << 30
# A batch member is about 31 MB; a member declaring more is not CIFAR-10 (or is a zip bomb).
MAX_MEMBER_BYTES = 256 << 20


class CheckedArray(np.ndarray):
    """The array class arrays are unpickled into: it checks what a pickle declares before NumPy
    acts on it. NumPy trusts a pickled shape: a huge one is a MemoryError, and an object array
    whose list is shorter than its shape crashes the interpreter."""

    def __new__(cls, shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> CheckedArray:
        check_declared(shape, dtype)
        return super().__new__(cls, shape, dtype, *args, **kwargs)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("an array's pickled state is malformed")
        shape, dtype, _, data = state[-4:]
        count, nbytes = check_declared(shape, dtype)
        dtype = np.dtype(dtype)
        if dtype.hasobject:
            if dtype != np.dtype(object) or not isinstance(data, list) or len(data) != count:
                raise pickle.UnpicklingError(f"an object array declares shape {shape} but holds "
                                             f"{len(data) if isinstance(data, list) else '?'} "
                                             f"items")
        # bytes; or str, one character a byte, from a Python 2 pickle read as latin1
        elif not isinstance(data, (bytes, str)) or len(data) != nbytes:
            raise pickle.UnpicklingError(f"an array declares shape {shape} of {dtype} "
                                         f"({nbytes:,} bytes) but holds "
                                         f"{len(data) if isinstance(data, (bytes, str)) else '?'}")
        super().__setstate__(state)


def check_declared(shape: Any, dtype: Any) -> tuple[int, int]:
    """(elements, bytes) of a declared array, refusing malformed or absurd ones."""
    shape = (shape,) if isinstance(shape, int) else shape
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise pickle.UnpicklingError(f"an array declares the shape {shape!r}")
    count = 1
    for n in shape:  # Python ints: a product that overflows int64 is still seen as absurd
        count *= n
    nbytes = count * np.dtype(dtype).itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise pickle.UnpicklingError(f"an array declares shape {shape} ({nbytes:,} bytes), more "
                                     f"than any data archive holds")
    return count, nbytes


def checked_reconstruct(subtype: Any, shape: Any, dtype: Any) -> CheckedArray:
    """numpy's `_reconstruct` (which allocates the declared shape at once), after checking it."""
    from numpy.core.multiarray import _reconstruct

    if subtype is not CheckedArray:
        raise pickle.UnpicklingError("refusing to rebuild an array of another class")
    check_declared(shape, dtype)
    return _reconstruct(CheckedArray, shape, dtype)


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only.

    The archives are pickles; a restricted unpickler means an archive imported with
    --allow-unverified cannot run code, it can only fail to load. Arrays come back as
    `CheckedArray`, so absurd or inconsistent shapes are refused before anything is allocated.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data archive")
        if name == "_reconstruct":
            return checked_reconstruct
        if name == "ndarray":
            return CheckedArray
        return super().find_class(module, name)


def load_pickle(data: bytes | io.BufferedIOBase, encoding: str = "bytes") -> Any:
    """Unpickle data with `ArrayUnpickler` (encoding="bytes" reads Python 2 pickles); arrays
    come back as `CheckedArray` (np.asarray gives the plain array)."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    return ArrayUnpickler(stream, encoding=encoding).load()


def read_cifar_archive(path: str | Path,
                       progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """x_train uint8 (N, 3, 32, 32), y_train int32 (N,), x_test, y_test from the archive.

    `progress(batches done, 6)` is called as batches are read.
    """
    path = Path(path)
    wanted = (*TRAIN_MEMBERS, TEST_MEMBER)
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:  # one pass over the compressed stream
                if member.name in wanted and member.isfile():
                    if member.size > MAX_MEMBER_BYTES:
                        raise DataError(f"{member.name} declares {member.size:,} bytes; a "
                                        f"CIFAR-10 batch is about 31 MB")
                    handle = tar.extractfile(member)
                    batches[member.name] = parse_batch(load_pickle(handle.read()), member.name)
                    if progress:
                        progress(len(batches), len(wanted))
    except DataError as error:
        raise DataError(f"{path} is not a valid CIFAR-10 python archive: {error}; "
                        f"{fetch_hint('cifar10')}") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError, pickle.UnpicklingError,
            ValueError, TypeError, AttributeError, MemoryError, RecursionError) as error:
        raise DataError(f"{path} is not a readable CIFAR-10 python archive ({error}); "
                        f"{fetch_hint('cifar10')}") from None
    missing = [m for m in wanted if m not in batches]
    if missing:
        raise DataError(f"{path} is not a complete CIFAR-10 python archive: missing "
                        f"{', '.join(missing)}; {fetch_hint('cifar10')}")
    x_train, y_train = (np.concatenate(a) for a in zip(*(batches[m] for m in TRAIN_MEMBERS)))
    x_test, y_test = batches[TEST_MEMBER]
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def parse_batch(batch: Any, member: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{member}: not a CIFAR-10 batch (no b'data'/b'labels')")
    data = np.asarray(batch[b"data"])
    # As stored: a cast to an integer type would make a label 0.7 the class 0, unseen.
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{member}: data is {data.dtype} {data.shape}, expected uint8 (N, 3072)")
    if labels.shape != (data.shape[0],):
        raise DataError(f"{member}: labels of shape {labels.shape} for {data.shape[0]} images")
    problem = label_problem(labels)
    if problem:
        raise DataError(f"{member}: {problem}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int32)


def label_problem(labels: np.ndarray) -> str | None:
    """Why `labels` are not the class indices 0..9 (whole numbers, in any numeric type), or
    None."""
    if labels.dtype.kind not in "biuf":
        return f"labels are {labels.dtype}, expected the integers 0..9"
    bad = np.flatnonzero(~np.isin(labels, np.arange(10)))
    if bad.size:
        return f"labels[{bad[0]}] is {labels[bad[0]].item()!r}: labels must be the integers 0..9"
    return None
