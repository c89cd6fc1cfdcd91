"""What a Slurm job hands back to the submitter: JSON in its folder (`slurm/JOBID/`).

submitit pickles what a job's function returns (`JOBID_0_result.pkl`), and loading a pickle
runs whatever code it names, so the harness never loads one. Each job function also writes its
answer as JSON (`JOBID_outcome.json`, written whole or not at all), and that is all the
submitter reads of it; a function that raised leaves no outcome, only its error in the job's
log (`JOBID_0_log.err`), read as text. An outcome that is not what the job writes (damaged,
or planted) is refused with `UnexpectedOutcome`, which the caller turns into a failed row.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RUN_STATUSES = ("ok", "failed", "timeout", "crashed", "interrupted")
# Field -> the types it may have, in what run_job writes (the child's part: ChildOutcome).
RUN_FIELDS = {"child": (dict,), "host": (dict,), "slurm": (dict,), "started": (int, float),
              "finished": (int, float)}
CHILD_FIELDS = {"status": (str,), "reason": (str, type(None)), "outcome": (dict,),
                "returncode": (int, type(None)), "wall_s": (int, float),
                "load": (dict, type(None))}
# Lines of a job's error log written by Slurm or submitit around the job's own error.
LOG_NOISE = ("srun:", "slurmstepd:", "submitit ")


class UnexpectedOutcome(Exception):
    """A job's outcome file that is not what the job writes; the message says what is wrong."""


def job_folder(folder: Path, job_id: str) -> Path:
    """The folder of one job under the Slurm jobs' folder (submitit's `%j`)."""
    return folder / job_id


def outcome_path(folder: Path, job_id: str) -> Path:
    return job_folder(folder, job_id) / f"{job_id}_outcome.json"


def result_pickle_path(folder: Path, job_id: str) -> Path:
    """submitit's pickle of what the function returned or raised: looked at, never loaded."""
    return job_folder(folder, job_id) / f"{job_id}_0_result.pkl"


def error_log_path(folder: Path, job_id: str) -> Path:
    return job_folder(folder, job_id) / f"{job_id}_0_log.err"


def write_json(path: Path, value: Any) -> None:
    """Write `value` so that a reader sees all of it or no file (a temporary file, renamed),
    writable by you alone whatever the umask."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), "w",
                   encoding="utf-8") as file:
        file.write(json.dumps(value, default=str))  # a stray Path, say, as text
    os.replace(temporary, path)


def write_outcome(folder: str | os.PathLike, value: dict[str, Any]) -> None:
    """On the node: this job's outcome, for the submitter (the job id from Slurm's SLURM_JOB_ID)."""
    job_id = os.environ.get("SLURM_JOB_ID")
    if not job_id:
        raise RuntimeError("SLURM_JOB_ID is not set: a job function runs only inside a Slurm job")
    write_json(outcome_path(Path(folder), job_id), value)


def ended(folder: Path, job_id: str) -> bool:
    """Whether the job's function has finished: it left its outcome, or (it raised) submitit's
    result file."""
    return outcome_path(folder, job_id).exists() or result_pickle_path(folder, job_id).exists()


def read_outcome(folder: Path, job_id: str) -> dict[str, Any] | None:
    """The job's outcome; None when it left none; UnexpectedOutcome when it is not a JSON
    object."""
    path = outcome_path(folder, job_id)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise UnexpectedOutcome(f"its outcome {path} cannot be read ({error})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnexpectedOutcome(f"its outcome {path} is not JSON ({error.msg})") from None
    if not isinstance(value, dict):
        raise UnexpectedOutcome(f"its outcome {path} is not what the job writes (a JSON "
                                f"{type(value).__name__}, not an object)")
    return value


def checked_run_outcome(value: dict[str, Any], where: str) -> dict[str, Any]:
    """`value` when it has the shape of what run_job writes; else UnexpectedOutcome naming the
    first field that does not (`where`: the file, for the message)."""
    _check_fields(value, RUN_FIELDS, where, required=tuple(RUN_FIELDS))
    child = value["child"]
    _check_fields(child, CHILD_FIELDS, where, required=tuple(CHILD_FIELDS), prefix="child.")
    unknown = sorted(set(child) - set(CHILD_FIELDS))
    if unknown or child["status"] not in RUN_STATUSES:
        raise UnexpectedOutcome(f"{where} is not what the job writes ("
                                + (f"child.{unknown[0]}" if unknown else
                                   f"child.status {child['status']!r}") + ")")
    return value


def checked_node_report(value: dict[str, Any], where: str) -> dict[str, Any]:
    """`value` when it has the shape of what node_report writes; else UnexpectedOutcome."""
    _check_fields(value, {"host": (dict,), "ready": (dict,), "paths": (dict,)}, where,
                  required=("host", "ready"))
    for key, found in value["ready"].items():
        if not isinstance(found, dict) or "ready" not in found or "reason" not in found:
            raise UnexpectedOutcome(f"{where} is not what the readiness job writes "
                                    f"(ready[{key!r}])")
    return value


def _check_fields(value: dict[str, Any], fields: dict[str, tuple[type, ...]], where: str,
                  required: tuple[str, ...], prefix: str = "") -> None:
    for name in required:
        if name not in value:
            raise UnexpectedOutcome(f"{where} is not what the job writes (no {prefix}{name})")
    for name, kinds in fields.items():
        if name in value and not isinstance(value[name], kinds):
            raise UnexpectedOutcome(f"{where} is not what the job writes ({prefix}{name} is "
                                    f"a {type(value[name]).__name__})")


def error_line(folder: Path, job_id: str) -> str:
    """The line of the job's error log that says why its function failed (Python's last
    traceback line), without Slurm's and submitit's own lines."""
    path = error_log_path(folder, job_id)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"no error log ({path})"
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith(LOG_NOISE)]
    return lines[-1][:300] if lines else f"nothing in its error log ({path})"
