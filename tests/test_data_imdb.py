"""IMDB: the preprocessing of docs/benchmarks.md §3 on hand-made reviews, and `data import` of a
hand-made imdb.npz."""

from __future__ import annotations

import dataclasses
import hashlib

import h5py
import numpy as np
import pytest

from harness.data import sources
from harness.data.imdb import preprocess_imdb, read_imdb_npz
from harness.data.store import DataError, load_dataset, verify_dataset
from tests.helpers import run_data_cli as run_cli


def object_array(reviews: list[list[int]]) -> np.ndarray:
    array = np.empty(len(reviews), dtype=object)
    array[:] = reviews
    return array


# Distinct reviews, so each converted row can be matched to its source whatever the row order.
TRAIN = [[5, 29996, 29997, 40000], list(range(1, 201)), [7], []]
TRAIN_Y = [0, 1, 1, 0]
TEST = [[9, 10, 11], list(range(100, 100 + 149))]
TEST_Y = [1, 0]


def expected_row(words: list[int]) -> np.ndarray:
    """docs/benchmarks.md §3 written out by hand for the reviews above (vocab 30000, length 150)."""
    table = {
        (5, 29996, 29997, 40000): [1, 8, 29999, 2, 2],  # 29997+3 = 30000 is out of vocabulary
        (7,): [1, 10],
        (): [1],
        (9, 10, 11): [1, 12, 13, 14],
    }
    row = np.zeros(150, np.int32)
    if tuple(words) in table:
        tokens = table[tuple(words)]
    elif words == list(range(1, 201)):  # 201 tokens: keep the last 150, start marker dropped
        tokens = list(range(51 + 3, 200 + 3 + 1))
    else:  # 149 words + start marker = exactly 150 tokens, nothing cut, no padding
        tokens = [1] + [w + 3 for w in range(100, 249)]
    row[: len(tokens)] = tokens
    return row


def make_npz(path, train=TRAIN, train_y=TRAIN_Y, test=TEST, test_y=TEST_Y):
    np.savez(path, x_train=object_array(train), y_train=np.array(train_y, np.int64),
             x_test=object_array(test), y_test=np.array(test_y, np.int64))
    return path


def test_preprocessing_small_parameters_by_hand():
    reviews = [[1, 2, 3, 4, 5, 6], [0, 7], [3]]
    got = preprocess_imdb(reviews, vocab_size=8, seq_len=4)
    # [1, 4, 5, 6, 7, 8, 9] -> OOV -> [1, 4, 5, 6, 7, 2, 2] -> last 4 -> [6, 7, 2, 2]
    # [1, 3, 10] -> [1, 3, 2] -> padded at the end
    # [1, 6] -> padded at the end
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [[6, 7, 2, 2], [1, 3, 2, 0], [1, 6, 0, 0]])


def test_preprocessing_spec_parameters():
    got = preprocess_imdb(TRAIN + TEST)
    assert got.shape == (6, 150) and got.dtype == np.int32
    for row, words in zip(got, TRAIN + TEST):
        np.testing.assert_array_equal(row, expected_row(words))


def test_read_npz_gives_stored_arrays(tmp_path):
    raw = read_imdb_npz(make_npz(tmp_path / "imdb.npz"))
    assert [list(r) for r in raw["x_train"]] == TRAIN
    assert list(raw["y_test"]) == TEST_Y


def test_read_npz_refuses_a_broken_file(tmp_path):
    good = make_npz(tmp_path / "imdb.npz").read_bytes()
    broken = tmp_path / "broken.npz"
    broken.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="imdb.npz"):
        read_imdb_npz(broken)


def test_read_npz_refuses_code_in_pickles(tmp_path):
    # An object array whose pickle would call os.system: the restricted unpickler refuses it.
    evil = np.empty(1, dtype=object)
    evil[0] = EvilReduce()
    np.savez(tmp_path / "evil.npz", x_train=evil, y_train=np.zeros(1), x_test=evil,
             y_test=np.zeros(1))
    with pytest.raises(DataError, match="refusing to load"):
        read_imdb_npz(tmp_path / "evil.npz")


class EvilReduce:
    def __reduce__(self):
        import os

        return (os.system, ("echo should-not-run",))


def converted_rows(h5_path, split):
    with h5py.File(h5_path, "r") as f:
        return f[f"x_{split}"][()], f[f"y_{split}"][()], dict(f.attrs)


def test_import_unverified_archive_needs_the_flag(tmp_path):
    npz = make_npz(tmp_path / "imdb.npz")
    data_dir = tmp_path / "data"
    assert run_cli("data", "import", str(npz), "--data-dir", str(data_dir)) == 1
    assert not (data_dir / "imdb.h5").exists()

    assert run_cli("data", "import", str(npz), "--allow-unverified",
                   "--data-dir", str(data_dir)) == 0
    h5 = data_dir / "imdb.h5"
    assert verify_dataset(h5) == []
    for split, reviews, labels in (("train", TRAIN, TRAIN_Y), ("test", TEST, TEST_Y)):
        x, y, attrs = converted_rows(h5, split)
        assert x.dtype == np.int32 and y.dtype == np.int32 and x.shape == (len(reviews), 150)
        # Rows are in Keras' load_data order; each must be its review's row with its label.
        got = sorted((row.tobytes(), int(label)) for row, label in zip(x, y))
        want = sorted((expected_row(r).tobytes(), lab) for r, lab in zip(reviews, labels))
        assert got == want
    assert attrs["verified"] == False  # noqa: E712 (numpy bool)
    assert attrs["archive_checksum"] == "sha256:" + hashlib.sha256(npz.read_bytes()).hexdigest()
    assert (attrs["vocab_size"], attrs["seq_len"], attrs["start_char"], attrs["oov_char"],
            attrs["index_from"]) == (30000, 150, 1, 2, 3)
    assert attrs["kind"] == "real" and attrs["complete"]

    dataset = load_dataset("imdb", data_dir=data_dir)
    assert dataset.kind == "real, unverified" and dataset.x_train.shape == (4, 150)


def test_import_verified_archive(tmp_path, monkeypatch):
    npz = make_npz(tmp_path / "imdb.npz")
    digest = hashlib.sha256(npz.read_bytes()).hexdigest()
    monkeypatch.setitem(sources.SOURCES, "imdb",
                        dataclasses.replace(sources.SOURCES["imdb"], checksum=digest))
    assert run_cli("data", "import", str(npz), "--data-dir", str(tmp_path)) == 0
    _, _, attrs = converted_rows(tmp_path / "imdb.h5", "train")
    assert attrs["verified"] == True  # noqa: E712
    assert attrs["source_url"] == sources.SOURCES["imdb"].url
