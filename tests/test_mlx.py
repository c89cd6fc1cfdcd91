"""MLX (py_impls/mlx.py). MLX is lazy and the row queues each training step with
`mx.async_eval`, so when `train_epoch` returns its last work is still computing: `sync()` must
evaluate everything the epoch produced, and a clock read without it would miss that work. The
smoke run through the CLI (shared with the contract test) records the backend and the BLAS the
CPU backend loaded; on Linux, an `mlx` without its backend wheel is named, not run."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness import benchmarks, registry, requirements
from harness.config import CNNConfig
from harness.interface import TrainingData
from tests import helpers

INSTALL = 'pip install -e ".[mlx]"'


def mlx_row_module():
    """mlx.core and py_impls.mlx; a skip only where mlx is not installed."""
    mx = helpers.framework("mlx.core", "mlx", INSTALL)
    from py_impls import mlx as mlx_impl

    return mx, mlx_impl


def trained_cnn(mlx_impl, n: int, batch: int):
    """A CNN on `n` random images, one epoch taken (the compile) and synced."""
    rng = np.random.default_rng(0)
    x = rng.random((n, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    impl = mlx_impl.CNN(device="cpu")
    impl.prepare(TrainingData(x, y, x[:batch], y[:batch]))
    impl.build(CNNConfig(batch_size=batch), seed=0)
    impl.train_epoch(np.arange(n))
    impl.sync()
    return impl


@pytest.mark.slow
def test_sync_evaluates_the_parameters_the_optimizer_state_and_the_loss(monkeypatch):
    """Breakage caught: a `sync` that evaluates the last loss alone (or nothing): the
    parameters and the momentum buffers, still being computed, would fall outside the timing."""
    mx, mlx_impl = mlx_row_module()
    from mlx.utils import tree_flatten

    impl = trained_cnn(mlx_impl, 8, 4)
    impl.train_epoch(np.arange(8))
    loss = impl._produced[1]
    evaluated: list = []
    real_eval = mx.eval
    monkeypatch.setattr(mx, "eval", lambda *trees: evaluated.extend(
        leaf for _, leaf in tree_flatten(list(trees))) or real_eval(*trees))
    impl.sync()
    waited = {id(leaf) for leaf in evaluated}
    produced = {"loss": loss, **dict(tree_flatten(impl.model.parameters())),
                **{f"optimizer.{k}": v for k, v in tree_flatten(impl.optimizer.state)}}
    missing = [name for name, array in produced.items() if id(array) not in waited]
    assert not missing, f"sync did not evaluate {missing}"


@pytest.mark.slow
def test_a_clock_read_without_sync_misses_the_work_still_queued():
    """When `train_epoch` returns, the last step is still computing: the time `sync` then
    waits is work a clock read at the return would have left out of the epoch. (MLX lets the
    host run ahead by a bounded number of queued operations, so this is a part of a step - a
    fifth of the CNN's at batch 16 here; an MLX that computed eagerly, or a loop that waited on
    each step, would leave nothing for `sync`.)"""
    _, mlx_impl = mlx_row_module()
    impl = trained_cnn(mlx_impl, 64, 16)  # compiled; then 4 steps of 16 images
    started = time.perf_counter()
    impl.train_epoch(np.arange(64))
    returned = time.perf_counter()
    impl.sync()
    synced = time.perf_counter()
    step = (synced - started) / 4
    assert synced - returned > 0.1 * step, (
        f"returned after {returned - started:.3f} s, sync waited {synced - returned:.3f} s more")


@pytest.mark.slow
@pytest.mark.rows("mlx")
def test_the_smoke_run_records_the_backend_the_blas_and_the_kernels(smoke_runs):
    run = smoke_runs("mlx")
    cnn, rnn, transformer = run.record("cnn"), run.record("rnn"), run.record("transformer")
    assert cnn["framework"] == "MLX"
    extra = cnn["env"]["framework_extra"]
    assert extra["backend"] == "cpu" and extra["layout"] == "NHWC"
    assert extra["blas"] and extra["blas"] != "unknown"  # which BLAS the CPU backend loaded
    assert rnn["cudnn"] is False  # a loop over time in the compiled step: no fused GRU
    assert transformer["attention"].startswith("nn.MultiHeadAttention")


def test_the_row_implements_every_benchmark():
    assert set(registry.by_name("mlx").entry_points) == set(benchmarks.names())


def test_linux_mlx_without_a_backend_wheel_is_named(monkeypatch):
    """On Linux `mlx` holds no libmlx: without mlx-cpu (or a CUDA backend) `import mlx.core`
    fails, so `list` says so instead of a run failing at import."""
    installed = set()
    monkeypatch.setattr(requirements.Requirement, "installed",
                        lambda self: (self.distribution, "0.32.4")
                        if self.distribution in installed else None)
    monkeypatch.setattr(requirements.sys, "platform", "linux")
    problem = requirements.mlx_backend_problem()
    assert problem and "mlx-cpu" in problem
    installed.add("mlx-cpu")
    assert requirements.mlx_backend_problem() is None
    installed.clear()
    monkeypatch.setattr(requirements.sys, "platform", "darwin")  # Metal is in mlx's own wheel
    assert requirements.mlx_backend_problem() is None
