"""Faults of the results file: a fragment left by a crash or a full disk, runs appending at once,
runs that overlapped in time, a results location that cannot be written before or during a run.
Each time: a clear message, the exit code, and no finished record lost."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from harness import commands as cli
from harness import registry
from harness.report.groups import load_results
from harness.run import results as results_file
from harness.run.results import append_result, read_results, scan_results, writable_problem
from tests import fake_registry
from tests.report_fixtures import record

REPO = Path(__file__).resolve().parent.parent
FAKES = "tests.fake_registry"


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + fake_registry.ROWS)
    monkeypatch.setenv("HARNESS_PLUGINS", FAKES)  # the children know the fake rows too


def run_cli(*argv: str) -> int:
    """One run of each row asked for (`--repeat 1`): these tests are about the results file."""
    return cli.main([*argv, "--profile", "quick", "--repeat", "1"])


def stamp(minutes: float) -> str:
    return (datetime(2026, 11, 26, 18, tzinfo=timezone.utc)
            + timedelta(minutes=minutes)).isoformat(timespec="seconds")


def timed(impl: str, start: float, finish: float, host: str = "vm") -> dict:
    """A stored CNN record that ran from `start` to `finish` minutes after 18:00 on `host`."""
    return record("cnn", impl, 20.0, 0.7, started_at=stamp(start), finished_at=stamp(finish),
                  env={"python": "3.11.7", "cpu": "AMD EPYC", "threads": 2, "host": host})


# ---------------------------------------------------------------- fragments


def test_a_record_after_a_fragment_starts_its_own_line_and_report_keeps_it(tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    earlier = json.dumps(record("inference", "earlier", 0.5))
    fragment = '{"schema": 2, "benchmark": "inference", "impl": "killed-mid-wr'  # no newline
    results.write_text(earlier + "\n" + fragment)

    assert run_cli("inference", "--impl", "fake-ok", "--results", str(results)) == 0
    lines = results.read_text().splitlines()
    assert lines[:2] == [earlier, fragment]  # the fragment stays a damaged line of its own
    assert [r["impl"] for r in read_results(results)] == ["earlier", "fake-ok"]

    capsys.readouterr()
    assert cli.main(["report", str(results)]) == 0
    out, err = capsys.readouterr()
    assert f"{results}:2: not valid JSON" in err
    assert len([line for line in err.splitlines() if "not valid JSON" in line]) == 1
    assert "fake-ok" in out and "earlier" in out


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.97])
def test_report_keeps_a_whole_record_glued_to_a_fragment(tmp_path, capsys, cut):
    """What earlier versions wrote after a crash mid-write: the next record on the fragment's
    line. Report names the line and keeps the record; only the fragment is lost."""
    first, glued, last = (json.dumps(timed(impl, i * 10, i * 10 + 5))
                          for i, impl in enumerate(["pytorch", "jax-flax", "tensorflow"]))
    fragment = first[:int(len(first) * cut)]
    path = tmp_path / "old.jsonl"
    path.write_text(f"{first}\n{fragment}{glued}\n{last}\n")

    loaded = load_results([path])
    assert [r["impl"] for r in loaded.records] == ["pytorch", "jax-flax", "tensorflow"]
    assert loaded.warnings == [f"{path}:2: a damaged fragment before a whole record: the "
                               f"fragment skipped, the record kept"]
    assert cli.main(["report", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "jax-flax" in out and f"{path}:2:" in err


def test_a_fragment_that_ends_in_a_nested_object_is_one_damaged_line(tmp_path):
    """A record cut just after its `env` object: that object is the fragment's own tail, not a
    record glued to it, so the line is damaged, said once."""
    whole = json.dumps(timed("pytorch", 0, 5))
    fragment = whole[:whole.index(', "started_at"')]  # ends with env's closing brace
    path = tmp_path / "results.jsonl"
    path.write_text(f"{fragment}\n{json.dumps(timed('jax-flax', 10, 15))}\n")
    loaded = load_results([path])
    assert [r["impl"] for r in loaded.records] == ["jax-flax"]
    assert len(loaded.warnings) == 1
    assert loaded.warnings[0].startswith(f"{path}:1: not valid JSON")


def test_a_fragment_glued_to_an_unusable_record_is_named_once(tmp_path):
    path = tmp_path / "results.jsonl"
    glued = json.dumps({**timed("pytorch", 0, 5), "benchmark": "nonesuch"})
    path.write_text('{"schema": 3, "benchmark": "cnn", "im' + glued + "\n")
    loaded = load_results([path])
    assert loaded.records == []
    assert loaded.warnings == [f"{path}:1: a damaged fragment, then a record that cannot be "
                               f"used (unknown benchmark 'nonesuch'): the line skipped"]


# ---------------------------------------------------------------- records of the wrong shape


@pytest.mark.parametrize("odd, says", [
    ({"benchmark": ["cnn"]}, "benchmark is a list, not a name"),
    ({"impl": ["pytorch", "jax-flax"]}, "impl is a list, not a name"),
    ({"impl": {"name": "pytorch"}}, "impl is an object, not a name"),
    ({"env": "vm"}, "env is a string, not an object"),
    ({"load": [0.5]}, "load is a list, not an object"),
    ({"load": {"busy": True, "other_cores": "many"}},
     "load.other_cores is a string, not a number"),
])
def test_report_skips_and_names_a_record_of_the_wrong_shape(tmp_path, capsys, odd, says):
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        timed("pytorch", 0, 5), {**timed("odd-one", 10, 15), **odd}, timed("jax-flax", 20, 25),
    ]) + "\n")
    assert cli.main(["report", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {path}:2: {says}, skipped" in err
    assert "Traceback" not in err
    assert "pytorch" in out and "jax-flax" in out and "odd-one" not in out


@pytest.mark.slow
@pytest.mark.parametrize("odd", [{"env": "vm"}, {"run_id": ["a", "list"]}])
def test_a_run_goes_on_past_an_odd_record_in_its_results_file(tmp_path, capsys, odd):
    """The overlap check at the end of a run reads the whole file: an odd record there (two
    overlapping runs, one of them odd) is left out of it, not a crash after the run."""
    results = tmp_path / "results.jsonl"
    append_result(results, {**timed("pytorch", 0, 10), **odd})
    append_result(results, timed("jax-flax", 5, 15))
    assert run_cli("inference", "--impl", "fake-ok", "--results", str(results)) == 0
    assert "fake-ok" in capsys.readouterr().out
    assert [r["impl"] for r in read_results(results)] == ["pytorch", "jax-flax", "fake-ok"]


# ---------------------------------------------------------------- reading with a bound


def test_a_line_too_long_for_a_record_is_skipped_without_reading_it_whole(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(results_file, "MAX_LINE_BYTES", 4096)
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(timed("pytorch", 0, 5)) + "\n" + "x" * 50_000 + "\n"
                    + json.dumps(timed("jax-flax", 10, 15)) + "\n")
    found, damaged = scan_results(path)
    assert [(n, r["impl"]) for n, r in found] == [(1, "pytorch"), (3, "jax-flax")]
    assert damaged == [(2, "a line longer than 4,096 bytes, not a record: skipped")]


# ---------------------------------------------------------------- concurrent runs


def _append(path: Path, writer: int, count: int, size: int) -> None:
    for i in range(count):
        append_result(path, {"writer": writer, "i": i, "pad": "x" * size})


def test_a_run_appends_and_leaves_the_earlier_bytes_and_the_file_itself_alone(tmp_path):
    """Breakage caught: a runner that reads the records and writes the whole file anew (in place
    or through a new file renamed over it) on every run: a stored line in a format of its own
    and a damaged line change or vanish, or the inode changes (a reader's handle goes stale)."""
    results = tmp_path / "results.jsonl"
    earlier = (json.dumps(record("cnn", "earlier", 20.0, 0.7), indent=None, sort_keys=True,
                          separators=(" ,", " :")) + "\n" + '{"damaged": \n')
    results.write_text(earlier)
    inode = results.stat().st_ino
    assert run_cli("inference", "--impl", "fake-ok", "--results", str(results)) == 0
    data = results.read_bytes()
    assert data.startswith(earlier.encode())  # byte for byte
    assert results.stat().st_ino == inode
    new = data[len(earlier):].decode().splitlines()
    assert len(new) == 1 and json.loads(new[0])["impl"] == "fake-ok"


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "results.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append, args=(path, w, 10, 200_000)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0
    records = [json.loads(line) for line in path.read_text().splitlines()]  # each line whole
    assert len(records) == 40
    for w in range(4):
        assert [r["i"] for r in records if r["writer"] == w] == list(range(10))


@pytest.mark.slow
def test_an_append_waits_while_another_run_holds_the_file(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"first": 1}\n')
    with open(path, "a") as other_run:
        fcntl.flock(other_run, fcntl.LOCK_EX)
        appender = subprocess.Popen(  # a process of its own, without our locked descriptor
            [sys.executable, "-c", "import sys; from harness.run.results import append_result; "
                                   "append_result(sys.argv[1], {'second': 2})", str(path)],
            cwd=REPO)
        with pytest.raises(subprocess.TimeoutExpired):
            appender.wait(timeout=3)  # waits for the lock
        assert path.read_text() == '{"first": 1}\n'
    assert appender.wait(timeout=60) == 0
    assert len(path.read_text().splitlines()) == 2


# ---------------------------------------------------------------- runs that overlapped in time


def test_report_warns_when_runs_overlapped_in_time(tmp_path, capsys):
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        timed("pytorch", 0, 10), timed("jax-flax", 5, 15),  # two harnesses at once
        timed("tensorflow", 20, 30),  # after both
        timed("chainer", 0, 10, host="another-machine"),  # same time, elsewhere: no harm
    ]) + "\n")
    assert cli.main(["report", str(path)]) == 0
    _, err = capsys.readouterr()
    warning = [line for line in err.splitlines() if "overlapped" in line]
    assert len(warning) == 1
    assert "2 runs overlapped in time" in warning[0] and "contaminated" in warning[0]
    assert "cnn pytorch" in warning[0] and "cnn jax-flax" in warning[0]
    assert "tensorflow" not in warning[0] and "chainer" not in warning[0]

    sequential = tmp_path / "sequential.jsonl"
    sequential.write_text(json.dumps(timed("pytorch", 0, 10)) + "\n"
                          + json.dumps(timed("jax-flax", 10, 20)) + "\n")
    assert cli.main(["report", str(sequential)]) == 0
    assert "overlapped" not in capsys.readouterr().err


def test_the_run_table_warns_when_another_harness_ran_at_the_same_time(tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    now = datetime.now(timezone.utc)
    other = record("inference", "other-harness", 0.5,
                   started_at=(now - timedelta(seconds=5)).isoformat(timespec="seconds"),
                   finished_at=(now + timedelta(hours=1)).isoformat(timespec="seconds"),
                   env={"host": platform.node()})
    append_result(results, other)
    assert run_cli("inference", "--impl", "fake-ok", "--results", str(results)) == 0
    out = capsys.readouterr().out
    assert "2 runs overlapped in time" in out and "other-harness" in out
    assert [r["impl"] for r in read_results(results)] == ["other-harness", "fake-ok"]


# ---------------------------------------------------------------- an unwritable location


def _refused(tmp_path: Path, capsys, results: Path, *argv: str) -> str:
    before = sorted(tmp_path.rglob("*"))
    assert cli.main([*argv, "--impl", "fake-ok", "--results", str(results)]) == 2
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "cannot write results" in line]
    assert len(lines) == 1 and str(results) in lines[0] and "--results" in lines[0]
    assert "Traceback" not in out
    assert sorted(tmp_path.rglob("*")) == before  # nothing ran: no log, no record
    return lines[0]


@pytest.mark.parametrize("argv", [("inference", "--profile", "quick"),
                                  ("verify", "--benchmark", "inference")])
def test_results_under_a_file_are_refused_before_anything_runs(tmp_path, capsys, argv):
    (tmp_path / "a-file").write_text("not a folder")
    _refused(tmp_path, capsys, tmp_path / "a-file" / "results.jsonl", *argv)


def test_results_that_name_a_folder_are_refused(tmp_path, capsys):
    (tmp_path / "results.jsonl").mkdir()
    assert "folder" in _refused(tmp_path, capsys, tmp_path / "results.jsonl", "inference",
                                "--profile", "quick")


def test_a_nearly_full_disk_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: usage._replace(free=3 * 2**20))
    line = _refused(tmp_path, capsys, tmp_path / "results.jsonl", "inference", "--profile",
                    "quick")
    assert "3.0 MiB free" in line and "free some space" in line


DEVICES = [d for d in ("/dev/null", "/dev/full", "/dev/zero") if Path(d).exists()]


@pytest.mark.parametrize("device", DEVICES)
def test_results_that_lead_to_a_device_are_refused_before_anything_runs(tmp_path, capsys,
                                                                        device):
    """/dev/null swallows every record; /dev/full and /dev/zero never end when read back (the
    overlap check read one until the kernel killed the harness)."""
    link = tmp_path / "results.jsonl"
    link.symlink_to(device)
    line = _refused(tmp_path, capsys, link, "inference", "--profile", "quick")
    assert f"is a character device (a link to {device}), not a regular file" in line


@pytest.mark.parametrize("device", DEVICES)
def test_a_device_is_never_read_or_written_as_results(tmp_path, device):
    link = tmp_path / "results.jsonl"
    link.symlink_to(device)
    assert "not a regular file" in writable_problem(link)
    with pytest.raises(OSError, match="not a regular file"):
        scan_results(link)  # at once: the device is never read
    with pytest.raises(OSError, match="not a regular file"):
        append_result(link, record("inference", "lost", 0.5))  # never swallowed


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    pipe = tmp_path / "results.jsonl"
    os.mkfifo(pipe)
    assert "is a named pipe, not a regular file" in writable_problem(pipe)
    with pytest.raises(OSError, match="is a named pipe, not a regular file"):
        scan_results(pipe)


def test_report_of_a_device_says_what_it_is(tmp_path, capsys):
    if not DEVICES:
        pytest.skip("no /dev/null (not Linux)")
    assert cli.main(["report", DEVICES[0]]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{DEVICES[0]} is a character device, not a regular file: name a results file" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_a_read_only_results_file_is_refused(tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(record("inference", "earlier", 0.5)) + "\n")
    results.chmod(0o444)
    _refused(tmp_path, capsys, results, "inference", "--profile", "quick")


@pytest.mark.slow
def test_a_record_that_cannot_be_appended_is_printed_and_the_plan_goes_on(tmp_path):
    """The results file turns unwritable mid-plan (replaced by a folder while a run hangs, as a
    full disk or a read-only remount would): the later records are printed as JSON, the next
    run still runs, the table still prints, the exit code says something was not saved."""
    results = tmp_path / "results.jsonl"
    env = {**os.environ, "HARNESS_PLUGINS": FAKES, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "inference", "--impl", "fake-ok,fake-hangs,fake-ok2",
         "--profile", "quick", "--repeat", "1", "--timeout", "8", "--results", str(results)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not list(tmp_path.glob("logs/*fake-hangs*.log")):
            time.sleep(0.1)
        results.rename(tmp_path / "kept.jsonl")
        results.mkdir()  # appending to it now fails
        out, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    assert [r["impl"] for r in read_results(tmp_path / "kept.jsonl")] == ["fake-ok"]
    printed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [(r["impl"], r["status"]) for r in printed] == [("fake-hangs", "timeout"),
                                                          ("fake-ok2", "ok")]
    assert out.count(f"could not append to {results}") == 2
    assert "2 record(s) could not be appended" in out
    assert "1/1" in out and "fake-ok2" in out  # the table
