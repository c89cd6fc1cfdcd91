"""What is specific to the pytorch-compile row: the loops, the prediction and verify's step go
through the compiled module, each process compiles with a cache of its own, and a machine
without the C++ compiler Inductor calls is told so in `list`. (Every benchmark through the CLI
and `verify --strict`: tests/test_contract.py, for every row.)"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

from harness import benchmarks, registry, toolchain
from harness.interface import TrainingData
from tests import helpers

ROW = "pytorch-compile"


def compiled_class(benchmark: str) -> type:
    module, _, name = registry.by_name(ROW).entry_points[benchmark].partition(":")
    return getattr(importlib.import_module(module), name)


def test_the_row_implements_every_benchmark_the_pytorch_row_does():
    assert registry.by_name(ROW).entry_points.keys() == registry.by_name("pytorch").entry_points.keys()


def test_without_its_compiler_the_row_is_not_ready_and_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no g++ on it
    monkeypatch.delenv("CXX", raising=False)
    ready = registry.readiness(registry.by_name(ROW), "cnn", gpu=False)
    assert not ready.ready
    assert "`g++`" in ready.reason and "not on PATH" in ready.reason
    assert ready.fix.startswith("apt-get install g++")
    assert registry.readiness(registry.by_name("pytorch"), "cnn", gpu=False).reason != ready.reason


def test_a_cxx_that_names_no_program_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    why, fix = toolchain.cxx_problem()
    assert "CXX names" in why and "no-such-c++" in why and "CXX" in fix
    monkeypatch.setenv("CXX", "/bin/sh -x")  # a program with arguments, as make allows
    assert toolchain.cxx_problem() is None


def test_training_prediction_and_the_verify_step_call_the_compiled_module(monkeypatch):
    torch = helpers.torch()
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    benchmark = benchmarks.get("transformer")
    config = benchmark.config
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, config.vocab_size, (2 * config.batch_size, config.seq_len), np.int32)
    labels = rng.integers(0, 2, len(tokens)).astype(np.int32)
    data = TrainingData(tokens, labels, tokens[:3], labels[:3])
    impl = compiled_class("transformer")(device="cpu")
    impl.prepare(data)
    impl.build(config, seed=0)
    assert isinstance(impl.net, torch._dynamo.eval_frame.OptimizedModule)
    assert impl.net._orig_mod is impl.model  # one set of parameters: the optimizer's
    # Each process compiles cold, in a folder of its own.
    assert os.path.basename(os.environ["TORCHINDUCTOR_CACHE_DIR"]).startswith("harness-inductor-")
    assert impl.info().extra["torch_compile"].startswith("default mode")

    calls = []
    eager = impl.model  # count the calls instead of spending a compile on them

    def counted(x):
        calls.append(len(x))
        return eager(x)

    impl.net = counted
    impl.train_epoch(np.arange(2 * config.batch_size))
    impl.predict()
    impl.verify_step(data.x_train[:2], data.y_train[:2])
    assert calls == [config.batch_size, config.batch_size, 3, 2]


def test_a_named_inductor_cache_is_left_to_the_user(monkeypatch, tmp_path):
    helpers.torch()
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    impl = compiled_class("inference")(device="cpu")
    impl.prepare(np.zeros((1, 3, 32, 32), np.float32))
    impl.build(benchmarks.get("inference").config, None, seed=0)
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path)


def test_the_eager_row_calls_its_model_directly():
    helpers.torch()
    impl = helpers.pytorch_class("cnn")(device="cpu")
    images = np.zeros((2, 3, 32, 32), np.float32)
    impl.prepare(TrainingData(images, np.zeros(2, np.int32), images, np.zeros(2, np.int32)))
    impl.build(benchmarks.get("cnn").config, seed=0)
    assert impl.net is impl.model and impl.info().extra["torch_compile"] is None


@pytest.mark.slow
@pytest.mark.rows(ROW)
def test_each_benchmark_records_that_it_ran_compiled(smoke_runs):
    run = smoke_runs(ROW)
    for benchmark in registry.by_name(ROW).entry_points:
        record = run.record(benchmark)
        assert record["status"] == "ok", run.output()
        compiled = record["env"]["framework_extra"]["torch_compile"]
        # cold, or a cache this test session named before (torch sets it once it reads it)
        assert compiled.startswith("default mode, inductor, "), compiled
        assert "cold cache" in compiled or "set before the run" in compiled, compiled
        # Dynamo's default declines nn.GRU: the record must say the GRU ran eager.
        assert ("no graph traced" in compiled) == (benchmark == "rnn"), (benchmark, compiled)


def test_each_process_compiles_against_a_private_cache_and_clears_dead_ones(monkeypatch, tmp_path):
    monkeypatch.setattr(toolchain.tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    dead = tmp_path / f"{toolchain.CACHE_PREFIX}999999999-abc"  # no such process
    live = tmp_path / f"{toolchain.CACHE_PREFIX}{os.getppid()}-abc"
    dead.mkdir()
    live.mkdir()
    assert toolchain.cold_inductor_cache() == "cold cache (a folder of its own)"
    mine = os.environ["TORCHINDUCTOR_CACHE_DIR"]
    assert os.path.basename(mine).startswith(f"{toolchain.CACHE_PREFIX}{os.getpid()}-")
    assert os.stat(mine).st_mode & 0o077 == 0  # private: /tmp is shared
    assert not dead.exists() and live.exists()
    # A cache named before the run is used, and the record says it may be warm.
    assert "may hold kernels of earlier runs" in toolchain.cold_inductor_cache()
