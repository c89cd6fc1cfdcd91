"""`report`: grouping of repeats, ratios, failed rows, reference figures, exports, --compare.

The expected numbers are worked out by hand from tests/report_fixtures.py."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest

from harness.commands import report
from harness.report.groups import build_sections, compare, compare_variants, load_results
from harness.report.render import export, export_comparison
from tests.report_fixtures import H100, record, standard_records, write_results


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return write_results(tmp_path / "results.jsonl", standard_records())


def sections_of(path: Path, **kwargs):
    return build_sections(load_results([path]).records, **kwargs)


def by_impl(section) -> dict:
    return {g.impl: g for g in section.groups}


def run_report(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    report.register(parser.add_subparsers())
    args = parser.parse_args(["report", *argv])
    return args.func(args)


def test_damaged_lines_are_reported_with_their_line_number_and_skipped(results: Path) -> None:
    loaded = load_results([results])
    assert len(loaded.records) == len(standard_records())
    assert len(loaded.warnings) == 2
    assert loaded.warnings[0].startswith(f"{results}:4: not valid JSON")
    assert loaded.warnings[1] == f"{results}:6: no impl, skipped"


def test_one_table_per_benchmark_device_profile_and_data(results: Path) -> None:
    sections = sections_of(results)
    assert [(s.benchmark, s.device, s.profile, s.data) for s in sections] == [
        ("cnn", H100, "full", "real"),
        ("cnn", "cpu: AMD EPYC, 2 threads", "quick", "synthetic"),
        ("inference", H100, "full", "real"),
    ]


def test_repeats_give_median_spread_count_and_ratio_to_fastest(results: Path) -> None:
    cnn = sections_of(results)[0]  # headline: steady samples/s, higher is better
    assert [g.impl for g in cnn.groups] == ["pytorch", "jax-flax", "keras-tensorflow"]
    rows = by_impl(cnn)
    jax, torch = rows["jax-flax"].headline, rows["pytorch"].headline
    assert (jax.median, jax.low, jax.high, jax.n) == (14.5, 14.0, 15.0, 2)
    assert (torch.median, torch.low, torch.high, torch.n) == (21.0, 20.0, 22.0, 3)
    assert rows["pytorch"].ratio == 1.0
    assert rows["jax-flax"].ratio == pytest.approx(21.0 / 14.5)  # times slower
    assert not rows["jax-flax"].tied  # 14-15 and 20-22 do not overlap
    assert rows["pytorch"].accuracy.median == 0.77
    assert rows["jax-flax"].accuracy.median == pytest.approx(0.755)
    assert rows["pytorch"].metric("eval_s").median == 1.0


def test_failed_runs_stay_visible_with_their_reason(results: Path) -> None:
    rows = by_impl(sections_of(results)[0])
    keras = rows["keras-tensorflow"]
    assert keras.headline is None and keras.ratio is None
    assert keras.status == "crashed"
    assert keras.failure_reasons == ["crashed: killed by signal 9 (out of memory?)"]
    assert rows["jax-flax"].status == "1 timeout"  # 2 of its 3 runs succeeded
    assert (len(rows["jax-flax"].ok), len(rows["jax-flax"].runs)) == (2, 3)
    assert "cntk" not in rows  # a live run's "skipped" row is not a stored result


def test_reference_figures_sit_beside_full_profile_rows_only(results: Path) -> None:
    cnn_full, cnn_quick, inference = sections_of(results)
    pytorch = by_impl(cnn_full)["pytorch"].reference
    assert (pytorch["K80"].value, pytorch["P100"].value) == (169.0, 51.2)
    assert "P100" in pytorch["P100"].describe() and "2018" in pytorch["P100"].describe()
    assert by_impl(cnn_quick)["pytorch"].reference == {}
    assert by_impl(inference)["pytorch"].reference["P100"].value == pytest.approx(1.906)
    assert by_impl(cnn_full)["jax-flax"].reference == {}  # no counterpart in the original
    assert sections_of(results, with_reference=False)[0].groups[1].reference == {}


def test_records_of_an_older_schema_without_status_still_count(tmp_path: Path) -> None:
    old = record("rnn", "pytorch", 12.0, 0.86)
    del old["status"], old["schema"], old["env"], old["variant"]
    path = write_results(tmp_path / "old.jsonl", [old], damaged=False)
    group = sections_of(path)[0].groups[0]
    assert group.status == "ok" and group.headline.median == 12.0


def parse_markdown_tables(text: str) -> list[list[dict[str, str]]]:
    tables, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if (line.startswith("| ") and i + 1 < len(lines) and "---" in lines[i + 1]
                and set(lines[i + 1]) <= set("|-: ")):
            headers = [c.strip() for c in line.strip("|").split("|")]
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(headers, (c.strip() for c in row.strip("|").split("|")))))
            tables.append(rows)
    return tables


def test_markdown_export_parses_back(results: Path) -> None:
    text = export(sections_of(results), "markdown")
    assert text.count("\n### ") + text.startswith("### ") == 3
    cnn, quick, inference = parse_markdown_tables(text)
    torch = next(r for r in cnn if r["implementation"] == "pytorch")
    assert torch["samples/s"] == "21.0" and torch["min-max"] == "20.0-22.0"
    assert torch["x fastest"] == "1.00" and torch["runs"] == "3/3"
    jax = next(r for r in cnn if r["implementation"] == "jax-flax")
    assert jax["x fastest"] == "1.45" and jax["accuracy"] == "0.755 ok"  # in the 0.75-0.79 band
    assert torch["K80 2017"] == "169" and torch["P100 2018"] == "51.2"
    keras = next(r for r in cnn if r["implementation"] == "keras-tensorflow")
    assert keras["samples/s"] == "-" and keras["status"] == "crashed [2]"  # [1]: jax's timeout
    assert "keras-tensorflow: crashed: killed by signal 9" in text
    assert "K80 2017" not in quick[0]  # quick profile: no reference columns
    assert inference[0]["s / 1000 images"] == "0.300"


def test_csv_export_parses_back_with_full_precision(results: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(export(sections_of(results), "csv"))))
    assert len(rows) == 6
    torch = next(r for r in rows if (r["benchmark"], r["impl"], r["profile"])
                 == ("cnn", "pytorch", "full"))
    assert (float(torch["median"]), float(torch["min"]), float(torch["max"])) == (21, 20, 22)
    assert float(torch["ratio_to_fastest"]) == 1.0
    jax = next(r for r in rows if (r["benchmark"], r["impl"], r["profile"])
               == ("cnn", "jax-flax", "full"))
    assert float(jax["ratio_to_fastest"]) == pytest.approx(21 / 14.5, rel=1e-12)
    assert float(torch["ref_p100"]) == 51.2 and torch["runs"] == "3"
    keras = next(r for r in rows if r["impl"] == "keras-tensorflow")
    assert keras["median"] == "" and keras["status"] == "crashed"
    assert "signal 9" in keras["failures"]


def test_json_export_is_a_list_of_flat_records(results: Path) -> None:
    rows = json.loads(export(sections_of(results), "json"))
    assert len(rows) == 6 and len({tuple(r) for r in rows}) == 1  # same keys everywhere
    inference = [r for r in rows if r["benchmark"] == "inference"]
    assert [(r["impl"], r["median"]) for r in inference] == [("jax-flax", 0.3),
                                                             ("pytorch", 0.45)]
    assert inference[0]["accuracy"] is None


def after_change() -> list[dict]:
    """The same rows measured again on another GPU: pytorch CNN clearly faster (twice the
    samples/s), jax-flax within its spread, a single inference run, one new row."""
    other = "NVIDIA H200"
    return [
        record("cnn", "pytorch", 40.0, 0.77, device_name=other),
        record("cnn", "pytorch", 44.0, 0.77, device_name=other, repeat=1),
        record("cnn", "pytorch", 42.0, 0.77, device_name=other, repeat=2),
        record("cnn", "jax-flax", 14.8, 0.75, device_name=other),
        record("cnn", "jax-flax", 15.6, 0.75, device_name=other, repeat=1),
        record("inference", "pytorch", 0.42, device_name=other),
        record("inference", "mxnet-gluon", 0.5, device_name=other),
    ]


def test_compare_gives_ratios_and_calls_overlapping_spreads_noise(results: Path,
                                                                   tmp_path: Path) -> None:
    rows = compare(after_change(), load_results([results]).records)
    found = {(c.benchmark, c.impl, c.profile): c for c in rows}
    torch = found[("cnn", "pytorch", "full")]
    assert torch.ratio == pytest.approx(21.0 / 42.0)  # throughput: baseline / this
    assert torch.verdict == "faster"
    assert (torch.base.device, torch.this.device) == (H100, "NVIDIA H200")
    jax = found[("cnn", "jax-flax", "full")]
    assert jax.ratio == pytest.approx(14.5 / 15.2) and jax.verdict == "noise"
    assert found[("inference", "pytorch", "full")].verdict == "faster? (1 run: no spread)"
    assert found[("inference", "mxnet-gluon", "full")].verdict == "only in this set"
    assert found[("cnn", "keras-tensorflow", "full")].verdict == "only in the baseline"
    assert found[("cnn", "pytorch", "quick")].verdict == "only in the baseline"

    exported = list(csv.DictReader(io.StringIO(export_comparison(rows, "csv", "a", "b"))))
    row = next(r for r in exported if (r["impl"], r["profile"]) == ("pytorch", "full")
               and r["benchmark"] == "cnn")
    assert float(row["ratio"]) == pytest.approx(0.5) and row["verdict"] == "faster"
    markdown = export_comparison(rows, "markdown", "after.jsonl", "before.jsonl")
    assert "| pytorch | full | real | NVIDIA H100 80GB HBM3 -> NVIDIA H200 |" in markdown


def test_the_command_prints_tables_warnings_and_exports(results: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    assert run_report(str(results)) == 0
    out, err = capsys.readouterr()
    assert "results.jsonl:4: not valid JSON" in err
    assert "jax-flax" in out and "1 timeout" in out and "51.2" in out
    assert "keras-tensorflow: crashed: killed by signal 9 (out of memory?)" in out

    assert run_report(str(results), "--format", "csv") == 0
    out, _ = capsys.readouterr()
    assert len(list(csv.DictReader(io.StringIO(out)))) == 6  # stdout holds only the CSV

    assert run_report(str(results), "--format", "json", "--out", str(tmp_path / "x")) == 0
    assert len(json.loads((tmp_path / "x" / "report.json").read_text())) == 6

    later = write_results(tmp_path / "after.jsonl", after_change(), damaged=False)
    assert run_report(str(later), "--compare", str(results)) == 0
    out, _ = capsys.readouterr()
    assert "noise" in out and "faster" in out and "0.50" in out


def test_missing_results_say_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_report(str(tmp_path / "nothing.jsonl")) == 2
    assert "run a benchmark first" in capsys.readouterr().err


def test_cpu_runs_are_labelled_by_cpu_model_and_threads(tmp_path: Path) -> None:
    named = record("cnn", "pytorch", 5.0, 0.4, device_name="", profile="quick")
    named["device_name"] = "cpu"  # PyTorch names its CPU device "cpu"
    unnamed = record("cnn", "pytorch", 6.0, 0.4, device_name="", profile="quick", repeat=1)
    path = write_results(tmp_path / "cpu.jsonl", [named, unnamed], damaged=False)
    (section,) = sections_of(path)
    assert section.device == "cpu: AMD EPYC, 2 threads"
    assert section.groups[0].headline.n == 2


def utilisation_records() -> list[dict]:
    """Two CNN rows with the schema-2 utilisation and memory sections, one old row without."""
    def with_figures(impl: str, headline: float, rate: float, pct: float, rss: int) -> dict:
        return record("cnn", impl, headline, 0.77, framework=impl, schema=2,
                      utilisation={"flops_per_s": rate, "pct_of_measured_peak": pct,
                                   "calibration": {"size": 8192, "flops_per_s": rate / pct * 100}},
                      memory={"host_peak_bytes": rss, "device_peak_bytes": 3 * 2**30,
                              "device_reason": None})
    return [with_figures("pytorch", 20.0, 40e12, 62.5, 2 * 2**30),
            with_figures("jax-flax", 14.0, 55e12, 81.0, 3 * 2**30),
            record("cnn", "mxnet-gluon", 30.0, 0.76, framework="MXNet")]


def test_utilisation_and_memory_columns_in_markdown_and_csv(tmp_path: Path) -> None:
    path = write_results(tmp_path / "results.jsonl", utilisation_records())
    sections = build_sections(load_results([path]).records, with_reference=False)
    (table,) = parse_markdown_tables(export(sections, "markdown"))
    jax = next(r for r in table if r["implementation"] == "jax-flax")
    assert "GFLOP/s" not in jax  # exports only: the table keeps to 120 columns
    assert jax["% of peak"] == "81"
    assert jax["peak RSS MiB"] == "3072" and jax["device MiB"] == "3072"
    old = next(r for r in table if r["implementation"] == "mxnet-gluon")
    assert old["% of peak"] == "-"  # schema 1: not measured
    rows = {r["impl"]: r for r in csv.DictReader(io.StringIO(export(sections, "csv")))}
    assert float(rows["pytorch"]["flops_per_s"]) == 40e3  # GFLOP/s
    assert float(rows["pytorch"]["pct_of_measured_peak"]) == 62.5
    assert float(rows["pytorch"]["host_peak_bytes"]) == 2048  # MiB
    assert rows["mxnet-gluon"]["flops_per_s"] == ""


def test_a_percent_of_peak_above_100_is_flagged_with_its_reason_not_shown_as_a_result(
        tmp_path: Path) -> None:
    records = utilisation_records()
    records[1]["utilisation"]["pct_of_measured_peak"] = 146.0  # MXNet's case: dot beside oneDNN
    path = write_results(tmp_path / "results.jsonl", records)
    sections = build_sections(load_results([path]).records, with_reference=False)
    text = export(sections, "markdown")
    (table,) = parse_markdown_tables(text)
    jax = next(r for r in table if r["implementation"] == "jax-flax")
    assert jax["% of peak"] == "> 100" and "146" not in jax["% of peak"]
    mark = jax["status"].split()[-1]  # the footnote the status cell points at
    note = next(line for line in text.splitlines() if mark in line and "jax-flax:" in line)
    assert "% of peak 146 is above 100" in note and "calibration" in note
    pytorch = next(r for r in table if r["implementation"] == "pytorch")
    assert pytorch["% of peak"] == "62"
    rows = {r["impl"]: r for r in csv.DictReader(io.StringIO(export(sections, "csv")))}
    assert float(rows["jax-flax"]["pct_of_measured_peak"]) == 146.0  # the exports keep the figure


def test_vs_default_sets_each_variant_row_against_its_own_default_run(tmp_path: Path,
                                                                      capsys) -> None:
    """bf16 against the same row's fp32 in one result set: ratio and noise judgement per row."""
    def bf16(*args, **kwargs):
        return {**record(*args, **kwargs), "variant": "bf16-mixed", "precision": "bf16-mixed"}

    records = [record("cnn", "pytorch", 20.0, 0.77), record("cnn", "pytorch", 21.0, 0.77,
                                                             repeat=1),
               bf16("cnn", "pytorch", 40.0, 0.76), bf16("cnn", "pytorch", 42.0, 0.76, repeat=1),
               record("cnn", "jax-flax", 14.0, 0.75), record("cnn", "jax-flax", 15.0, 0.75,
                                                              repeat=1),
               bf16("cnn", "jax-flax", 14.5, 0.75), bf16("cnn", "jax-flax", 15.5, 0.75,
                                                         repeat=1),
               bf16("cnn", "keras-torch", 9.0, 0.7)]
    rows = {c.impl: c for c in compare_variants(records)}
    assert set(rows) == {"pytorch", "jax-flax", "keras-torch"}  # default rows are no variant
    assert rows["pytorch"].ratio == pytest.approx(20.5 / 41.0) and rows["pytorch"].verdict == \
        "faster"
    assert rows["jax-flax"].verdict == "noise"
    assert rows["keras-torch"].verdict == "no default run of this row to compare with"

    path = write_results(tmp_path / "mixed.jsonl", records, damaged=False)
    capsys.readouterr()
    assert run_report(str(path), "--vs-default", "--format", "markdown") == 0
    out = capsys.readouterr().out
    assert "this = the row's variant, baseline = its default run" in out
    assert "| pytorch (bf16-mixed) | full | real |" in out
    assert run_report(str(path), "--vs-default", "--compare", str(path)) == 2
    plain = write_results(tmp_path / "plain.jsonl", records[:2], damaged=False)
    assert run_report(str(plain), "--vs-default") == 1
    assert "no variant rows" in capsys.readouterr().err


def test_a_smoke_runs_table_says_its_figures_are_not_for_comparison(tmp_path: Path) -> None:
    from harness.report.render import table_footnote

    smoke = [record("cnn", impl, rate, 0.7, device_name="", profile="smoke", data="synthetic")
             for impl, rate in (("pytorch", 5.0), ("jax-flax", 4.0))]
    note = table_footnote(sections_of(write_results(tmp_path / "s.jsonl", smoke, damaged=False)))
    assert "Profile smoke:" in note and "not for comparison" in note
    quick = [dict(r, profile="quick") for r in smoke]
    note = table_footnote(sections_of(write_results(tmp_path / "q.jsonl", quick, damaged=False)))
    assert "Profile smoke:" not in note
