"""A figure from several fresh processes: the quick profile runs every row twice, interleaved,
and a third time where its two processes disagree; `--repeat N` asks for exactly N."""

import dataclasses

import pytest

from harness import commands as cli
from harness import registry
from harness.config import PROCESSES
from harness.run.processes import disagree, one_more_where_they_disagree, rounds
from harness.run.results import read_results
from tests import fake_registry

ROW_A, ROW_B = fake_registry.ROWS[0], fake_registry.ROWS[-1]


def run(impl: str, rates: list[float], repeat: int, variant: str = "default") -> dict:
    return {"benchmark": "cnn", "impl": impl, "variant": variant, "status": "ok",
            "repeat": repeat, "timings": {"window_samples_per_s": rates,
                                          "samples_per_s": sorted(rates)[len(rates) // 2]}}


def test_rounds_interleave_the_rows_so_that_no_row_has_its_processes_back_to_back():
    plan = rounds([("cnn", ROW_A), ("cnn", ROW_B), ("rnn", ROW_A)], repeats=2)
    assert [(p.benchmark, p.impl.name, p.repeat) for p in plan] == [
        ("cnn", ROW_A.name, 0), ("cnn", ROW_B.name, 0), ("rnn", ROW_A.name, 0),
        ("cnn", ROW_A.name, 1), ("cnn", ROW_B.name, 1), ("rnn", ROW_A.name, 1)]


def test_two_processes_disagree_only_when_their_spreads_share_no_value():
    assert disagree("cnn", [run("a", [100, 104, 102], 0), run("a", [200, 204, 202], 1)])
    assert not disagree("cnn", [run("a", [100, 110, 105], 0), run("a", [108, 112, 109], 1)])
    failed = {**run("a", [200, 201], 1), "status": "failed"}
    assert not disagree("cnn", [run("a", [100, 101], 0), failed])  # nothing to compare with


def test_a_row_whose_processes_disagree_gets_one_more_and_only_that_row():
    plan = rounds([("cnn", ROW_A), ("cnn", ROW_B)], repeats=2)
    records = {"cnn": [run(ROW_A.name, [100, 101], 0), run(ROW_B.name, [50, 51], 0),
                       run(ROW_A.name, [200, 201], 1), run(ROW_B.name, [50.5, 52], 1)]}
    more = one_more_where_they_disagree(plan, records)
    assert [(p.benchmark, p.impl.name, p.repeat) for p in more] == [("cnn", ROW_A.name, 2)]


def test_a_variant_is_judged_on_its_own_processes():
    bf16 = dataclasses.replace(ROW_A, options={**ROW_A.options, "variant": "bf16-mixed"})
    plan = rounds([("cnn", ROW_A), ("cnn", bf16)], repeats=2)
    records = {"cnn": [run(ROW_A.name, [100, 101], 0), run(ROW_A.name, [100.5, 102], 1),
                       # far from the default's, but agreeing with each other
                       run(ROW_A.name, [300, 301], 0, "bf16-mixed"),
                       run(ROW_A.name, [300.5, 302], 1, "bf16-mixed")]}
    assert one_more_where_they_disagree(plan, records) == []


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_registry")  # the children declare them too
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + fake_registry.ROWS)


@pytest.mark.slow
def test_quick_runs_each_row_in_two_processes_by_default_and_repeat_asks_for_exactly_n(
        tmp_path, fakes):
    assert PROCESSES["quick"] == 2
    results = tmp_path / "r.jsonl"
    assert cli.main(["cnn", "--impl", "fake-ok", "--profile", "quick", "--data", "synthetic",
                     "--data-dir", str(tmp_path / "data"), "--results", str(results)]) == 0
    records = read_results(results)
    repeats = [r["repeat"] for r in records]
    assert repeats[:2] == [0, 1] and len(records) in (2, 3)
    if len(records) == 3:  # a third only because the first two disagreed
        assert disagree("cnn", records[:2])
    assert cli.main(["cnn", "--impl", "fake-ok", "--profile", "quick", "--data", "synthetic",
                     "--data-dir", str(tmp_path / "data"), "--repeat", "1",
                     "--results", str(tmp_path / "one.jsonl")]) == 0
    assert [r["repeat"] for r in read_results(tmp_path / "one.jsonl")] == [0]
