"""IMDB from the Keras `imdb.npz` release, preprocessed exactly as docs/benchmarks.md §3 (and the original).

The archive holds object arrays `x_train`, `x_test` (one list of word indices a review, most
frequent word = 1) and `y_train`, `y_test` (0/1).
"""

from __future__ import annotations

import pickle
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from harness.data.cifar import MAX_MEMBER_BYTES, load_pickle
from harness.data.store import DataError, fetch_hint

VOCAB_SIZE = 30_000
SEQ_LEN = 150
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3
KERAS_SEED = 113  # keras.datasets.imdb.load_data's default shuffle seed
MAX_WORD_ID = 2**31 - 1 - INDEX_FROM  # shifted by INDEX_FROM, an id still fits int32
ROW_ORDER = ("keras.datasets.imdb.load_data order: np.random.RandomState(113) shuffles "
             "train, then test")


def preprocess_imdb(sequences: Sequence[Sequence[int]], vocab_size: int = VOCAB_SIZE,
                    seq_len: int = SEQ_LEN, start: int = START_CHAR, oov: int = OOV_CHAR,
                    index_from: int = INDEX_FROM,
                    progress: Callable[[int], None] | None = None) -> np.ndarray:
    """int32 (N, seq_len): start marker prepended, indices shifted by `index_from`, every
    index >= `vocab_size` made `oov`, the LAST `seq_len` tokens kept, zero padding at the END.

    `progress(rows done)` is called every 1,000 rows.
    """
    out = np.zeros((len(sequences), seq_len), np.int32)
    for row, words in enumerate(sequences):
        tokens = np.concatenate(([start], np.asarray(words, dtype=np.int64) + index_from))
        tokens[tokens >= vocab_size] = oov
        tokens = tokens[-seq_len:]
        out[row, : len(tokens)] = tokens
        if progress and (row + 1) % 1000 == 0:
            progress(row + 1)
    if progress:
        progress(len(sequences))
    return out


def read_imdb_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The four arrays of a Keras imdb.npz, as stored (x: object arrays of lists)."""
    path = Path(path)
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for key in ("x_train", "y_train", "x_test", "y_test"):
                arrays[key] = read_npy(archive, f"{key}.npy")
    except DataError as error:
        raise DataError(f"{path} is not a valid Keras imdb.npz: {error}; "
                        f"{fetch_hint('imdb')}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, TypeError,
            AttributeError, KeyError, IndexError, pickle.UnpicklingError, MemoryError,
            RecursionError) as error:
        raise DataError(f"{path} is not a readable Keras imdb.npz ({type(error).__name__}: "
                        f"{error}); {fetch_hint('imdb')}") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        problem = (f"x_{split} {x.shape} and y_{split} {y.shape} do not match"
                   if x.ndim != 1 or y.shape != x.shape
                   else label_problem(y, f"y_{split}") or review_problem(x, f"x_{split}"))
        if problem:
            raise DataError(f"{path} is not a valid Keras imdb.npz: {problem}; "
                            f"{fetch_hint('imdb')}")
    return arrays


def label_problem(labels: np.ndarray, key: str) -> str | None:
    """Why `labels` are not the integers 0 and 1, or None."""
    if labels.dtype.kind not in "biuf":
        return f"{key} holds {labels.dtype} labels, expected the integers 0 and 1"
    bad = np.flatnonzero(~np.isin(labels, (0, 1)))
    if bad.size:
        return (f"{key}[{bad[0]}] is {labels[bad[0]].item()!r}: labels must be the integers "
                f"0 and 1")
    return None


def review_problem(reviews: np.ndarray, key: str) -> str | None:
    """Why `reviews` are not lists of word ids in 0..MAX_WORD_ID, or None."""
    for row, words in enumerate(reviews):
        try:
            ids = np.asarray(words)
        except (ValueError, TypeError) as error:
            return f"{key}[{row}] is not a list of word ids ({error})"
        if ids.ndim != 1:
            return f"{key}[{row}] is not a list of word ids (shape {ids.shape})"
        if not ids.size:
            continue
        if ids.dtype.kind not in "iu":
            return f"{key}[{row}] holds {ids.dtype} values, expected integer word ids"
        if ids.min() < 0:
            return f"{key}[{row}] holds the negative word id {ids.min()}"
        if ids.max() > MAX_WORD_ID:
            return f"{key}[{row}] holds the word id {ids.max()}, beyond {MAX_WORD_ID}"
    return None


def read_npy(archive: zipfile.ZipFile, member: str) -> np.ndarray:
    """One array of an .npz; object arrays go through the restricted unpickler."""
    if member not in archive.namelist():
        raise DataError(f"member {member} missing")
    size = archive.getinfo(member).file_size
    if size > MAX_MEMBER_BYTES:
        raise DataError(f"{member} declares {size:,} bytes; the members of imdb.npz are far "
                        f"smaller")
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, _, dtype = header(f)
        # Checked before NumPy allocates what the header declares: no more than the member holds.
        count = int(np.prod(shape, dtype=object))
        if count > size or (not dtype.hasobject and count * dtype.itemsize > size):
            raise DataError(f"{member} declares shape {shape} of {dtype}, more than its "
                            f"{size:,} bytes hold")
        if dtype.hasobject:
            # np.save pickles object arrays; Python 2 era files need latin1 (NumPy's advice).
            array = load_pickle(f.read(), encoding="latin1")
            if not isinstance(array, np.ndarray) or array.shape != shape:
                raise DataError(f"{member} does not hold the array its header announces")
            return array.view(np.ndarray)
    with archive.open(member) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def imdb_arrays(raw: dict[str, np.ndarray],
                progress: Callable[[int, int], None] | None = None
                ) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """docs/benchmarks.md §3's int32 (N, 150) arrays from `read_imdb_npz`'s, in Keras' load_data row order,
    and the attributes that record how they were made. `progress(rows done, rows)`."""
    rng = np.random.RandomState(KERAS_SEED)
    total = len(raw["x_train"]) + len(raw["x_test"])
    out: dict[str, np.ndarray] = {}
    done = 0
    for split in ("train", "test"):
        order = np.arange(len(raw[f"x_{split}"]))
        rng.shuffle(order)
        labels = np.asarray(raw[f"y_{split}"])[order]
        problem = label_problem(labels, f"y_{split}")
        if problem:  # read_imdb_npz refuses these; raw arrays from elsewhere are checked too
            raise DataError(problem)
        base = done
        try:
            out[f"x_{split}"] = preprocess_imdb(
                [raw[f"x_{split}"][i] for i in order],
                progress=(lambda rows: progress(base + rows, total)) if progress else None)  # noqa: B023 - called at once
        except (TypeError, ValueError, OverflowError) as error:
            raise DataError(f"x_{split} holds something other than lists of word indices "
                            f"({error})") from None
        out[f"y_{split}"] = labels.astype(np.int32)
        done += len(order)
    attrs = {"vocab_size": VOCAB_SIZE, "seq_len": SEQ_LEN, "start_char": START_CHAR,
             "oov_char": OOV_CHAR, "index_from": INDEX_FROM, "truncate": "keep last",
             "pad": "zeros at end", "row_order": ROW_ORDER}
    return out, attrs
