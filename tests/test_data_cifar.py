"""CIFAR-10: conversion from a hand-made tarball in the real archive format, and `data import`."""

from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np
import pytest

from harness.data.cifar import read_cifar_archive
from harness.data.store import DataError, load_dataset, verify_dataset
from tests.helpers import run_data_cli as run_cli

PER_BATCH = 3


def batch(index: int, n: int) -> dict:
    """A batch as the archive stores it: rows of 1024 red, 1024 green, 1024 blue bytes."""
    rng = np.random.default_rng(index)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    data[:, :1024] = index  # red plane: the batch number, to check order and layout
    data[:, 1024:2048] = 100 + np.arange(n)[:, None]  # green plane: the row in the batch
    labels = [(index + i) % 10 for i in range(n)]
    return {b"batch_label": f"batch {index}".encode(), b"labels": labels, b"data": data,
            b"filenames": [f"img{index}_{i}.png".encode() for i in range(n)]}


def make_tarball(path, skip: str | None = None):
    batches = {f"data_batch_{i}": batch(i, PER_BATCH) for i in range(1, 6)}
    batches["test_batch"] = batch(6, PER_BATCH + 1)
    with tarfile.open(path, "w:gz") as tar:
        members = {"batches.meta": {b"label_names": [b"airplane"]}, **batches}
        for name, content in members.items():
            if name == skip:
                continue
            # As in the 2009 archive: protocol 2, arrays rebuilt by numpy.core.multiarray.
            raw = pickle.dumps(content, protocol=2).replace(b"numpy._core.multiarray",
                                                            b"numpy.core.multiarray")
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path, batches


def test_conversion_from_archive_format(tmp_path):
    path, batches = make_tarball(tmp_path / "cifar-10-python.tar.gz")
    arrays = read_cifar_archive(path)
    assert arrays["x_train"].shape == (5 * PER_BATCH, 3, 32, 32)
    assert arrays["x_train"].dtype == np.uint8 and arrays["y_train"].dtype == np.int32
    assert arrays["x_test"].shape == (PER_BATCH + 1, 3, 32, 32)
    # Batches in order 1..5, channel planes as NCHW, rows as 32x32 row-major.
    np.testing.assert_array_equal(arrays["x_train"][:, 0, 0, 0], np.repeat(np.arange(1, 6),
                                                                            PER_BATCH))
    np.testing.assert_array_equal(arrays["x_train"][:PER_BATCH, 1, 31, 31], [100, 101, 102])
    source = batches["data_batch_2"][b"data"][1]
    np.testing.assert_array_equal(arrays["x_train"][PER_BATCH + 1, 2],
                                  source[2048:].reshape(32, 32))
    np.testing.assert_array_equal(arrays["y_test"], batches["test_batch"][b"labels"])
    np.testing.assert_array_equal(
        arrays["y_train"], sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), []))


def test_missing_member_is_a_clear_error(tmp_path):
    path, _ = make_tarball(tmp_path / "c.tar.gz", skip="data_batch_4")
    with pytest.raises(DataError, match="missing cifar-10-batches-py/data_batch_4"):
        read_cifar_archive(path)


def test_truncated_archive_is_a_clear_error(tmp_path):
    path, _ = make_tarball(tmp_path / "c.tar.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DataError, match="not a readable CIFAR-10 python archive.*data fetch"):
        read_cifar_archive(path)


def test_import_through_the_cli(tmp_path, capsys):
    path, batches = make_tarball(tmp_path / "cifar-10-python.tar.gz")
    data_dir = tmp_path / "store"
    # Not the canonical archive: refused, and nothing written.
    assert run_cli("data", "import", str(path), "--data-dir", str(data_dir)) == 1
    assert "--allow-unverified" in capsys.readouterr().out
    assert not (data_dir / "cifar10.h5").exists()

    assert run_cli("data", "import", str(path), "--allow-unverified",
                   "--data-dir", str(data_dir)) == 0
    h5 = data_dir / "cifar10.h5"
    assert verify_dataset(h5) == []
    dataset = load_dataset("cifar10", kind="real", data_dir=data_dir, n_train=4)
    assert dataset.kind == "real, unverified" and dataset.x_train.shape == (4, 3, 32, 32)
    assert dataset.x_test.shape == (PER_BATCH + 1, 3, 32, 32)
    assert dataset.attrs["verified"] is False
    assert dataset.attrs["archive_checksum"].startswith("md5:")
    np.testing.assert_array_equal(dataset.x_test.reshape(-1, 3072),
                                  batches["test_batch"][b"data"])

    capsys.readouterr()
    assert run_cli("data", "info", "--data-dir", str(data_dir)) == 0
    out = capsys.readouterr().out
    assert "cifar10.h5" in out and "NO" in out  # shown as unverified
    assert run_cli("data", "verify", "--data-dir", str(data_dir)) == 0


def test_import_refuses_an_unknown_file(tmp_path, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not an archive" * 100)
    assert run_cli("data", "import", str(junk), "--data-dir", str(tmp_path)) == 1
    assert "neither" in capsys.readouterr().out
