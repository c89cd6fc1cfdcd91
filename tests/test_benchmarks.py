"""The benchmark records and the metrics table: well-formed, strict about unknown names, and the
work per sample equal to the hand counts written in docs/benchmarks.md §11."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness import benchmarks, metrics
from harness.config import PROFILES


def test_every_record_has_a_workload_for_every_profile_and_a_complete_oracle():
    for name in benchmarks.names():
        record = benchmarks.get(name)
        assert set(record.workloads) == set(PROFILES), name
        oracle = record.oracle_module()
        needed = ["ACTIVATIONS", "parameter_shapes", "initial_weights", "sample_inputs", "forward"]
        if record.training:
            needed += ["LOGITS", "train_step"]
        assert [n for n in needed if not hasattr(oracle, n)] == [], name
        rng = np.random.default_rng(0)
        inputs = oracle.sample_inputs(rng, record.verify_batch, 32)
        assert len(inputs["x"]) == record.verify_batch
        shapes = oracle.parameter_shapes()
        weights = oracle.initial_weights(rng)
        assert {k: v.shape for k, v in weights.items()} == shapes


def test_an_unknown_benchmark_is_an_error_that_names_the_known_ones():
    with pytest.raises(KeyError, match="known: " + ", ".join(benchmarks.names())):
        benchmarks.get("mamba")
    with pytest.raises(KeyError, match="unknown model"):
        benchmarks.by_model("gpt")


def test_a_record_is_checked_when_it_is_made():
    cnn = benchmarks.get("cnn")
    with pytest.raises(ValueError, match="no workload for profile"):
        dataclasses.replace(cnn, name="x", workloads={"full": benchmarks.Workload()})
    with pytest.raises(ValueError, match="exactly one of"):
        dataclasses.replace(cnn, name="x", dataset=None)
    with pytest.raises(ValueError, match="kind must be"):
        dataclasses.replace(cnn, name="x", kind="evaluation")
    with pytest.raises(ValueError, match="already registered"):
        benchmarks.register(dataclasses.replace(cnn, title="another CNN"))


def test_the_work_per_sample_is_the_documented_hand_count():
    cnn, rnn, inference, transformer = (benchmarks.get(n).flops
                                        for n in ("cnn", "rnn", "inference", "transformer"))
    assert cnn.forward == 2 * 62_264_320 and cnn.train_step == 3 * cnn.forward
    assert rnn.forward == 2 * (150 * (300 * 125 + 300 * 100) + 100 * 2)
    assert rnn.train_step == 3 * rnn.forward
    assert inference.forward == 2 * 4_087_136_256 and inference.train_step is None
    block = 4 * 150 * 128 * 128 + 2 * 150 * 150 * 128 + 2 * 150 * 128 * 512
    assert transformer.forward == 2 * (2 * block + 128 * 2) == 141_005_312
    assert transformer.train_step == 3 * transformer.forward


def test_quick_workloads_are_smaller_than_full():
    for name in benchmarks.names():
        record = benchmarks.get(name)
        if record.training:
            assert record.epochs("quick") <= record.epochs("full")
            assert record.workload("quick").n_train < 50_000
        else:
            quick, full = record.config_for("quick"), record.config_for("full")
            assert quick.timed_batches * quick.passes < full.timed_batches * full.passes


def test_every_benchmark_has_its_headline_first_and_only_its_own_columns():
    for name in benchmarks.names():
        record = benchmarks.get(name)
        columns = metrics.for_benchmark(record)
        assert columns[0].key == record.headline
        assert all(record.kind in m.kinds for m in columns)
        assert len({m.key for m in columns}) == len(columns)
    assert metrics.get("accuracy").value({"accuracy": 0.5, "timings": {}}) == 0.5
    assert metrics.get("train_s").value({"timings": {"train_s": True}}) is None  # not a number
    with pytest.raises(KeyError, match="known:"):
        metrics.get("nonsense")
