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

from harness.run.child import KILL_GRACE_S, OWN_DEADLINE_MARGIN_S
from harness.run.job import Job
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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_stop_ends_the_childs_grandchildren_too(tmp_path, signum):
    """Breakage caught: a stop that never kills the child (or kills the child's pid alone) left
    the run's processes behind while the parent exited 130 with the right table."""
    results = tmp_path / "r.jsonl"
    proc = start(tmp_path, "inference", "--impl", "fake-ok,fake-hangs-family,fake-ok2",
                 "--profile", "quick", "--repeat", "1", "--results", str(results))
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


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_second_stop_signal_hastens_the_kill_and_never_skips_it(tmp_path, signum):
    """Breakage caught: a second signal during the grace after SIGTERM (a child deaf to it)
    ended the parent at once, leaving the child and its grandchild running, adopted by init."""
    results = tmp_path / "r.jsonl"
    proc = start(tmp_path, "inference", "--impl", "fake-ok,fake-hangs-deaf", "--profile",
                 "quick", "--results", str(results))
    child = hanging_child(proc.pid, "harness.run.worker")
    wait_for_grandchild(child)
    try:
        proc.send_signal(signum)
        time.sleep(1)  # the parent is in the grace, waiting for a child that ignored SIGTERM
        second = time.monotonic()
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=120)
        took = time.monotonic() - second
    finally:
        proc.kill()
        assert_group_ended(child)
    assert proc.returncode == 128 + signum, out
    assert took < KILL_GRACE_S, f"the second signal did not cut the grace short ({took:.1f} s)"
    assert [r["impl"] for r in read_results(results)] == ["fake-ok"]


@pytest.mark.slow
def test_a_timeout_ends_the_childs_whole_group(tmp_path):
    """Breakage caught: a timeout that kills the child's pid alone (its grandchild lives on)."""
    results = tmp_path / "r.jsonl"
    proc = start(tmp_path, "inference", "--impl", "fake-hangs-family", "--timeout", "10",
                 "--profile", "quick", "--repeat", "1", "--results", str(results))
    child = hanging_child(proc.pid, "harness.run.worker")
    wait_for_grandchild(child)
    try:
        out, _ = proc.communicate(timeout=180)
    finally:
        proc.kill()
        assert_group_ended(child)
    assert proc.returncode == 1, out
    assert [r["status"] for r in read_results(results)] == ["timeout"]


def wait_until_ended(pgid: int, deadline_s: float) -> float:
    """Seconds until no process of group `pgid` runs; AssertionError (after killing what is
    left) when some still run after `deadline_s`."""
    start = time.monotonic()
    while live_members(pgid) and time.monotonic() - start < deadline_s:
        time.sleep(0.2)
    assert_group_ended(pgid)
    return time.monotonic() - start


@pytest.mark.slow
def test_the_child_group_ends_when_the_parent_is_killed(tmp_path):
    """Breakage caught: after `kill -9` of the harness its worker (and the worker's children)
    ran on, unrecorded, to the end or forever."""
    proc = start(tmp_path, "inference", "--impl", "fake-hangs-family", "--profile", "quick", "--repeat", "1",
                 "--results", str(tmp_path / "r.jsonl"))
    child = hanging_child(proc.pid, "harness.run.worker")
    wait_for_grandchild(child)
    proc.kill()
    proc.communicate(timeout=60)
    wait_until_ended(child, deadline_s=10)


PARENT = """
import sys
from pathlib import Path
from harness.run.child import child_environment, run_module
python, job, log = sys.argv[1:]
run_module(python, "harness.run.worker", [job, job + ".result"], env=child_environment(),
           timeout=600, log_path=Path(log))
"""


def test_the_child_group_ends_with_the_parent_behind_a_wrapper_script(tmp_path):
    """An environment's interpreter may be a script that starts Python without `exec`: the
    worker's parent is then the shell, which outlives the harness; the worker must still end
    with the harness, and the shell with it."""
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f'#!/bin/sh\n{sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    job = tmp_path / "fake-hangs.json"
    Job(benchmark="inference", impl="fake-hangs-family",
        entry_point="tests.fake_process_group:HangsWithGrandchild", device="cpu",
        data="synthetic").save(job)
    env = {**os.environ, "HARNESS_PLUGINS": "tests.fake_process_group", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", PARENT, str(wrapper), str(job),
                             str(tmp_path / "run.log")], cwd=REPO, env=env)
    shell = hanging_child(proc.pid, "harness.run.worker")  # it leads the run's group
    deadline = time.monotonic() + 120
    while len(live_members(shell)) < 3:  # the shell, the worker and the worker's child
        assert time.monotonic() < deadline, "the worker started no grandchild"
        time.sleep(0.1)
    proc.kill()
    proc.wait(timeout=60)
    wait_until_ended(shell, deadline_s=10)


@pytest.mark.slow
def test_a_hung_child_of_a_stopped_parent_ends_at_its_own_deadline(tmp_path):
    """Breakage caught: the timeout lived only in the parent, so a parent stopped (SIGSTOP, a
    suspended laptop, a debugger) let a hung worker run past it forever. Resumed, the parent
    records the run as timed out."""
    results = tmp_path / "r.jsonl"
    proc = start(tmp_path, "inference", "--impl", "fake-hangs-family", "--timeout", "5",
                 "--profile", "quick", "--repeat", "1", "--results", str(results))
    try:
        child = hanging_child(proc.pid, "harness.run.worker")
        wait_for_grandchild(child)
        proc.send_signal(signal.SIGSTOP)
        wait_until_ended(child, deadline_s=5 + OWN_DEADLINE_MARGIN_S + 30)
        proc.send_signal(signal.SIGCONT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, out
    [record] = read_results(results)
    assert record["wall_s"] >= 5 + OWN_DEADLINE_MARGIN_S  # never before the parent's timeout
    assert record["status"] == "timeout", record["reason"]
    assert "passed its own deadline" in Path(record["log"]).read_text()


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


@pytest.mark.slow
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


@pytest.mark.slow
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
                                       "fake-ok,fake-hangs,fake-ok2", "--profile", "quick", "--repeat", "1",
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
