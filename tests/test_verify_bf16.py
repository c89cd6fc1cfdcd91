"""`verify --precision bf16-mixed`: a bf16 run is held to bf16's tolerances, must show a
deviation beyond fp32's (else it did not compute in bf16) and its argmax must agree wherever the
oracle's margin is clear; a row without bf16 is skipped saying so."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from harness import registry
from harness.commands import verify as verify_command
from harness.report.verified import latest
from harness.verify import checks as verify_checks, runner as verify
from tests import helpers, verify_doubles


def test_bf16_tolerances_follow_from_its_unit_roundoff():
    bf16 = verify_checks.TOLERANCES["bf16"]
    assert verify_checks.BF16_U == 2.0 ** -8
    assert bf16["forward"] == bf16["loss"] == bf16["after"] == 16 * 2.0 ** -8
    assert verify_checks.BF16_FLOOR == verify_checks.TOLERANCES["fp32"]["forward"]


def test_argmax_must_agree_where_the_margin_is_clear_and_may_flip_at_a_near_tie():
    want = np.array([[2.0, -2.0], [0.001, 0.0], [-1.0, 1.0]])
    near_tie_flipped = np.array([[2.0, -2.0], [0.0, 0.001], [-1.0, 1.0]])
    check = verify_checks.argmax_check("argmax", near_tie_flipped, want, 0.0625)
    assert check.passed and "2/3 agree; 0 of 2 decisive disagree" in check.detail
    clear_flipped = np.array([[-2.0, 2.0], [0.001, 0.0], [-1.0, 1.0]])
    assert not verify_checks.argmax_check("argmax", clear_flipped, want, 0.0625).passed
    assert not verify_checks.argmax_check("argmax", want[:2], want, 0.0625).passed


def test_a_deviation_at_fp32_level_is_not_a_bf16_computation():
    rng = np.random.default_rng(0)
    want = rng.normal(size=(8, 10))
    exp = {"logits0": want}
    fp32_like = {"logits0": want * (1 + 1e-7)}
    bf16_like = {"logits0": want + rng.normal(size=want.shape) * 4e-3}
    for got, bf16 in ((fp32_like, False), (bf16_like, True)):
        first = verify_checks.compare("logits0", got["logits0"], want, 0.0625)
        assert verify_checks.bf16_checks(got, exp, 0.0625, first)[0].passed is bf16


def test_pooled_updates_forgive_one_tiny_tensor_the_worst_tensor_rule_would_not():
    before = {"big": np.zeros(1000), "tiny": np.zeros(2)}
    want = {"big": np.full(1000, 1e-3), "tiny": np.array([1e-3, -1e-3])}
    after = {"big": want["big"] * 1.01, "tiny": -want["tiny"]}  # the tiny one's signs flipped
    worst = verify_checks.compare_update("update", before, after, want, 0.3)
    pooled = verify_checks.compare_update("update", before, after, want, 0.3, pooled=True)
    assert not worst.passed and "tiny" in worst.detail
    assert pooled.passed and pooled.rel < 0.1 and "worst alone: tiny" in pooled.detail


def test_a_row_without_bf16_is_a_skipped_record_saying_so(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + verify_doubles.ROWS)
    settings = verify.Settings(device="cpu", results=tmp_path / "v.jsonl",
                               precisions=["bf16-mixed"])
    [record] = verify.verify(["no-hooks"], ["cnn"], settings)
    assert record["status"] == "skipped" and record["variant"] == "bf16-mixed"
    assert "no-hooks has no bf16-mixed here" in record["reason"]


def test_verify_outcomes_are_kept_apart_by_variant():
    records = [{"benchmark": "cnn", "impl": "pytorch", "status": status, "variant": variant,
                "device": "cpu", "finished_at": "2026-12-04T00:00:00", "checks": []}
               for status, variant in (("passed", None), ("failed", "bf16-mixed"))]
    outcomes = latest(records)
    assert outcomes[("cnn", "pytorch", "default", "cpu")].status == "passed"
    assert outcomes[("cnn", "pytorch", "bf16-mixed", "cpu")].status == "failed"


def test_an_unknown_precision_is_refused(capsys):
    parser = argparse.ArgumentParser()
    verify_command.register(parser.add_subparsers())
    args = parser.parse_args(["verify", "--precision", "fp8"])
    assert args.func(args) == 2
    assert "unknown precision fp8" in capsys.readouterr().out


@pytest.fixture(scope="module")
def bf16_outcome(tmp_path_factory):
    """One verify run at bf16-mixed: PyTorch's CNN, a row that claims bf16 but computes fp32,
    and a LayerNorm eps mistake in the Transformer."""
    helpers.torch()
    tmp = tmp_path_factory.mktemp("verify-bf16")
    with pytest.MonkeyPatch.context() as patch:  # the children declare the doubles too
        patch.setattr(registry, "ROWS", registry.ROWS + verify_doubles.ROWS)
        patch.setenv("HARNESS_PLUGINS", "tests.verify_doubles")
        settings = verify.Settings(device="cpu", results=tmp / "verify.jsonl",
                                   batch={"cnn": 4}, weights_dir=tmp / "weights", timeout=600,
                                   precisions=["bf16-mixed"])
        records = verify.verify(["pytorch", "claims-bf16"], ["cnn"], settings)
        records += verify.verify(["broken-ln-eps"], ["transformer"], settings)
    return {(r["impl"], r["benchmark"]): r for r in records}


def checks(record):
    return {c["name"]: c for c in record["checks"]}


@pytest.mark.slow
def test_pytorch_passes_in_bf16_with_a_bf16_sized_deviation(bf16_outcome):
    record = bf16_outcome[("pytorch", "cnn")]
    assert record["status"] == "passed", record
    assert record["tier"] == "bf16" and record["variant"] == "bf16-mixed"
    assert record["precision"].startswith("bf16-mixed")
    made = checks(record)
    assert made["bf16 computation"]["passed"]
    assert 1e-4 < made["logits, initial weights"]["rel"] < 16 * 2.0 ** -8
    assert made["argmax, initial weights"]["passed"] and made["argmax after 2 steps"]["passed"]


@pytest.mark.slow
def test_fp32_computed_under_a_bf16_label_fails(bf16_outcome):
    record = bf16_outcome[("claims-bf16", "cnn")]
    assert record["status"] == "failed"
    assert "fp32's level: not computed in bf16" in checks(record)["bf16 computation"]["detail"]


@pytest.mark.slow
def test_a_wrong_layer_still_fails_in_bf16_where_it_departs(bf16_outcome):
    record = bf16_outcome[("broken-ln-eps", "transformer")]
    assert record["status"] == "failed"
    assert record["first_divergence"].startswith("blocks.0")
