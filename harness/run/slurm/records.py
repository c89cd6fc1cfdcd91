"""The record of a benchmark job that ended: what its function left (harness.run.slurm.outcomes),
or the fault Slurm reports, in the same layout as a local run's record plus `slurm` (job id,
partition, node, what the job had to itself, its queue time and overhead). The submitter makes
it as each job ends; `collect` makes it later, from the job's ticket, after its submitter died."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.run.executor import Record
from harness.run.runner import ChildOutcome, make_record
from harness.run.slurm import outcomes, queue
from harness.run.slurm.tickets import Ticket

# Seconds a finished job's outcome may take to appear on a slow shared filesystem.
RESULT_WAIT_S = 15
# The state of a job Slurm no longer knows and that left nothing.
VANISHED = "VANISHED"


def job_record(ticket: Ticket, state: queue.JobState | None, folder: Path,
               node: str | None = None, late: bool = False,
               wait_s: float = RESULT_WAIT_S) -> Record:
    """The record of the ended job `ticket` names. `state`: Slurm's final state (None where
    Slurm no longer knows the job); `node`: where the submitter last saw it run; `late`: made
    by `collect`, not by its submitter as it ended (the record then says so, and its times end
    when the job's function returned on the node rather than when it was collected)."""
    collected_at = time.time()
    outcome: dict[str, Any] = {}
    job_id = ticket.job_id
    log = outcomes.job_folder(folder, job_id) / f"{job_id}_0_log.out"

    def fault(status: str, what: str) -> ChildOutcome:
        return ChildOutcome(status, f"Slurm job {job_id} {what}; log: {log}", {}, None,
                            collected_at - ticket.submitted_at)

    if state is not None and state.state == VANISHED:
        child = fault("crashed", "is no longer known to Slurm and left no result (its node "
                                 "lost, or the job purged)")
    elif state is not None and state.state in queue.FAULTS:
        status, what = queue.FAULTS[state.state]
        child = fault(status, what + (f" ({state.reason})" if state.reason else ""))
    else:
        try:
            outcome = _run_outcome(folder, job_id, wait_s)
            child = ChildOutcome(**outcome["child"])
        except outcomes.UnexpectedOutcome as error:
            child = fault("failed", f"left an outcome the harness cannot use: {error}")
        except LookupError as error:  # no outcome: its function raised on the node
            child = fault("failed", f"failed on its node: {error.args[0]}")
    node_started, node_finished = outcome.get("started"), outcome.get("finished")
    ended_at = node_finished if late and node_finished else collected_at
    placement = {**(outcome.get("slurm") or {}),
                 "job_id": job_id,
                 "partition": ticket.partition,
                 "node": (outcome.get("slurm") or {}).get("node") or node
                 or (state.node if state is not None else None),
                 "exclusive": ticket.exclusive,
                 "submitted_at": round(ticket.submitted_at, 3),
                 "collected_at": round(collected_at, 3),
                 **({"collected_by": "collect"} if late else {}),
                 **overhead(ticket.submitted_at, outcome, ended_at, child.wall_s)}
    started = datetime.fromtimestamp(node_started or ticket.submitted_at, timezone.utc)
    record = make_record(ticket.row_of(), ticket.job_of(), child, started, ticket.settings_of(),
                         ticket.run_id, Path(ticket.log_path), host=outcome.get("host") or {},
                         executor="slurm", slurm=placement)
    if late and node_finished:
        record["finished_at"] = datetime.fromtimestamp(node_finished, timezone.utc).isoformat(
            timespec="seconds")
    return record


def _run_outcome(folder: Path, job_id: str, wait_s: float) -> dict[str, Any]:
    """What run_job wrote, checked; waits up to `wait_s` for it to appear unless submitit's
    result file says the function raised. LookupError (with the job's error) when there is
    none."""
    deadline = time.time() + wait_s
    while True:
        found = outcomes.read_outcome(folder, job_id)
        if found is not None:
            return outcomes.checked_run_outcome(found, str(outcomes.outcome_path(folder, job_id)))
        if outcomes.result_pickle_path(folder, job_id).exists() or time.time() >= deadline:
            raise LookupError(outcomes.error_line(folder, job_id))
        time.sleep(0.5)


def overhead(submitted_at: float, outcome: dict[str, Any], ended_at: float,
             child_wall_s: float) -> dict[str, float]:
    """Where a job's time outside its run went: `queue_s` from submission to the function's
    start on the node (waiting for a free node or GPU, scheduling, sbatch and srun, the
    interpreter, unpickling), `overhead_s` all of the job's time until `ended_at` (when it was
    collected) that was not the child's run; `node_started`/`node_finished` when the job's
    function began and returned on the node (epoch seconds: the node's and this machine's
    clocks are taken to be in step, as NTP keeps a cluster)."""
    if not outcome.get("started"):
        return {}
    return {"queue_s": round(outcome["started"] - submitted_at, 3),
            "overhead_s": round(ended_at - submitted_at - child_wall_s, 3),
            "node_started": round(outcome["started"], 3),
            "node_finished": round(outcome["finished"], 3)}
