"""Faults in the data store, built on the fly: a failed import or write never costs the good
data there, bad archives are refused with a DataError naming the file and the problem, damage on
disk fails the run that would read it, and unverified data are called so in every result."""

from __future__ import annotations

import argparse
import io
import os
import pickle
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from harness import commands as cli
from harness import registry
from harness.commands import data as data_commands
from harness.data import store
from harness.data.store import DataError, load_dataset, write_dataset
from harness.data.synthetic import synthetic_cifar10
from harness.run.results import read_results
from harness.run.runner import RunSettings, run_one
from tests import fake_registry

REPO = Path(__file__).resolve().parent.parent
FIX = "python -m harness data fetch cifar10"


def run_data(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    data_commands.register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.func(args)


def flat(text: str) -> str:
    """Text without whitespace: rich wraps long lines, and folds long paths anywhere."""
    return "".join(text.split())


def object_array(items: list) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def imdb_npz(path: Path, reviews: list | None = None, labels: np.ndarray | None = None) -> Path:
    reviews = reviews or [[4, 5, 6], [7, 8], [9], [10, 11]]
    labels = np.array([0, 1, 1, 0]) if labels is None else labels
    np.savez(path, x_train=object_array(reviews), y_train=labels,
             x_test=object_array([[12, 13], [14]]), y_test=np.array([1, 0]))
    return path


def good_imdb_store(directory: Path) -> Path:
    """A good imdb.h5 there, imported the ordinary way."""
    assert run_data("data", "import", str(imdb_npz(directory / "good.npz")),
                    "--allow-unverified", "--data-dir", str(directory / "store")) == 0
    return directory / "store" / "imdb.h5"


# -- a failed import or write keeps the data already there -------------------------------------

def test_failed_import_keeps_the_good_data(tmp_path, capsys):
    good = good_imdb_store(tmp_path)
    before = good.read_bytes()
    bad = imdb_npz(tmp_path / "imdb.npz", reviews=[[4, 5], [6, -7], [8], [9]])
    capsys.readouterr()
    assert run_data("data", "import", str(bad), "--allow-unverified",
                    "--data-dir", str(good.parent)) == 1
    out = flat(capsys.readouterr().out)
    assert flat(f"{bad} is not a valid Keras imdb.npz") in out
    assert "negativewordid-7" in out
    assert good.read_bytes() == before
    assert sorted(p.name for p in good.parent.iterdir()) == ["imdb.h5"]  # no temporary left


def test_a_write_that_does_not_check_replaces_nothing(tmp_path):
    path = tmp_path / "cifar10.h5"
    arrays = synthetic_cifar10(n_train=20, n_test=10)
    write_dataset(path, arrays, {"kind": "real", "name": "cifar10"})
    before = path.read_bytes()
    bad = {**arrays, "y_test": np.full(10, 12, np.int32)}  # labels past the 10 classes
    with pytest.raises(DataError, match=r"cifar10.h5 was not written, the new data do not check "
                                        r"\(y_test has labels outside 0..9\); the file already "
                                        r"there is unchanged"):
        write_dataset(path, bad, {"kind": "real", "name": "cifar10"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["cifar10.h5"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_during_import_is_said_plainly_and_keeps_the_good_data(tmp_path, capsys):
    good = good_imdb_store(tmp_path)
    before = good.read_bytes()
    # The conversion's temporary file (named after this process) on a full disk.
    temporary = good.with_name(f"imdb.h5.{os.getpid()}.tmp")
    temporary.symlink_to("/dev/full")
    capsys.readouterr()
    assert run_data("data", "import", str(imdb_npz(tmp_path / "imdb.npz")), "--allow-unverified",
                    "--data-dir", str(good.parent)) == 1
    assert flat(f"disk full at {good.parent}: free space and rerun; the file already there is "
                f"unchanged") in flat(capsys.readouterr().out)
    assert good.read_bytes() == before
    assert sorted(p.name for p in good.parent.iterdir()) == ["imdb.h5"]


# -- bad archives are refused, naming the file and the problem ---------------------------------

@pytest.mark.parametrize("labels, problem", [
    (np.array([0.0, 1.0, 0.7, 0.0]), "y_train[2] is 0.7: labels must be the integers 0 and 1"),
    (np.array(["neg", "pos", "pos", "neg"]), "y_train holds <U3 labels, expected the integers"),
])
def test_imdb_labels_not_0_or_1_are_refused(tmp_path, capsys, labels, problem):
    npz = imdb_npz(tmp_path / "imdb.npz", labels=labels)
    assert run_data("data", "import", str(npz), "--allow-unverified",
                    "--data-dir", str(tmp_path / "store")) == 1
    out = flat(capsys.readouterr().out)
    assert flat(f"{npz} is not a valid Keras imdb.npz: {problem}") in out
    assert not (tmp_path / "store" / "imdb.h5").exists()


@pytest.mark.parametrize("review, problem", [
    ([4, 2**40], f"x_train[1] holds the word id {2**40}, beyond 2147483644"),
    ([4.0, 5.5], "x_train[1] holds float64 values, expected integer word ids"),
])
def test_imdb_word_ids_out_of_range_are_refused(tmp_path, capsys, review, problem):
    npz = imdb_npz(tmp_path / "imdb.npz", reviews=[[4, 5], review, [8], [9]])
    assert run_data("data", "import", str(npz), "--allow-unverified",
                    "--data-dir", str(tmp_path / "store")) == 1
    assert flat(problem) in flat(capsys.readouterr().out)
    assert not (tmp_path / "store" / "imdb.h5").exists()


class AbsurdArray:
    """Pickles as numpy's own array reconstruction, declaring a 10**12-byte shape."""

    def __reduce__(self):
        from numpy.core.multiarray import _reconstruct

        return _reconstruct, (np.ndarray, (10**6, 10**6), b"B")


def cifar_tarball(path: Path, data: object, labels: list | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"):
            raw = pickle.dumps({b"data": data, b"labels": labels or [0]}, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def test_a_pickled_array_declaring_an_absurd_shape_is_refused(tmp_path, capsys):
    archive = cifar_tarball(tmp_path / "cifar-10-python.tar.gz", AbsurdArray())
    assert run_data("data", "import", str(archive), "--allow-unverified",
                    "--data-dir", str(tmp_path / "store")) == 1
    out = flat(capsys.readouterr().out)
    assert flat(f"{archive} is not a readable CIFAR-10 python archive") in out
    assert flat("declares shape (1000000, 1000000) (1,000,000,000,000 bytes), more than any "
                "data archive holds") in out
    assert not (tmp_path / "store" / "cifar10.h5").exists()


@pytest.mark.parametrize("labels, problem", [
    ([3, 0.7], "labels[1] is 0.7: labels must be the integers 0..9"),
    ([-0.5, 2], "labels[0] is -0.5: labels must be the integers 0..9"),
])
def test_cifar_labels_that_are_not_whole_classes_are_refused(tmp_path, capsys, labels, problem):
    """A cast to integers made 0.7 the class 0 and -0.5 the class 0, and the import went on."""
    archive = cifar_tarball(tmp_path / "cifar-10-python.tar.gz",
                            np.zeros((2, 3072), np.uint8), labels)
    assert run_data("data", "import", str(archive), "--allow-unverified",
                    "--data-dir", str(tmp_path / "store")) == 1
    out = flat(capsys.readouterr().out)
    assert flat(f"{archive} is not a valid CIFAR-10 python archive: "
                f"cifar-10-batches-py/data_batch_1: {problem}") in out
    assert not (tmp_path / "store" / "cifar10.h5").exists()


class ShortObjectArray:
    """Pickles as numpy's own object array, its state declaring 4 items while its list has 3."""

    def __reduce__(self):
        from numpy.core.multiarray import _reconstruct

        return (_reconstruct, (np.ndarray, (0,), b"b"),
                (1, (4,), np.dtype(object), False, [[4], [5], [6]]))


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_a_pickled_object_array_shorter_than_its_shape_is_refused(tmp_path):
    """NumPy filled such an array past the end of its list, and the interpreter crashed: run
    through a child process, so that the old crash fails this test instead of ending pytest."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False,
                                                  "shape": (3,)})
    npz = tmp_path / "imdb.npz"
    with zipfile.ZipFile(npz, "w") as archive:
        archive.writestr("x_train.npy", npy(object_array([[4], [5]])))
        archive.writestr("y_train.npy", npy(np.array([0, 1])))
        archive.writestr("x_test.npy", header.getvalue() + pickle.dumps(ShortObjectArray(), 2))
        archive.writestr("y_test.npy", npy(np.array([0, 1, 1])))
    done = subprocess.run(
        [sys.executable, "-m", "harness", "data", "import", str(npz), "--allow-unverified",
         "--data-dir", str(tmp_path / "store")], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "COLUMNS": "400"}, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert flat("an object array declares shape (4,) but holds 3 items") in flat(done.stdout)
    assert not (tmp_path / "store" / "imdb.h5").exists()


def test_ctrl_c_during_import_is_one_line_and_keeps_the_good_data(tmp_path, capsys,
                                                                  monkeypatch):
    good = good_imdb_store(tmp_path)
    before = good.read_bytes()

    def interrupted(path):  # the read-back of the new file, after it was written
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "verify_dataset", interrupted)
    capsys.readouterr()
    try:
        code = run_data("data", "import", str(imdb_npz(tmp_path / "imdb.npz")),
                        "--allow-unverified", "--data-dir", str(good.parent))
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped the command: a traceback, not a message")
    assert code == 130
    out = capsys.readouterr().out.strip()
    assert out.splitlines()[-1] == ("Interrupted: nothing imported; the data already there are "
                                    "unchanged.")
    assert good.read_bytes() == before
    assert sorted(p.name for p in good.parent.iterdir()) == ["imdb.h5"]  # no temporary left


# -- damage on disk fails the run ------------------------------------------------------------

@pytest.fixture
def fakes(monkeypatch):
    """The fake rows, in this process and (through HARNESS_PLUGINS) in every child."""
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + fake_registry.ROWS)
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_registry")


def real_cifar_store(directory: Path, **attrs: object) -> Path:
    """A real-kind cifar10.h5 (generated stand-in data), more training rows than a quick run
    reads (3,200), so that an unchecked partial read would not see damage past them."""
    path = directory / "cifar10.h5"
    write_dataset(path, synthetic_cifar10(n_train=4000, n_test=1000),
                  {"kind": "real", "name": "cifar10", "verified": True, **attrs})
    return path


def flip_bytes(path: Path, key: str, row: int, count: int = 16) -> None:
    """Flip `count` bytes of row `row` of `key` in the file, as a bad disk would."""
    with h5py.File(path, "r") as f:
        offset = f[key].id.get_offset() + row * f[key][0].nbytes
    with open(path, "r+b") as f:
        f.seek(offset)
        data = f.read(count)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in data))


def test_damaged_data_fail_the_run_with_the_fix(tmp_path, fakes):
    store = real_cifar_store(tmp_path)
    flip_bytes(store, "x_train", row=2500)  # inside what a quick run reads
    settings = RunSettings(profile="quick", data="real", device="cpu", timeout=300,
                           results=tmp_path / "results.jsonl", data_dir=str(tmp_path))
    record = run_one(registry.by_name("fake-ok"), "cnn", 0, settings)
    assert record["status"] == "failed"
    assert "x_train does not match its checksum" in record["reason"]
    assert FIX in record["reason"]
    assert read_results(tmp_path / "results.jsonl") == [record]


def test_damaged_data_fail_the_command_before_any_run(tmp_path, fakes, capsys):
    store = real_cifar_store(tmp_path)
    flip_bytes(store, "x_train", row=2500)
    code = cli.main(["cnn", "--impl", "fake-ok", "--profile", "quick", "--data", "real",
                     "--data-dir", str(tmp_path), "--results", str(tmp_path / "r.jsonl")])
    out = flat(capsys.readouterr().out)
    assert code == 1
    assert flat("x_train does not match its checksum") in out and flat(FIX) in out
    # The summary names the data, not the rows' installation: fake-ok is installed.
    assert flat("1 not run: fake-ok - the data cannot be used:") in out
    assert flat("for why and how to install them") not in out
    assert not (tmp_path / "r.jsonl").exists()  # nothing ran on the damaged data


# -- unverified data are called so in every result ------------------------------------------

@pytest.mark.slow
def test_unverified_data_are_marked_in_results_and_report(tmp_path, fakes, capsys):
    real_cifar_store(tmp_path, verified=False)
    assert load_dataset("cifar10", data_dir=tmp_path, n_train=1, n_test=1).kind == \
        "real, unverified"
    results = tmp_path / "r.jsonl"
    assert cli.main(["cnn", "--impl", "fake-ok", "--profile", "quick", "--repeat", "1",
                     "--data", "real", "--data-dir", str(tmp_path), "--results", str(results)]) == 0
    [record] = read_results(results)
    assert record["status"] == "ok" and record["data"] == "real, unverified"
    capsys.readouterr()
    assert cli.main(["report", str(results)]) == 0
    # Whitespace folded: the heading's width depends on this machine's CPU name.
    assert "real, unverified data" in " ".join(capsys.readouterr().out.split())
