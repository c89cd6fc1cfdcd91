"""Runs in child processes: crashes, hangs, abrupt exits and kills become failed rows, the
others finish, results are appended, and Ctrl-C keeps what finished."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import benchmarks, registry
from harness import commands as cli
from harness.run.results import SCHEMA, read_results
from harness.run.runner import RunSettings, stop_signals_as_request, run_one
from tests import fake_registry

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_registry")  # the children declare them too
    monkeypatch.setattr(registry, "ROWS",
                        registry.ROWS + fake_registry.ROWS)


def settings(tmp_path, timeout=60.0):
    return RunSettings(profile="quick", data="synthetic", device="cpu", timeout=timeout,
                       results=tmp_path / "results.jsonl")


@pytest.mark.slow
@pytest.mark.parametrize("name, status, reason", [
    ("fake-raises", "failed", "ValueError: broken on purpose"),
    ("fake-exits", "crashed", "exited with code 3"),
    ("fake-killed", "crashed", "killed by SIGKILL (out of memory?)"),
])
def test_a_misbehaving_run_becomes_a_failed_record(tmp_path, name, status, reason):
    record = run_one(registry.by_name(name), "inference", 0, settings(tmp_path))
    assert record["status"] == status
    assert reason in record["reason"]
    assert record["timings"] is None
    assert read_results(tmp_path / "results.jsonl") == [record]


@pytest.mark.slow
def test_a_hanging_run_is_killed_at_the_timeout(tmp_path):
    start = time.monotonic()
    record = run_one(registry.by_name("fake-hangs"), "inference", 0,
                     settings(tmp_path, timeout=8))
    assert record["status"] == "timeout"
    assert "timed out after 8 s" in record["reason"]
    assert time.monotonic() - start < 30


def test_a_good_run_records_figures_and_environment(tmp_path):
    events = []
    record = run_one(registry.by_name("fake-ok"), "inference", 0, settings(tmp_path),
                     on_event=events.append)
    assert record["status"] == "ok", record["reason"]
    assert record["timings"]["s_per_1000"] > 0 and record["timings"]["images_per_s"] > 0
    assert record["feature_shape"] == [32, 2048]
    for key in ("python", "cpu", "threads", "commit", "host"):
        assert key in record["env"]
    for key in ("framework", "framework_version", "language", "language_version", "device",
                "profile", "data", "started_at", "finished_at", "precision"):
        assert record[key] not in (None, ""), key
    assert record["profile"] == "quick" and record["data"] == "synthetic"
    # the quick profile's three one-batch passes, each a sample of the spread
    assert [e["event"] for e in events if e["event"] == "pass"] == ["pass"] * 3
    assert len(record["timings"]["pass_images_per_s"]) == 3
    assert Path(record["log"]).exists()
    # where the wall time went: every part measured, the parts within the whole
    wall = record["wall"]
    parts = ("start_s", "import_s", "data_s", "prepare_s", "build_s", "warmup_s", "timed_s",
             "eval_s", "calibration_s", "other_s")
    assert all(wall[k] >= 0 for k in parts) and wall["start_s"] > 0
    assert sum(wall[k] for k in parts) == pytest.approx(wall["total_s"], rel=1e-6)
    assert wall["total_s"] == pytest.approx(record["wall_s"], abs=1e-3)
    load = record["load"]  # how busy the machine was around the run
    assert load["loadavg_before"] is not None and load["other_cores"] >= 0
    assert isinstance(load["busy"], bool)


@pytest.mark.slow
def test_failures_do_not_stop_the_other_runs(tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    code = cli.main(["inference", "--impl", "fake-ok,fake-raises,fake-exits,fake-ok2",
                     "--profile", "quick", "--repeat", "1", "--results", str(results)])
    assert code == 1  # some runs failed
    statuses = {r["impl"]: r["status"] for r in read_results(results)}
    assert statuses == {"fake-ok": "ok", "fake-raises": "failed", "fake-exits": "crashed",
                        "fake-ok2": "ok"}
    out = capsys.readouterr().out
    assert "broken on purpose" in out and "fake-ok2" in out


@pytest.mark.slow
def test_ctrl_c_keeps_finished_results_and_prints_the_table(tmp_path):
    results = tmp_path / "r.jsonl"
    env = {**os.environ, "HARNESS_PLUGINS": "tests.fake_registry", "COLUMNS": "200",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "inference", "--impl", "fake-ok,fake-hangs,fake-ok2",
         "--profile", "quick", "--repeat", "1", "--results", str(results)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logs = tmp_path / "logs"
    deadline = time.monotonic() + 300  # generous: CI machines can be loaded
    while time.monotonic() < deadline and not list(logs.glob("*fake-hangs*.log")):
        time.sleep(0.2)
    time.sleep(2)  # the hanging run has started
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert [r["impl"] for r in read_results(results)] == ["fake-ok"]
    assert "Interrupted" in out and "fake-ok2" in out and "interrupted" in out


def test_the_first_ctrl_c_is_a_request_and_the_second_interrupts():
    """No KeyboardInterrupt at an arbitrary point (where rich may hold a lock): the first Ctrl-C
    sets the event; a second one, for an impatient user, interrupts at once."""
    with stop_signals_as_request() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # the handler runs in the main thread at the next bytecode boundary
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_stop_request_kills_the_child_and_records_nothing(tmp_path):
    with stop_signals_as_request() as stop:
        stop.set()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_one(registry.by_name("fake-hangs"), "inference", 0, settings(tmp_path), stop=stop)
    assert time.monotonic() - started < 30
    assert not (tmp_path / "results.jsonl").exists()


def test_unknown_implementation_is_refused_with_the_known_names(capsys):
    assert cli.main(["cnn", "--impl", "nope", "--profile", "quick"]) == 2
    assert "known:" in capsys.readouterr().out


@pytest.mark.slow
def test_results_file_is_append_only(tmp_path):
    s = settings(tmp_path)
    run_one(registry.by_name("fake-ok"), "inference", 0, s)
    first = (tmp_path / "results.jsonl").read_text()
    run_one(registry.by_name("fake-raises"), "inference", 0, s)
    text = (tmp_path / "results.jsonl").read_text()
    assert text.startswith(first) and len(text.splitlines()) == 2
    assert all(json.loads(line)["schema"] == SCHEMA for line in text.splitlines())


def test_every_record_carries_memory_and_utilisation_or_why_not(tmp_path):
    """The fake row has no matmul calibration: its record says so instead of a peak, and still
    carries the achieved rate's inputs and the process's memory high-water mark."""
    record = run_one(registry.by_name("fake-ok"), "inference", 0, settings(tmp_path))
    assert record["status"] == "ok", record["reason"]
    assert record["memory"]["host_peak_bytes"] > 10 * 2**20  # at least the interpreter
    assert record["memory"]["device_peak_bytes"] is None
    assert record["memory"]["device_reason"].startswith("ran on the CPU")
    utilisation = record["utilisation"]
    assert utilisation["flops_per_sample"] == benchmarks.get("inference").flops.forward
    assert utilisation["flops_per_s"] > 0
    assert utilisation["calibration"]["reason"].startswith("not measured: ")
    assert utilisation["pct_of_measured_peak"] is None
