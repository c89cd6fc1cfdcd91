"""The HDF5 store: atomic writes, damage detected, real/synthetic selection, synthetic data."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from harness.data import store
from harness.data.store import (DataError, data_dir, load_dataset, verify_dataset,
                                write_dataset)
from harness.data.synthetic import synthetic_cifar10, synthetic_imdb
from tests.helpers import run_data_cli as run_cli


def small_cifar(n_train=40, n_test=20) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {"x_train": rng.integers(0, 256, (n_train, 3, 32, 32), dtype=np.uint8),
            "y_train": (np.arange(n_train) % 10).astype(np.int32),
            "x_test": rng.integers(0, 256, (n_test, 3, 32, 32), dtype=np.uint8),
            "y_test": (np.arange(n_test) % 10).astype(np.int32)}


def write_real_cifar(directory, **arrays_override):
    arrays = {**small_cifar(), **arrays_override}
    path = directory / "cifar10.h5"
    write_dataset(path, arrays, {"kind": "real", "name": "cifar10", "source_url": "test"})
    return path, arrays


def write_unchecked(path, **arrays_override):
    """What another tool might write: checksummed and marked complete, but not checked."""
    with h5py.File(path, "w") as f:
        for key, array in {**small_cifar(), **arrays_override}.items():
            f[key] = array
            f[key].attrs["sha256"] = store.array_sha256(array)
        f.attrs.update({"kind": "real", "name": "cifar10", "format_version": 1,
                        "complete": True})


def test_write_then_load_and_verify(tmp_path):
    path, arrays = write_real_cifar(tmp_path)
    assert verify_dataset(path) == []
    dataset = load_dataset("cifar10", data_dir=tmp_path)  # auto: the real file is there
    assert dataset.kind == "real" and dataset.path == path
    for key, array in arrays.items():
        np.testing.assert_array_equal(getattr(dataset, key), array)
    assert dataset.attrs["complete"] is True and dataset.attrs["format_version"] == 1
    part = load_dataset("cifar10", kind="real", data_dir=tmp_path, n_train=7, n_test=3)
    assert part.x_train.shape == (7, 3, 32, 32) and part.y_test.shape == (3,)
    np.testing.assert_array_equal(part.x_train, arrays["x_train"][:7])
    assert not (tmp_path / "synthetic").exists()


def test_truncated_file_is_detected_not_replaced_by_synthetic(tmp_path):
    path, _ = write_real_cifar(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 5])
    problems = verify_dataset(path)
    assert problems and "truncated or corrupt" in problems[0]
    with pytest.raises(DataError, match=r"cifar10.h5 is truncated or corrupt .*: "
                                        r"run `python -m harness data fetch cifar10`"):
        load_dataset("cifar10", kind="auto", data_dir=tmp_path, n_train=5, n_test=5)
    assert not (tmp_path / "synthetic").exists()
    assert run_cli("data", "verify", "--data-dir", str(tmp_path)) == 1


def test_changed_bytes_fail_the_checksum(tmp_path):
    path, arrays = write_real_cifar(tmp_path)
    with h5py.File(path, "r+") as f:  # change data behind the checksum's back
        f["x_test"][0, 0, 0, 0] = (int(arrays["x_test"][0, 0, 0, 0]) + 1) % 256
    assert any("x_test does not match its checksum" in p for p in verify_dataset(path))
    with pytest.raises(DataError, match="checksum"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_incomplete_and_inconsistent_files(tmp_path):
    path = tmp_path / "cifar10.h5"
    with h5py.File(path, "w") as f:  # what an interrupted writer of another tool might leave
        for key, array in small_cifar().items():
            f[key] = array
        f.attrs["kind"] = "real"
    assert "incomplete" in verify_dataset(path)[0]
    with pytest.raises(DataError, match="incomplete"):
        load_dataset("cifar10", data_dir=tmp_path)

    write_unchecked(path, y_train=np.zeros(39, np.int32))
    assert any("40 rows but y_train has 39" in p for p in verify_dataset(path))
    write_unchecked(path, x_test=np.zeros((20, 32, 32, 3), np.uint8))  # NHWC by mistake
    assert any("x_test is uint8 (20, 32, 32, 3)" in p for p in verify_dataset(path))
    write_unchecked(path, y_test=np.full(20, 10, np.int32))
    assert any("labels outside 0..9" in p for p in verify_dataset(path))


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "cifar10.h5"
    bad = {**small_cifar(), "y_test": np.array([object()], dtype=object)}  # h5py cannot store
    with pytest.raises(TypeError):
        write_dataset(path, bad, {"kind": "real", "name": "cifar10"})
    assert list(tmp_path.iterdir()) == []


def test_missing_real_data_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match=r"data fetch imdb.*data import PATH"):
        load_dataset("imdb", kind="real", data_dir=tmp_path)


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    assert data_dir() == store.REPO_ROOT / "datasets"
    assert (store.REPO_ROOT / "harness").is_dir()
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    assert data_dir(tmp_path / "flag") == tmp_path / "flag"


def test_synthetic_cifar_shapes_balance_determinism():
    a = synthetic_cifar10(seed=0, n_train=2000, n_test=1500)
    assert {k: (v.shape, v.dtype) for k, v in a.items()} == {
        "x_train": ((2000, 3, 32, 32), np.uint8), "y_train": ((2000,), np.int32),
        "x_test": ((1500, 3, 32, 32), np.uint8), "y_test": ((1500,), np.int32)}
    assert np.bincount(a["y_train"]).tolist() == [200] * 10
    assert np.bincount(a["y_test"][:1000]).tolist() == [100] * 10
    b = synthetic_cifar10(seed=0, n_train=1200, n_test=10)
    np.testing.assert_array_equal(a["x_train"][:1200], b["x_train"])  # rows don't depend on n
    np.testing.assert_array_equal(a["y_test"][:10], b["y_test"])
    c = synthetic_cifar10(seed=1, n_train=100, n_test=10)
    assert not np.array_equal(a["x_train"][:100], c["x_train"])
    assert not np.array_equal(a["x_train"][:100], a["x_test"][:100])  # test is held out
    # The signal: class means differ far more than the noise of a class mean over 200 images.
    means = np.stack([a["x_train"][a["y_train"] == k].mean(0) for k in range(10)])
    assert np.abs(means[:, None] - means[None]).mean(axis=(2, 3, 4)).max() > 30


def test_synthetic_imdb_shapes_balance_signal():
    a = synthetic_imdb(seed=0, n_train=2000, n_test=1000)
    assert a["x_train"].shape == (2000, 150) and a["x_train"].dtype == np.int32
    assert a["y_test"].dtype == np.int32 and np.bincount(a["y_train"]).tolist() == [1000, 1000]
    assert a["x_train"].min() >= 0 and a["x_train"].max() < 30000
    assert (a["x_train"][:, -1] != 0).mean() > 0.8  # mostly full-length reviews
    np.testing.assert_array_equal(synthetic_imdb(seed=0, n_train=2000, n_test=1000)["x_test"],
                                  a["x_test"])
    # Padding only at the end: after the first zero of a row, only zeros.
    x = a["x_train"]
    first_zero = np.where((x == 0).any(1), (x == 0).argmax(1), 150)
    assert all((row[k:] == 0).all() for row, k in zip(x, first_zero))
    # A class signal a bag of words can see: token counts differ between the classes.
    counts = [np.bincount(x[a["y_train"] == k].ravel(), minlength=30000) for k in (0, 1)]
    assert np.abs(counts[0] - counts[1]).max() > 1000


@pytest.mark.slow
def test_synthetic_cache_is_made_once_and_remade_if_damaged(tmp_path):
    first = load_dataset("imdb", kind="auto", data_dir=tmp_path, n_train=50, n_test=30)
    path = tmp_path / "synthetic" / "imdb.h5"
    assert first.kind == "synthetic" and first.path == path
    assert first.x_train.shape == (50, 150) and first.x_test.shape == (30, 150)
    with h5py.File(path, "r") as f:  # the cache holds the full-size shapes
        assert f["x_train"].shape == (25000, 150) and f.attrs["kind"] == "synthetic"
    stamp = path.stat().st_mtime_ns
    again = load_dataset("imdb", kind="synthetic", data_dir=tmp_path, n_train=50, n_test=30)
    assert path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.x_train, first.x_train)

    path.write_bytes(path.read_bytes()[:10_000])
    remade = load_dataset("imdb", kind="synthetic", data_dir=tmp_path, n_train=50, n_test=30)
    np.testing.assert_array_equal(remade.x_train, first.x_train)
    assert verify_dataset(path) == []
