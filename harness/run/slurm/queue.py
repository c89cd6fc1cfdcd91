"""What the harness asks Slurm directly, with its command-line tools: is there a cluster, which
partitions has it and do they have GPUs, what state is each job in, cancel these jobs.

Submission itself goes through submitit (harness.run.slurm.executor). Job states come from
`squeue --states=all`, which knows every job the controller still holds (finished ones for
MinJobAge, 5 minutes by default; the executor polls every few seconds), and from `sacct` for
a job squeue has forgotten, where the cluster keeps accounting. submitit's own state query
needs sacct, which a cluster without accounting storage (such as the test cluster) lacks.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from dataclasses import dataclass

TOOLS = ("sbatch", "squeue", "scancel", "sinfo")
TIMEOUT_S = 30

# States after which a job never runs again, and what each means for the run's record.
FAULTS = {
    "CANCELLED": ("failed", "was cancelled (scancel)"),
    "TIMEOUT": ("timeout", "ran past its Slurm time limit and was ended by Slurm"),
    "NODE_FAIL": ("crashed", "ended by the failure of its node"),
    "BOOT_FAIL": ("crashed", "could not start: its node failed to boot"),
    "OUT_OF_MEMORY": ("crashed", "ran out of memory (ask for more with --mem)"),
    "PREEMPTED": ("failed", "was preempted by a job of higher priority"),
    "DEADLINE": ("failed", "reached its deadline before it could run"),
    "REVOKED": ("failed", "was revoked (started on another cluster)"),
}
DONE = ("COMPLETED", "FAILED", *FAULTS)
# Why a job pends when it never will start as asked (squeue's reason): the request exceeds what
# the partition allows or names something the cluster does not have.
NEVER_STARTS = {"PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints",
                "InvalidAccount", "InvalidQOS", "AccountNotAllowed", "QOSNotAllowed"}


class SlurmUnavailable(Exception):
    """No usable Slurm here; the message says what is missing and what to do."""


@dataclass(frozen=True)
class JobState:
    state: str  # Slurm's name: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
    node: str | None
    reason: str | None  # why pending, or the controller's reason for a fault

    @property
    def done(self) -> bool:
        return self.state in DONE

    @property
    def never_starts(self) -> bool:
        """Pending for a reason waiting cannot cure (its request does not fit the partition)."""
        return self.state == "PENDING" and (self.reason or "") in NEVER_STARTS


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SlurmUnavailable(f"`{' '.join(command)}` failed: {error}") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise SlurmUnavailable(f"`{' '.join(command)}` failed: "
                               f"{message[-1] if message else f'exit code {done.returncode}'}")
    return done.stdout


def check_cluster() -> None:
    """SlurmUnavailable unless Slurm's tools are on PATH and the controller answers."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise SlurmUnavailable(
            f"--executor slurm needs Slurm's commands, and {', '.join(missing)} is not on PATH: "
            f"run the harness on the cluster's login node (or load its Slurm module)")
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise SlurmUnavailable("--executor slurm submits through submitit, which is not "
                               "installed: pip install -e '.[slurm]'") from None
    try:
        _run(["sinfo", "-h", "-o", "%P"])
    except SlurmUnavailable as error:
        raise SlurmUnavailable(f"the Slurm controller does not answer ({error}); check "
                               f"`sinfo` and SLURM_CONF") from None


def partitions() -> dict[str, bool]:
    """Every partition, and whether it is the default one."""
    names: dict[str, bool] = {}
    for line in _run(["sinfo", "-h", "-o", "%P"]).split():
        names[line.rstrip("*")] = line.endswith("*") or names.get(line.rstrip("*"), False)
    return names


def default_partition() -> str:
    found = [name for name, default in partitions().items() if default]
    if not found:
        raise SlurmUnavailable("the cluster has no default partition: name one with --partition "
                               "(`sinfo` lists them)")
    return found[0]


def partition_has_gpus(partition: str) -> bool:
    """Whether the partition's nodes offer GPUs as generic resources (gres gpu)."""
    return any(item.startswith("gpu") for line in
               _run(["sinfo", "-h", "-p", partition, "-o", "%G"]).split()
               for item in line.split(","))


def job_states(job_ids: list[str]) -> dict[str, JobState]:
    """The state of each job the controller (or, failing that, accounting) still knows."""
    if not job_ids:
        return {}
    wanted = set(job_ids)
    states: dict[str, JobState] = {}
    out = _run(["squeue", "--states=all", "--noheader", f"--user={getpass.getuser()}",
                "--format=%i|%T|%N|%r"])
    for line in out.splitlines():
        job, state, node, reason = (line.split("|") + ["", "", ""])[:4]
        if job in wanted:
            states[job] = JobState(state, node or None, _reason(reason))
    forgotten = sorted(wanted - set(states))
    if forgotten and shutil.which("sacct"):
        try:
            out = _run(["sacct", "--noheader", "--parsable2", "--format=JobID,State,NodeList",
                        *[f"--jobs={job}" for job in forgotten]])
        except SlurmUnavailable:
            out = ""  # no accounting storage on this cluster
        for line in out.splitlines():
            job, state, node = (line.split("|") + ["", ""])[:3]
            if job in wanted and "." not in job:  # not a job step
                states[job] = JobState(state.split()[0], node or None, None)
    return states


def _reason(text: str) -> str | None:
    return None if text in ("", "None", "(null)") else text


def cancel(job_ids: list[str]) -> None:
    """Cancel these jobs, queued or running; a job already gone is no error."""
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True, timeout=TIMEOUT_S)
