"""What a Slurm job runs on its node (submitit pickles these functions and calls them there).
Each writes its answer as JSON in the job's folder (harness.run.slurm.outcomes), which is all
the submitter reads: it never loads submitit's pickle of what the function returned.

`run_job` is one benchmark run: the same child process as the local executor's
(harness.run.runner.run_child, so the same worker, timeout and process-group kill), with the
worker's progress events appended to a file the submitter follows, and what only the node can
say: its hardware (harness.run.host) and its Slurm allocation. It writes nothing to the results
file: the submitter is the only writer.

`node_report` is the first small job on each partition: which rows are ready on a node (the
login machine may lack the frameworks and the GPU), and fingerprints of the folders that must be
shared with the submitter (the project, the results folder, the data store, the isolated
environments) so that the submitter can tell a shared filesystem from a missing or different one.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.run.job import Job
from harness.run.slurm.outcomes import write_outcome

# The Slurm variables a record keeps: which job, where, and what it was given.
SLURM_VARIABLES = {"job_id": "SLURM_JOB_ID", "partition": "SLURM_JOB_PARTITION",
                   "node": "SLURMD_NODENAME", "cpus_on_node": "SLURM_CPUS_ON_NODE",
                   "gpus": "SLURM_JOB_GPUS", "cuda_visible_devices": "CUDA_VISIBLE_DEVICES"}


def allocation() -> dict[str, str | None]:
    return {key: os.environ.get(name) for key, name in SLURM_VARIABLES.items()}


def run_job(job: Job, environment: str | None, env: dict[str, str], timeout: float,
            log_path: str, events_path: str, folder: str) -> dict[str, Any]:
    """One run in a fresh child on this node; never raises for anything the child does. Its
    outcome is written to the job's folder under `folder` (the Slurm jobs' folder)."""
    from harness.run.child import interpreter_for
    from harness.run.host import host_environment
    from harness.run.runner import run_child

    # The executor asks for SIGURG before the time limit instead of submitit's SIGUSR2, on which
    # submitit ends the function with an error (to requeue a checkpointable one); should a
    # user's --sbatch ask for SIGUSR2 again, it is ignored too: Slurm's own limit (SIGTERM, then
    # SIGKILL) ends the run and the job's state says TIMEOUT.
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    started = time.time()
    with open(events_path, "a", buffering=1) as events:
        child = run_child(job, python=interpreter_for(environment), env=env, timeout=timeout,
                          log_path=Path(log_path),
                          on_event=lambda event: events.write(json.dumps(event) + "\n"))
    outcome = {"child": asdict(child), "host": host_environment(), "slurm": allocation(),
               "started": started, "finished": time.time()}
    write_outcome(folder, outcome)
    return outcome


def node_report(checks: list[tuple[str, str]], paths: dict[str, str], folder: str
                ) -> dict[str, Any]:
    """Readiness of each (row, benchmark) on this node, and the fingerprint of each path;
    written to the job's folder under `folder` too."""
    from harness import registry
    from harness.plugins import load_plugins
    from harness.run.host import host_environment

    load_plugins()
    ready = {}
    for name, benchmark in checks:
        try:
            found = registry.readiness(registry.by_name(name), benchmark)
            ready[f"{name}|{benchmark}"] = {"ready": found.ready, "reason": found.reason,
                                            "fix": found.fix, "note": found.note}
        except Exception as error:  # noqa: BLE001 - a row unknown on the node is not ready there
            ready[f"{name}|{benchmark}"] = {"ready": False, "reason": f"{type(error).__name__}: "
                                            f"{error}", "fix": "", "note": ""}
    report = {"host": host_environment(), "python": sys.executable, "ready": ready,
              "gpu": registry.gpu_present(), "slurm": allocation(),
              "paths": {name: fingerprint(path) for name, path in paths.items()}}
    write_outcome(folder, report)
    return report


def fingerprint(path: str) -> str | None:
    """What a folder holds, in a few hex digits (names, kinds, sizes and whole-second mtimes of
    its entries), or a file's contents hashed; None where the path does not exist. Two machines
    that see the same folder (a shared filesystem, or a faithful copy) get the same value."""
    target = Path(path)
    try:
        if target.is_file():
            return hashlib.sha256(target.read_bytes()).hexdigest()[:16]
        if not target.is_dir():
            return None
        entries = []
        for entry in sorted(os.scandir(target), key=lambda e: e.name):
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue  # written by whoever imports or runs there
            stat = entry.stat(follow_symlinks=False)
            entries.append(f"{entry.name}:{entry.is_dir(follow_symlinks=False)}:"
                           f"{0 if entry.is_dir(follow_symlinks=False) else stat.st_size}:"
                           f"{int(stat.st_mtime)}")
    except OSError as error:
        return f"unreadable: {error.strerror or error}"
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]
