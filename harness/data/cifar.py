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


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only.

    The archives are pickles; a restricted unpickler means an archive imported with
    --allow-unverified cannot run code, it can only fail to load.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data archive")
        return super().find_class(module, name)


def load_pickle(data: bytes | io.BufferedIOBase, encoding: str = "bytes") -> Any:
    """Unpickle data with `ArrayUnpickler` (encoding="bytes" reads Python 2 pickles)."""
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
                    handle = tar.extractfile(member)
                    batches[member.name] = parse_batch(load_pickle(handle.read()), member.name)
                    if progress:
                        progress(len(batches), len(wanted))
    except DataError as error:
        raise DataError(f"{path} is not a valid CIFAR-10 python archive: {error}; "
                        f"{fetch_hint('cifar10')}") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError, pickle.UnpicklingError,
            ValueError, TypeError, AttributeError) as error:
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
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{member}: data is {data.dtype} {data.shape}, expected uint8 (N, 3072)")
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise DataError(f"{member}: {labels.shape[0]} labels for {data.shape[0]} images, or "
                        f"labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int32)
