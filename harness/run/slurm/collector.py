"""The records of Slurm jobs their submitter did not collect (`python -m harness collect`): it
was killed (`kill -9`), or its login session was lost, and its jobs ran on.

Each benchmark job's ticket (harness.run.slurm.tickets) says which run it is and which results
file its record belongs to. A job that has ended gets the record its submitter would have
appended (harness.run.slurm.records), once: a run whose id is already in the results file is
left alone, a lock keeps two collects from appending the same run, and a job whose submitter
still runs on this machine is left to it. Nothing is unpickled: jobs hand back JSON.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from harness.run.executor import Record
from harness.run.results import read_results, writable_problem
from harness.run.runner import ResultNotSaved, save_record
from harness.run.slurm import outcomes, queue
from harness.run.slurm.records import VANISHED, job_record
from harness.run.slurm.tickets import Ticket, read_tickets, still_running
from harness.trust import slurm_folders_problem

LOCK_NAME = ".collect.lock"


class CollectProblem(Exception):
    """Nothing can be collected for these results; the message says what to do."""


@dataclass
class Collection:
    """What one collect found and did."""

    appended: list[Record] = field(default_factory=list)
    unsaved: list[tuple[Record, str]] = field(default_factory=list)  # append failed: why
    already: int = 0  # jobs whose record was in the results file before
    submitter_running: list[Ticket] = field(default_factory=list)  # it appends them itself
    waiting: list[tuple[Ticket, str]] = field(default_factory=list)  # not ended yet: why
    problems: list[str] = field(default_factory=list)  # files that are not tickets, skipped

    @property
    def complete(self) -> bool:
        """Every job's record is in the results file now."""
        return not (self.unsaved or self.submitter_running or self.waiting)


def jobs_folder(results: Path) -> Path:
    """Where the jobs of a submission to `results` keep their files."""
    return results.parent / "slurm"


def collect(results: Path) -> Collection:
    """Append the record of every ended job submitted to `results` that is not there yet.
    CollectProblem when the folders could be changed by others, when there are no jobs beside
    `results`, or when it cannot be written."""
    folder = jobs_folder(results)
    problem = slurm_folders_problem(results)
    if problem:  # what the jobs left there would become records: only from folders of yours
        raise CollectProblem(problem)
    if not folder.is_dir():
        raise CollectProblem(f"no Slurm jobs beside {results} ({folder} does not exist): name "
                             f"the results file the jobs were submitted with (--results)")
    problem = writable_problem(results, fix="make it writable, or collect as the user who "
                                            "submitted the jobs")
    if problem:
        raise CollectProblem(problem)
    found = Collection()
    with _lock(folder):
        tickets, found.problems = read_tickets(folder, results)
        stored = ({r.get("run_id") for r in read_results(results)} if results.exists()
                  else set())
        pending = []
        for ticket in tickets:
            if ticket.run_id in stored:
                found.already += 1
            elif still_running(ticket.submitter):
                found.submitter_running.append(ticket)
            else:
                pending.append(ticket)
        try:
            states: dict[str, queue.JobState] | None = queue.job_states(
                [t.job_id for t in pending])
            silent = ""
        except queue.SlurmUnavailable as error:
            states, silent = None, str(error)
        for ticket in pending:
            record = _record_if_ended(ticket, states, silent, folder, found)
            if record is None:
                continue
            try:
                save_record(ticket.settings_of(), record)
            except ResultNotSaved as error:
                found.unsaved.append((record, str(error)))
                continue
            found.appended.append(record)
    return found


def _record_if_ended(ticket: Ticket, states: dict[str, queue.JobState] | None, silent: str,
                     folder: Path, found: Collection) -> Record | None:
    """The job's record when it has ended; else None, with why in `found.waiting`."""
    job_id = ticket.job_id
    if states is None:  # Slurm does not answer: only a job whose function ended is done
        if outcomes.ended(folder, job_id):
            return job_record(ticket, None, folder, late=True, wait_s=0)
        found.waiting.append((ticket, f"Slurm does not answer ({silent}) and the job has not "
                                      f"ended"))
        return None
    state = states.get(job_id)
    if state is not None and not state.done:
        found.waiting.append((ticket, f"{state.state.lower()}"
                                      + (f" on {state.node}" if state.node else "")))
        return None
    if state is None and not outcomes.ended(folder, job_id):
        state = queue.JobState(VANISHED, None, None)  # Slurm forgot it, and it left nothing
    return job_record(ticket, state, folder, late=True)


@contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """One collect at a time per jobs' folder: two would both append the same runs."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
