"""The one way the harness starts a child process: `python -m MODULE ARGS` in its own process
group, its output in a log file, an optional pipe of JSON progress events, a timeout, and a kill
of the whole group (SIGTERM, then SIGKILL after a grace period) when it runs over, when the
parent is asked to stop (Ctrl-C, SIGTERM, SIGHUP), or when anything goes wrong in the parent.

The child ends with its parent: it inherits the read end of a pipe whose write end only the
parent holds, so the end of the parent (even by SIGKILL) is end-of-file there, and it keeps the
run's timeout itself (`end_with_parent`), for a parent that is stopped or hung cannot enforce it.

Both the benchmark runner (`harness.run.runner`, child `harness.run.worker`) and `verify`
(`harness.verify.runner`, child `harness.verify.worker`) start their children here, so a timed
run and a verification see the same environment and are killed the same way.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from harness.run import envs
from harness.project import REPO_ROOT

Event = dict[str, Any]
KILL_GRACE_S = 3.0
# For the child: the lifeline's file descriptor, and the seconds after which it ends itself.
PARENT_FD_VARIABLE = "HARNESS_PARENT_FD"
DEADLINE_VARIABLE = "HARNESS_DEADLINE_S"
# The child's own deadline lies this far past the parent's timeout (and its kill's grace), so
# that a live parent always ends an overlong run first and records it as timed out.
OWN_DEADLINE_MARGIN_S = 3 * KILL_GRACE_S


@dataclass
class ChildExit:
    returncode: int | None
    timed_out: bool
    wall_s: float
    log: Path


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, the row's own variables, unbuffered output, and the project
    on PYTHONPATH (an isolated environment's interpreter finds the harness that way too)."""
    return {**os.environ, **(extra or {}), "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                         os.environ.get("PYTHONPATH")]))}


def interpreter_for(environment: str | None) -> str:
    """The Python that runs a row's children: its isolated environment's (harness.run.envs), or
    this one."""
    return str(envs.interpreter(environment)) if environment else sys.executable


def read_json(path: Path) -> dict[str, Any]:
    """What a child wrote to a JSON file; empty when it wrote nothing readable (it died first)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def run_module(python: str, module: str, args: list[str], *, env: dict[str, str],
               timeout: float, log_path: Path,
               on_event: Callable[[Event], None] | None = None,
               stop: threading.Event | None = None) -> ChildExit:
    """Run `python -m module args` to completion or until `timeout` seconds have passed (then
    it is killed and `timed_out` is set). With `on_event`, the child gets `--events-fd N` and
    every JSON line it writes there is handed to `on_event` as it arrives. When `stop` is set
    (the first Ctrl-C, SIGTERM or SIGHUP, see `harness.run.runner.stop_signals_as_request`) the
    child's group is killed and KeyboardInterrupt raised. Never raises for anything the child
    does."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [python, "-m", module, *args]
    # Only this process holds the write end (pipes are not inherited unless passed): when it
    # ends, however it ends, the child reads end-of-file.
    lifeline, lifeline_held = os.pipe()
    env = {**env, PARENT_FD_VARIABLE: str(lifeline),
           DEADLINE_VARIABLE: repr(timeout + OWN_DEADLINE_MARGIN_S)}
    pass_fds: tuple[int, ...] = (lifeline,)
    read_end = write_end = None
    if on_event is not None:
        read_end, write_end = os.pipe()
        argv += ["--events-fd", str(write_end)]
        pass_fds += (write_end,)
    start = time.perf_counter()
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
                                    pass_fds=pass_fds, start_new_session=True)
    except BaseException:
        _close(lifeline_held, read_end)
        raise
    finally:
        _close(lifeline, write_end)  # the child's ends: it holds its own copies
    try:
        return _follow(proc, start, timeout, read_end, on_event, stop, log_path)
    finally:
        os.close(lifeline_held)  # the child is gone (or unkillable): its lifeline may go


def _follow(proc: subprocess.Popen, start: float, timeout: float, read_end: int | None,
            on_event: Callable[[Event], None] | None, stop: threading.Event | None,
            log_path: Path) -> ChildExit:
    """Wait for the child, handing on its events; kill its group on timeout, stop or error."""
    events: queue.Queue[Event] = queue.Queue()
    reader = None
    if read_end is not None:
        reader = threading.Thread(target=_read_events, args=(read_end, events), daemon=True)
        reader.start()
    timed_out = stopped = False
    try:
        while proc.poll() is None:
            if stop is not None and stop.is_set():
                stopped = True
                break
            if on_event is not None:
                _drain(events, on_event, wait=0.1)
            else:
                time.sleep(0.05)
            if time.perf_counter() - start > timeout:
                timed_out = True
                break
    finally:
        if proc.poll() is None:  # timeout, stop, or any error in the parent: the child goes too
            kill_group(proc)
    if stopped:
        raise KeyboardInterrupt
    # A child that ended itself at its own deadline (end_with_parent) while this process was
    # stopped ran over its time as surely as one this process killed.
    timed_out = timed_out or (proc.returncode == -signal.SIGKILL
                              and time.perf_counter() - start > timeout)
    if reader is not None:
        reader.join(timeout=5)
        _drain(events, on_event, wait=0)
    return ChildExit(proc.returncode, timed_out, time.perf_counter() - start, log_path)


def kill_group(proc: subprocess.Popen, grace: float = KILL_GRACE_S) -> None:
    """Terminate the child's whole process group, then kill what lingers of it - the child, or
    a process it started that outlived it; returns once the child is gone (or was never ours
    to signal). A second stop signal during the grace (KeyboardInterrupt) cuts it short: the
    group is killed at once and the interrupt raised afterwards, so an impatient user never
    leaves the child running."""
    interrupted: KeyboardInterrupt | None = None
    try:
        _signal_group(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    except KeyboardInterrupt as error:
        interrupted = error
    while True:  # a further signal here must not skip the kill either
        try:
            _signal_group(proc.pid, signal.SIGKILL)  # a no-op when the whole group has gone
            break
        except KeyboardInterrupt as error:
            interrupted = error
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass  # unkillable (stuck in the kernel): nothing more a parent can do
    except KeyboardInterrupt as error:
        interrupted = error  # the kill is sent: the kernel ends the group without us
    if interrupted is not None:
        raise interrupted


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def end_with_parent() -> None:
    """Called first thing in a child `run_module` started: from now on, this process's whole
    group (grandchildren too) ends when the parent does (the lifeline pipe reads end-of-file,
    whatever killed the parent - a `kill -9` included) or when the run's own deadline passes
    (a stopped or hung parent cannot enforce its timeout). A pipe, not Linux's parent-death
    signal: that fires when the parent's *thread* ends, and follows only the direct parent,
    not the harness behind an interpreter started through a wrapper script. Does nothing in a
    process `run_module` did not start."""
    fd = os.environ.pop(PARENT_FD_VARIABLE, None)
    seconds = float(os.environ.pop(DEADLINE_VARIABLE, "inf"))
    if fd is None:
        return
    os.set_inheritable(int(fd), False)  # grandchildren need not hold it
    threading.Thread(target=_watch_parent, args=(int(fd), seconds), daemon=True,
                     name="harness-lifeline").start()


def _watch_parent(fd: int, seconds: float) -> None:
    # The parent never writes: readable means end-of-file, the parent is gone.
    gone = select.select([fd], [], [], None if seconds == float("inf") else seconds)[0]
    why = ("the harness process that started this run is gone" if gone else
           f"the run passed its own deadline ({seconds:g} s: the timeout, plus the parent's "
           f"grace) without the parent ending it")
    print(f"harness: {why}; ending this run's process group", file=sys.stderr, flush=True)
    # Our group is the one run_module made (a new session) unless something started this
    # process by other means: then only this process goes.
    if os.getpgrp() == os.getsid(0):
        os.killpg(0, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def last_line(path: Path) -> str:
    """The last non-empty line of a child's log: usually the error it died of."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"


def _read_events(fd: int, sink: queue.Queue) -> None:
    with os.fdopen(fd, "r", errors="replace") as pipe:
        for line in pipe:
            try:
                sink.put(json.loads(line))
            except json.JSONDecodeError:
                pass


def _drain(events: queue.Queue, on_event: Callable[[Event], None], wait: float) -> None:
    try:
        event = events.get(timeout=wait) if wait else events.get_nowait()
    except queue.Empty:
        return
    on_event(event)
    while True:
        try:
            on_event(events.get_nowait())
        except queue.Empty:
            return
