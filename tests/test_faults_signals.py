"""Ctrl-C, SIGTERM and SIGHUP to the parent, and a run's timeout: the child's whole process group
ends (its grandchildren too), what finished is kept, the table of it prints, and the exit code is
128 + the signal's number."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.run.results import read_results
from harness.run.runner import STOP_SIGNALS, stop_signals_as_request

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="finds the child process through /proc (Linux)")


def start(tmp_path: Path, *argv: str) -> subprocess.Popen:
    env = {**os.environ, "HARNESS_PLUGINS": "tests.fake_registry,tests.fake_process_group",
           "COLUMNS": "200",
           "PYTHONPATH": str(REPO), "HARNESS_DATA_DIR": str(tmp_path / "data")}
    return subprocess.Popen([sys.executable, "-m", "harness", *argv], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def hanging_child(parent: int, module: str, deadline_s: float = 300) -> int:
    """The pid of the parent's child running `module` (the fake row that hangs), once it runs."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent and module.encode() in cmdline:
                job = next((a for a in cmdline if b"fake-hangs" in a), None)
                if job is not None:
                    return int(entry.name)
        time.sleep(0.2)
    raise AssertionError(f"no {module} child of {parent} appeared")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def live_members(pgid: int) -> list[int]:
    """The processes of group `pgid` that still run (a zombie waiting for its reaper is over)."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def wait_for_grandchild(pgid: int, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while len(live_members(pgid)) < 2:
        assert time.monotonic() < deadline, f"the child {pgid} started no grandchild"
        time.sleep(0.1)


def assert_group_ended(pgid: int) -> None:
    left = live_members(pgid)
    if left:  # do not leave an hour-long orphan behind a failed test
        os.killpg(pgid, signal.SIGKILL)
        raise AssertionError(f"processes {left} of the child's group {pgid} outlived the run")


def stop_and_collect(proc: subprocess.Popen, child: int, signum: int) -> str:
    time.sleep(2)  # the hanging run is under way
    try:
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
        if group_alive(child):  # do not leave an hour-long orphan behind a failed test
            os.killpg(child, signal.SIGKILL)
            raise AssertionError(f"the child's process group {child} outlived the parent")
    return out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_ends_the_child_group_keeps_results_and_prints_the_table(tmp_path,
                                                                               signum):
    results = tmp_path / "r.jsonl"
    proc = start(tmp_path, "inference", "--impl", "fake-ok,fake-hangs,fake-ok2", "--profile",
                 "quick", "--results", str(results))
    child = hanging_child(proc.pid, "harness.run.worker")
    assert os.getpgid(child) == child  # the child leads its own group
    out = stop_and_collect(proc, child, signum)
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, out
    assert not group_alive(child)
    assert [r["impl"] for r in read_results(results)] == ["fake-ok"]
    assert f"Interrupted by {name}" in out
    table = out[:out.index(f"Interrupted by {name}")]
    assert "fake-ok" in table and "interrupted" in table and "fake-ok2" in table
    assert "Traceback" not in out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_stop_ends_the_childs_grandchildren_too(tmp_path, signum):
    """Breakage caught: a stop that never kills the child (or kills the child's pid alone) left
    the run's processes behind while the parent exited 130 with the right table."""
    results = tmp_path / "r.jsonl"
    proc = start(tmp_path, "inference", "--impl", "fake-ok,fake-hangs-family,fake-ok2",
                 "--profile", "quick", "--results", str(results))
    child = hanging_child(proc.pid, "harness.run.worker")
    wait_for_grandchild(child)
    try:
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
        assert_group_ended(child)
    assert proc.returncode == 128 + signum, out
    assert [r["impl"] for r in read_results(results)] == ["fake-ok"]
    cause = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    assert f"Interrupted by {cause}" in out


def test_a_timeout_ends_the_childs_whole_group(tmp_path):
    """Breakage caught: a timeout that kills the child's pid alone (its grandchild lives on)."""
    results = tmp_path / "r.jsonl"
    proc = start(tmp_path, "inference", "--impl", "fake-hangs-family", "--timeout", "10",
                 "--profile", "quick", "--results", str(results))
    child = hanging_child(proc.pid, "harness.run.worker")
    wait_for_grandchild(child)
    try:
        out, _ = proc.communicate(timeout=180)
    finally:
        proc.kill()
        assert_group_ended(child)
    assert proc.returncode == 1, out
    assert [r["status"] for r in read_results(results)] == ["timeout"]


def test_leaving_the_stop_block_restores_each_signals_handler():
    """Breakage caught: handlers never restored. The old check compared SIGINT's handler with
    Python's default, which the second Ctrl-C installs anyway, so it passed either way."""
    def mine(signum, frame):
        raise AssertionError("not expected to run")

    saved = {sig: signal.signal(sig, mine) for sig in STOP_SIGNALS}
    try:
        with stop_signals_as_request() as stop:
            assert all(signal.getsignal(sig) is not mine for sig in STOP_SIGNALS)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)  # the handler runs at the next bytecode boundary
            assert stop.is_set() and stop.cause == "SIGTERM"
        assert all(signal.getsignal(sig) is mine for sig in STOP_SIGNALS)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_verify_ends_its_child_group_on_sigterm_and_keeps_what_finished(tmp_path):
    results = tmp_path / "v.jsonl"
    proc = start(tmp_path, "verify", "--impl", "fake-ok,fake-hangs", "--benchmark", "inference",
                 "--image-size", "32", "--device", "cpu", "--results", str(results))
    child = hanging_child(proc.pid, "harness.verify.worker")
    out = stop_and_collect(proc, child, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert not group_alive(child)
    assert [r["impl"] for r in read_results(results)] == ["fake-ok"]
    assert "Interrupted by SIGTERM" in out and "Traceback" not in out


def test_a_closed_terminal_ends_the_run_as_sighup_does(tmp_path):
    """The terminal or SSH session closes: the parent gets SIGHUP and can no longer write to
    the terminal. It still ends the child's group, keeps what finished and exits 129 (before:
    it died of the signal and left the child running; then it exited 1 on the unwritable
    terminal)."""
    import pty
    import select
    import threading

    results = tmp_path / "r.jsonl"
    env = {**os.environ, "HARNESS_PLUGINS": "tests.fake_registry", "PYTHONPATH": str(REPO)}
    pid, terminal = pty.fork()
    if pid == 0:  # the harness, with the pseudo-terminal as its controlling terminal
        try:
            os.chdir(REPO)
            os.execve(sys.executable, [sys.executable, "-m", "harness", "inference", "--impl",
                                       "fake-ok,fake-hangs,fake-ok2", "--profile", "quick",
                                       "--results", str(results)], env)
        finally:
            os._exit(127)
    reading = threading.Event()
    reading.set()

    def read_terminal() -> None:  # so that the harness never blocks on a full terminal
        while reading.is_set():
            if select.select([terminal], [], [], 0.1)[0]:
                try:
                    os.read(terminal, 65536)
                except OSError:
                    return

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        child = hanging_child(pid, "harness.run.worker")
        time.sleep(2)  # the hanging run is under way
        reading.clear()
        reader.join()
        os.close(terminal)  # the terminal goes away
        deadline = time.monotonic() + 120
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    assert done[0] == pid, "the harness did not exit"
    assert os.waitstatus_to_exitcode(done[1]) == 128 + signal.SIGHUP
    assert_group_ended(child)
    assert [r["impl"] for r in read_results(results)] == ["fake-ok"]
