"""tinygrad (py_impls/tinygrad.py). tinygrad is lazy: a tensor nobody realized has not been
computed, so `sync()` must realize everything a phase produced before the clock is read - `build`
returns with the initial weights and the optimizer state not yet computed, and a clock read
without the sync would move that work into the first training window. (Realized, the kernels of
tinygrad's CPU device have run by the time `realize` returns; a GPU's queue would still be
running, which `sync` waits for through the device's `synchronize`.) Without clang, `list` names
it and the fix; each process compiles with a kernel cache of its own. The smoke run through the
CLI (shared with the contract test) records the backend and the compile in the first window."""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import pytest

from harness import benchmarks, registry, toolchain
from harness.config import RNNConfig
from harness.interface import TrainingData
from tests import helpers

INSTALL = 'pip install -e ".[tinygrad]"'


@pytest.fixture(scope="module")
def tg():
    """py_impls.tinygrad, imported here without leaving its private CACHEDB in this process's
    environment: the smoke runs' children must each name their own."""
    helpers.framework("tinygrad", "tinygrad", INSTALL)
    before = os.environ.get("CACHEDB")
    from py_impls import tinygrad as tg_impl

    if before is None:
        os.environ.pop("CACHEDB", None)
    return tg_impl


def built_rnn(tg_impl):
    """A GRU classifier on a few short reviews, built and not yet synced."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 30_000, (8, 6)).astype(np.int32)
    y = rng.integers(0, 2, 8).astype(np.int32)
    impl = tg_impl.RNN(device="cpu")
    impl.prepare(TrainingData(x, y, x, y))
    impl.build(RNNConfig(batch_size=4, seq_len=6), seed=0)
    return impl


@pytest.mark.slow
def test_a_clock_read_without_sync_misses_the_lazy_work(tg):
    """Breakage caught: a `sync` that only waits for the device (or does nothing): the weights'
    initialisation and the optimizer's zeroed state, still unrealized when `build` returns,
    would be computed inside the first timed window instead."""
    impl = built_rnn(tg)
    state = impl.state()
    lazy = [tuple(t.shape) for t in state if not t.uop.is_realized]
    assert lazy, "build computed everything itself: nothing here shows sync's part"
    started = time.perf_counter()
    impl.sync()
    waited = time.perf_counter() - started
    assert all(t.uop.is_realized for t in state), "sync left tensors unrealized"
    assert waited > 0  # the embedding's 3.75M normal draws, among others, were computed here


@pytest.mark.slow
def test_sync_realizes_what_the_epoch_produced_and_waits_for_the_device(tg, monkeypatch):
    """After an epoch (the step captured by TinyJit and replayed), every parameter and every
    optimizer moment is realized once `sync` returns, and `sync` waited on the device (on a GPU
    its queue would still be running)."""
    from tinygrad import Device

    impl = built_rnn(tg)
    impl.sync()
    before = {name: value.copy() for name, value in impl.get_weights().items()}
    impl.train_epoch(np.arange(8).repeat(2))  # 4 steps: run, capture, replay, replay
    waited = []
    device = Device[impl.device]
    real = device.synchronize
    monkeypatch.setattr(device, "synchronize", lambda *a, **k: waited.append(1) or real(*a, **k))
    impl.sync()
    assert waited, "sync never waited on the device"
    assert all(t.uop.is_realized for t in impl.state())
    after = impl.get_weights()
    assert all(not np.array_equal(before[k], after[k]) for k in before), "the epoch trained nothing"


def test_without_clang_list_names_it_and_the_fix(monkeypatch):
    """tinygrad's CPU device compiles with clang (and 0.14 builds its queue with clang whatever
    renderer is asked for): without it, or with CC naming gcc, `list` says so with the fix."""
    row = registry.by_name("tinygrad")
    assert row.readiness_check is toolchain.tinygrad_cc_problem
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(toolchain.shutil, "which", lambda name: None)
    problem, fix = toolchain.tinygrad_cc_problem()
    assert "`clang`" in problem and "not on PATH" in problem and "apt-get install clang" in fix
    monkeypatch.setattr(toolchain.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert toolchain.tinygrad_cc_problem() is None
    monkeypatch.setenv("CC", "gcc")
    problem, _ = toolchain.tinygrad_cc_problem()
    assert "`gcc`, not clang" in problem
    monkeypatch.setenv("CC", "clang-14")
    assert toolchain.tinygrad_cc_problem() is None


def test_each_process_compiles_with_a_kernel_cache_of_its_own(monkeypatch, tmp_path):
    """The record's compile + warm-up is a first run's: CACHEDB names a file in a folder of this
    process's own, and folders of processes that have ended are removed; a CACHEDB the user set
    is kept and the record says it may be warm."""
    monkeypatch.setenv("CACHEDB", "")  # so that the teardown also removes the one named here
    monkeypatch.delenv("CACHEDB")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = tmp_path / f"{toolchain.TINYGRAD_CACHE_PREFIX}999999999-abc"
    ended.mkdir()
    assert toolchain.cold_tinygrad_cache().startswith("cold cache")
    folder = os.path.dirname(os.environ["CACHEDB"])
    assert os.path.basename(folder).startswith(f"{toolchain.TINYGRAD_CACHE_PREFIX}{os.getpid()}-")
    assert os.path.dirname(folder) == str(tmp_path) and not ended.exists()
    monkeypatch.setenv("CACHEDB", "/somewhere/cache.db")
    assert "may hold kernels" in toolchain.cold_tinygrad_cache()


def test_the_row_implements_every_benchmark():
    assert set(registry.by_name("tinygrad").entry_points) == set(benchmarks.names())


@pytest.mark.slow
@pytest.mark.rows("tinygrad")
def test_the_smoke_run_records_tinygrad_and_compiles_in_the_first_window(smoke_runs):
    run = smoke_runs("tinygrad")
    cnn, rnn, transformer = run.record("cnn"), run.record("rnn"), run.record("transformer")
    assert cnn["framework"] == "tinygrad"
    extra = cnn["env"]["framework_extra"]
    assert extra["backend"] == "CPU:CLANG" and extra["compiler"].lower().find("clang") >= 0
    assert extra["kernel_cache"].startswith("cold cache") and extra["use_atomics"] is True
    assert rnn["cudnn"] is False  # a cell of tensor operations
    assert transformer["attention"].startswith("Tensor.scaled_dot_product_attention")
    # TinyJit runs the step, captures it, then replays: its compiles land in the first window
    for record in (cnn, rnn, transformer):
        timings = record["timings"]
        assert timings["warmup_s"] > max(timings["window_s"][1:]), timings
