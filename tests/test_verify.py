"""`verify` end to end: PyTorch passes every check; deliberately broken ports fail at the
right place; an implementation without the hooks is reported, not passed."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from harness import benchmarks, registry
from harness.commands import verify as verify_command
from harness.verify import checks as verify_checks, runner as verify
from harness.verify.table import verify_table
from harness.run.results import read_results
from tests import helpers, verify_doubles

helpers.torch()

# The real registry row and the doubles (claims-bf16 is for tests/test_verify_bf16.py).
ROWS = ["pytorch", *(name for name in verify_doubles.ENTRY_POINTS if name != "claims-bf16")]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """One verify run over every row and benchmark (batch 4, ResNet-50 at 64x64, CPU)."""
    tmp = tmp_path_factory.mktemp("verify")
    saved = list(registry.ROWS)
    registry.ROWS.extend(verify_doubles.ROWS)
    try:
        with pytest.MonkeyPatch.context() as patch:  # the children declare the doubles too
            patch.setenv("HARNESS_PLUGINS", "tests.verify_doubles")
            settings = verify.Settings(device="cpu", results=tmp / "verify.jsonl",
                                       image_size=64,
                                       # the Transformer at its own 8: after one Adam step
                                       # on 4 reviews its loss is ~1e-5, below what fp32's
                                       # log-sum-exp resolves to the loss tolerance
                                       batch={"cnn": 4, "rnn": 4, "inference": 1},
                                       weights_dir=tmp / "weights", timeout=600)
            records = verify.verify(ROWS, list(benchmarks.names()), settings)
    finally:
        registry.ROWS[:] = saved
    return {(r["impl"], r["benchmark"]): r for r in records}, tmp


def checks(record):
    return {c["name"]: c for c in record["checks"]}


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", benchmarks.names())
def test_pytorch_passes_every_check(outcome, benchmark):
    record = outcome[0][("pytorch", benchmark)]
    assert record["status"] == "passed", record
    assert record["checks"] and all(c["passed"] for c in record["checks"])
    assert record["layers"] and all(layer["passed"] for layer in record["layers"])
    assert record["tier"] == "fp32"


@pytest.mark.slow
def test_flatten_order_is_found_at_the_flatten_layer(outcome):
    record = outcome[0][("broken-flatten", "cnn")]
    assert record["status"] == "failed"
    assert not checks(record)["logits, initial weights"]["passed"]
    assert record["first_divergence"].startswith("flatten")
    assert "10 layer(s) before it agree" in record["first_divergence"]


@pytest.mark.slow
def test_dampening_passes_step_one_and_fails_step_two(outcome):
    record = outcome[0][("broken-dampening", "cnn")]
    by_name = checks(record)
    assert record["status"] == "failed"
    assert by_name["logits, initial weights"]["passed"] and by_name["update, step 1"]["passed"]
    assert not by_name["update, step 2"]["passed"]
    assert by_name["update, step 2"]["rel"] > 0.2  # far beyond fp32's reach, not borderline
    assert record["first_divergence"].startswith("none: every layer's forward output agrees")


@pytest.mark.slow
def test_reset_before_gates_are_found_in_the_gru(outcome):
    record = outcome[0][("broken-reset-before", "rnn")]
    assert record["status"] == "failed"
    assert record["first_divergence"].startswith("gru")
    layers = {layer["name"]: layer for layer in record["layers"]}
    assert layers["embedding"]["passed"] and not layers["gru"]["passed"]


@pytest.mark.slow
def test_batch_norm_epsilon_is_found_at_the_first_batch_norm(outcome):
    record = outcome[0][("broken-bn-eps", "inference")]
    assert record["status"] == "failed"
    assert record["first_divergence"].startswith("bn1")
    assert "1 layer(s) before it agree" in record["first_divergence"]  # conv1


@pytest.mark.slow
def test_layer_norm_epsilon_is_found_in_the_first_block(outcome):
    record = outcome[0][("broken-ln-eps", "transformer")]
    assert record["status"] == "failed"
    assert record["first_divergence"].startswith("blocks.0")
    assert "1 layer(s) before it agree" in record["first_divergence"]  # the embeddings


@pytest.mark.slow
def test_the_tanh_approximation_of_gelu_is_found_in_the_first_block(outcome):
    """The subtlest mistake the Transformer allows: about 1.6x the forward tolerance."""
    record = outcome[0][("broken-tanh-gelu", "transformer")]
    assert record["status"] == "failed"
    assert record["first_divergence"].startswith("blocks.0")


@pytest.mark.slow
def test_missing_hooks_are_reported_as_unsupported_not_passed(outcome):
    record = outcome[0][("no-hooks", "cnn")]
    assert record["status"] == "unsupported"
    assert all(c["passed"] is None for c in record["checks"])
    assert "load_weights" in record["unsupported"]
    assert "not supported" in record["checks"][0]["detail"]


@pytest.mark.slow
def test_a_crash_is_an_error_with_its_reason(outcome):
    record = outcome[0][("crashes", "inference")]
    assert record["status"] == "error"
    assert record["reason"]


@pytest.mark.slow
def test_records_are_appended_as_json_lines(outcome):
    records, tmp = outcome
    stored = read_results(tmp / "verify.jsonl")
    assert len(stored) == len(records)
    assert {r["record"] for r in stored} == {"verify"}
    assert all("env" in r and "case" in r for r in stored)


@pytest.mark.slow
def test_the_table_shows_checks_and_the_diverging_layer(outcome):
    from rich.console import Console

    records = [r for (impl, bench), r in outcome[0].items() if bench == "cnn"]
    console = Console(width=200, record=True)
    console.print(verify_table("cnn", records))
    text = console.export_text()
    assert "update, step 2" in text and "FAIL" in text and "pass" in text
    assert "first diverging layer" in text and "flatten" in text


@pytest.mark.slow
def test_the_command_line_verifies_and_sets_the_exit_code(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    parser = argparse.ArgumentParser()
    verify_command.register(parser.add_subparsers())
    args = parser.parse_args(["verify", "--impl", "pytorch", "--benchmark", "inference",
                              "--image-size", "32", "--device", "cpu",
                              "--results", str(tmp_path / "v.jsonl")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "features" in out and "pass" in out
    assert read_results(tmp_path / "v.jsonl")[0]["status"] == "passed"
    assert (tmp_path / "data" / "weights" / "resnet50-seed0.h5").exists()


def verify_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    verify_command.register(parser.add_subparsers())
    args = parser.parse_args(["verify", *argv])
    return args.func(args)


@pytest.mark.slow
def test_the_command_line_exits_1_on_a_broken_row(tmp_path, monkeypatch, capsys):
    """Breakage caught: `verify` exiting 0 whatever its records say (CI would pass a wrong port)."""
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + verify_doubles.ROWS)
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.verify_doubles")
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    assert verify_cli("--impl", "broken-bn-eps", "--benchmark", "inference", "--image-size", "32",
                      "--device", "cpu", "--results", str(tmp_path / "v.jsonl")) == 1
    assert read_results(tmp_path / "v.jsonl")[0]["status"] == "failed"
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("strict, code", [([], 0), (["--strict"], 1)], ids=["plain", "strict"])
def test_strict_fails_a_row_that_lacks_a_hook(outcome, tmp_path, monkeypatch, strict, code):
    """Breakage caught: `--strict` ignored, so a row that lost its hooks passed CI as
    "unsupported". (The records are the module's verify run: no second run of the child.)"""
    record = outcome[0][("no-hooks", "cnn")]
    monkeypatch.setattr(verify_command, "verify", lambda names, chosen, settings, **_: [record])
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + verify_doubles.ROWS)
    assert verify_cli("--impl", "no-hooks", "--benchmark", "cnn", "--results",
                      str(tmp_path / "v.jsonl"), *strict) == code


def test_an_unknown_implementation_is_refused(capsys):
    parser = argparse.ArgumentParser()
    verify_command.register(parser.add_subparsers())
    args = parser.parse_args(["verify", "--impl", "nonesuch"])
    assert args.func(args) == 2
    assert "unknown implementation" in capsys.readouterr().out


def test_comparison_measures_relative_l2_and_catches_shapes():
    check = verify_checks.compare("x", np.array([1.0, 2.0, 2.0]), np.array([1.0, 2.0, 2.1]), 1e-3)
    assert not check.passed and check.max_abs == pytest.approx(0.1)
    assert check.rel == pytest.approx(0.1 / np.linalg.norm([1.0, 2.0, 2.1]))
    assert verify_checks.compare("x", np.zeros(3), np.zeros(4), 1.0).detail.startswith("shape")
    assert not verify_checks.compare("x", np.array([np.nan]), np.array([1.0]), 1.0).passed


def test_low_precision_variants_get_the_loose_tier():
    assert verify_checks.precision_tier({"precision": "bf16-mixed"}) == "low-precision"
    assert verify_checks.precision_tier({"precision": "fp32 (PyTorch default: cuDNN conv TF32=True)"}) \
        == "fp32"
