"""Ranking, ties, device labels and the live table (harness/report/ranking.py, groups.py,
live.py), from schema-3 records whose timed windows have known throughputs."""

from __future__ import annotations

import io

from rich.console import Console

from harness.report.groups import build_sections, device_label
from harness.report.live import results_table
from harness.report.ranking import TIE_MARK
from harness.report.render import display_rows, section_notes


def run(impl: str, windows: list[float], *, device: str = "cpu", device_name: str = "cpu",
        repeat: int = 0, busy: bool = False, accuracy: float = 0.95,
        data: str = "synthetic", profile: str = "quick") -> dict:
    """A successful CNN run whose steady windows reached `windows` samples/s."""
    ordered = sorted(windows)
    return {
        "schema": 3, "run_id": f"{impl}-{repeat}", "benchmark": "cnn", "impl": impl,
        "variant": "default", "framework": impl, "status": "ok", "repeat": repeat,
        "profile": profile, "data": data, "device": device, "device_name": device_name,
        "accuracy": accuracy,
        "timings": {"window_samples_per_s": windows, "samples_per_s": ordered[len(ordered) // 2],
                    "warmup_s": 2.0, "train_s": 10.0, "eval_s": 0.5},
        "load": {"other_cores": 0.9 if busy else 0.0, "busy": busy},
        "env": {"cpu": "AMD EPYC", "threads": 2, "host": "vm"},
    }


def skipped(impl: str) -> dict:
    return {"benchmark": "cnn", "impl": impl, "framework": impl, "repeat": 0,
            "status": "skipped", "reason": "not installed; fix: pip install -e '.[" + impl + "]'",
            "timings": None, "accuracy": None}


def test_rows_rank_by_steady_throughput_and_a_tie_is_with_the_row_above():
    (section,) = build_sections([
        run("slow", [80.0, 90.0, 96.0]),     # overlaps "middle" (95-105), not "fast" (100-120)
        run("fast", [100.0, 110.0, 120.0]),
        run("middle", [95.0, 98.0, 105.0]),  # overlaps "fast"
        run("far", [10.0, 11.0, 12.0]),
    ])
    assert [g.impl for g in section.groups] == ["fast", "middle", "slow", "far"]
    # breakage caught: comparing each row with the fastest would leave "slow" untied
    assert [g.tied for g in section.groups] == [False, True, True, False]
    _, rows = display_rows(section)
    assert [r[0] for r in rows] == ["fast", f"{TIE_MARK} middle", f"{TIE_MARK} slow", "far"]
    assert section.groups[3].ratio == 110.0 / 11.0  # times slower than the first row


def test_repeats_pool_their_windows_into_one_median_and_spread():
    (section,) = build_sections([run("a", [100.0, 110.0, 120.0]),
                                 run("a", [60.0, 70.0, 130.0], repeat=1)])
    spread = section.groups[0].headline
    # breakage caught: a median of the per-run medians (110, 70) would read 90
    assert (spread.median, spread.low, spread.high, spread.n) == (105.0, 60.0, 130.0, 6)


def test_every_cpu_row_lands_in_one_table_whatever_its_framework_calls_the_cpu():
    records = [run("chainer", [10.0], device_name="@numpy"),  # Chainer's name for the CPU
               run("pytorch", [20.0], device_name="cpu"),
               run("tensorflow", [30.0], device_name="/device:CPU:0"),
               run("jax", [40.0], device_name="")]
    (section,) = build_sections(records)
    assert section.device == "cpu: AMD EPYC, 2 threads"
    assert {device_label(r) for r in records} == {"cpu: AMD EPYC, 2 threads"}
    gpu = run("pytorch", [50.0], device="cuda", device_name="NVIDIA H200")
    assert device_label(gpu) == "NVIDIA H200"


def test_a_busy_run_and_generated_data_accuracy_are_flagged_not_printed_as_results():
    (section,) = build_sections([run("calm", [100.0, 101.0]),
                                 run("noisy", [50.0, 51.0], busy=True, accuracy=0.3)])
    headers, rows = display_rows(section)
    cells = {r[0]: dict(zip(headers, r)) for r in rows}
    assert cells["calm"]["accuracy"] == "learned" and cells["calm"]["status"] == "ok"
    assert cells["noisy"]["accuracy"] == "not learned"  # chance 0.1; halfway to 1 is 0.55
    assert cells["noisy"]["status"] == "ok [1]"
    assert any(n.startswith("[1] noisy: 1 of 1 run(s) measured on a busy machine")
               for n in section_notes(section))


def test_real_full_runs_are_read_against_the_contracts_band():
    records = [run("inside", [10.0], accuracy=0.77, data="real", profile="full"),
               run("below", [9.0], accuracy=0.70, data="real", profile="full")]
    headers, rows = display_rows(build_sections(records)[0])
    accuracy = {r[0]: dict(zip(headers, r))["accuracy"] for r in rows}
    assert accuracy == {"inside": "0.770 ok", "below": "0.700 low"}  # CNN band 0.75-0.79


def test_the_live_table_shows_rows_that_ran_and_collapses_the_rest_into_one_line():
    records = [skipped("mxnet"), run("slow", [10.0, 11.0]), skipped("chainer"),
               run("fast", [50.0, 52.0]),
               {**run("broken", [1.0]), "status": "failed", "timings": None,
                "reason": "RuntimeError: " + "a very long reason " * 12}]
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(
        results_table("cnn", records, "quick", "synthetic"))
    text = out.getvalue()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    rows = [line.split()[0] for line in lines if line.strip().split(" ")[0] in
            ("fast", "slow", "broken", "mxnet", "chainer")]
    assert rows == ["fast", "slow", "broken"]  # ranked; the failed row keeps its place, last
    assert text.count("2 not run: mxnet, chainer - see `python -m harness list`") == 1
    assert "[1] broken: failed: RuntimeError: a very long reason" in " ".join(text.split())
