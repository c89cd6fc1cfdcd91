"""`python -m harness collect [RESULTS]`: append the records of Slurm jobs whose submitter died
before it could (harness.run.slurm.collector); running it again appends nothing twice."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape

from harness.commands.progress import result_line
from harness.commands.terminal import console
from harness.run.results import default_results_path
from harness.run.slurm.collector import CollectProblem, collect, jobs_folder


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "collect", help="append the records of Slurm jobs whose submitting process died",
        description="When the process that ran `--executor slurm` dies (kill -9, a lost login "
                    "session), its jobs run on but their records are not appended. This finds "
                    "the jobs of earlier submissions in slurm/ beside the results file and "
                    "appends the record of each that has ended, once: running it again "
                    "appends nothing twice. Exit 0 when every job's record is in the file, 1 "
                    "while some are not (still queued or running), 2 when nothing can be "
                    "collected.")
    parser.add_argument("results", nargs="?", type=Path, metavar="RESULTS",
                        help=f"the results file the jobs were submitted with (default: "
                             f"{default_results_path()}; env HARNESS_RESULTS)")
    parser.set_defaults(func=cmd_collect)


def cmd_collect(args: argparse.Namespace) -> int:
    results = (args.results or default_results_path()).resolve()
    try:
        found = collect(results)
    except CollectProblem as error:
        console.print(f"[red]{escape(str(error))}[/]", soft_wrap=True)
        return 2
    for problem in found.problems:
        console.print(f"[yellow]warning: {escape(problem)}[/]", soft_wrap=True)
    for record in found.appended:
        console.print(result_line(record), soft_wrap=True)
    for record, problem in found.unsaved:
        console.print(f"[red]{escape(_run(record))}: {escape(problem)}; its job's files stay in "
                      f"{escape(str(jobs_folder(results)))}: collect again once the file can "
                      f"be written[/]", soft_wrap=True)
    for ticket in found.submitter_running:
        console.print(escape(f"Slurm job {ticket.job_id} ({_run(ticket.job)}): its submitter "
                             f"(pid {ticket.submitter.get('pid')}) still runs here and appends "
                             f"the record itself"), soft_wrap=True)
    for ticket, why in found.waiting:
        console.print(escape(f"Slurm job {ticket.job_id} ({_run(ticket.job)}): {why}; collect "
                             f"again when it has ended"), soft_wrap=True)
    console.print(escape(f"{len(found.appended)} record(s) appended to {results}; "
                         f"{found.already} already there"
                         + (f"; {len(found.waiting) + len(found.submitter_running)} not ended "
                            f"or still being collected" if not found.complete else "")),
                  soft_wrap=True)
    return 0 if found.complete else 1


def _run(what: dict[str, Any]) -> str:
    """'inference · fake-ok, repeat 0' of a record or a ticket's job."""
    return f"{what.get('benchmark')} · {what.get('impl')}, repeat {what.get('repeat')}"
