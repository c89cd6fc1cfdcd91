"""What the submitter writes beside each benchmark job it submits (`slurm/JOBID/JOBID_run.json`):
which run the job is - run id, row, benchmark, repeat, partition, the run's settings, where its
log goes, the results file its record belongs to - and which process submitted it.

With it a job's record can be made without the process that submitted it: `python -m harness
collect` (harness.run.slurm.collector) makes the records the submitter would have appended,
after it died (`kill -9`, a lost login session). A ticket is withdrawn (deleted) when its
submitter cancels the job itself (a stop signal): that run is interrupted, and no record is due.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from harness.registry import Row
from harness.run.job import Job
from harness.run.runner import RunSettings
from harness.run.slurm.outcomes import job_folder, write_json

# The registry row's fields a record takes (harness.run.runner.make_record).
ROW_FIELDS = ("name", "framework", "language", "description", "options", "entry_points")
SETTINGS_FIELDS = ("profile", "data", "device", "timeout", "results", "data_dir", "weights",
                   "seed")


@dataclass
class Ticket:
    job_id: str
    run_id: str
    results: str  # the results file the record goes to
    job: dict[str, Any]  # harness.run.job.Job's fields
    row: dict[str, Any]  # the registry row as submitted (ROW_FIELDS)
    settings: dict[str, Any]  # the run's settings (SETTINGS_FIELDS)
    partition: str
    exclusive: str  # what the job had to itself: gpu, node or shared
    submitted_at: float
    log_path: str
    events_path: str
    submitter: dict[str, Any]  # host, pid and start of the submitting process

    @classmethod
    def new(cls, job_id: str, run_id: str, job: Job, impl: Row, settings: RunSettings,
            partition: str, exclusive: str, submitted_at: float, log_path: Path,
            events_path: Path) -> "Ticket":
        return cls(job_id=job_id, run_id=run_id, results=str(settings.results), job=asdict(job),
                   row={name: getattr(impl, name) for name in ROW_FIELDS},
                   settings={name: _jsonable(getattr(settings, name))
                             for name in SETTINGS_FIELDS},
                   partition=partition, exclusive=exclusive, submitted_at=submitted_at,
                   log_path=str(log_path), events_path=str(events_path),
                   submitter=this_process())

    def job_of(self) -> Job:
        return Job(**self.job)

    def row_of(self) -> Row:
        return Row(**self.row)

    def settings_of(self) -> RunSettings:
        return RunSettings(**{**self.settings, "results": Path(self.settings["results"])})


def ticket_path(folder: Path, job_id: str) -> Path:
    return job_folder(folder, job_id) / f"{job_id}_run.json"


def write_ticket(folder: Path, ticket: Ticket) -> None:
    write_json(ticket_path(folder, ticket.job_id), asdict(ticket))


def withdraw(folder: Path, job_ids: list[str]) -> None:
    """No record is due for these jobs: their submitter cancelled them."""
    for job_id in job_ids:
        ticket_path(folder, job_id).unlink(missing_ok=True)


def read_tickets(folder: Path, results: Path) -> tuple[list[Ticket], list[str]]:
    """Every ticket under `folder` whose record belongs to `results`, oldest job first, and
    one line for each file that is not a ticket the harness writes (skipped)."""
    tickets, problems = [], []
    for path in sorted(folder.glob("*/*_run.json")):
        try:
            ticket = _read(path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
                ValueError) as error:
            problems.append(f"{path} is not a ticket the harness writes ({type(error).__name__}"
                            f": {error}); skipped")
            continue
        if Path(ticket.results) == results:
            tickets.append(ticket)
    tickets.sort(key=lambda t: (t.submitted_at, t.job_id))
    return tickets, problems


def _read(path: Path) -> Ticket:
    """The ticket at `path`, its fields' shapes checked (KeyError, TypeError or ValueError)."""
    value = json.loads(path.read_text(encoding="utf-8"))
    ticket = Ticket(**{f.name: value[f.name] for f in fields(Ticket)})
    for name, kind in (("job_id", str), ("run_id", str), ("results", str), ("partition", str),
                       ("exclusive", str), ("submitted_at", (int, float)), ("log_path", str),
                       ("events_path", str), ("submitter", dict)):
        if not isinstance(getattr(ticket, name), kind):
            raise TypeError(f"{name} is a {type(getattr(ticket, name)).__name__}")
    if path.name != f"{ticket.job_id}_run.json" or path.parent.name != ticket.job_id:
        raise ValueError(f"it names job {ticket.job_id!r}")
    ticket.job_of(), ticket.row_of(), ticket.settings_of()  # their shapes, checked
    return ticket


def this_process() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_of(os.getpid())}


def still_running(submitter: dict[str, Any]) -> bool:
    """Whether the process that wrote a ticket still runs on this machine (it then appends the
    record itself). One on another machine cannot be seen from here: taken to be gone."""
    pid = submitter.get("pid")
    if submitter.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's: its start time below tells whether it is the same one
    return _start_of(pid) == submitter.get("start")  # not a later process given the same pid


def _start_of(pid: int) -> int | None:
    """When process `pid` started (clock ticks after boot; Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
