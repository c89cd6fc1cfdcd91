"""Results: one JSON object per run, appended to a JSON-lines file as each run finishes.

The file is only ever appended to, never rewritten, so a crash or Ctrl-C loses at most the run
in progress. Each append holds an exclusive lock on the file and writes the whole line at once,
so runs appending to one file concurrently never interleave; a record after a fragment (a crash
or a full disk mid-write) starts on a line of its own, so the fragment never swallows it.
`schema` versions the record layout for readers such as `report`.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

# 1: the first layout. 2: adds `utilisation` (achieved FLOP/s, % of the measured matrix-multiply
# peak, the calibration) and `memory` (host and device high-water marks); a reader treats their
# absence in a schema-1 record as not measured. 3: training timed in windows (`warmup_s`, the
# steady `samples_per_s` as the median of `window_samples_per_s` with `samples_per_s_low/high`);
# inference spreads over passes; `wall` (where the run's time went) and `load` (how busy the
# machine was). A reader treats their absence in older records as not measured, and an older
# record's `samples_per_s` (over the epochs after the first, or the only one) as one sample.
# Schema 3 records gained `executor` ("local" or "slurm"; absent means local) and, from a Slurm
# job, `slurm` (job id, partition, node, what the job had to itself, queue and overhead seconds),
# with `env` describing the node; readers need nothing new, so the number stayed. They also
# gained `steps_run` and `windows` (the window rule, harness.windows) and `timings.warmup_windows`;
# absent, a run trained every step and its first window was the warm-up.
SCHEMA = 3

# Below this much free space a run could not be sure of keeping its record and log.
MIN_FREE_BYTES = 50 * 2**20
RESULTS_FIX = "choose a writable place with --results PATH (or HARNESS_RESULTS)"
# No record comes near this (a schema-3 record is a few KiB); a longer line is damage, and
# reading it whole could exhaust memory.
MAX_LINE_BYTES = 16 * 2**20


def default_results_path() -> Path:
    return Path(os.environ.get("HARNESS_RESULTS",
                               Path(__file__).resolve().parents[2] / "results" / "results.jsonl"))


def writable_problem(path: str | os.PathLike, fix: str = RESULTS_FIX) -> str | None:
    """Why records could not be appended to `path` (and logs kept beside it), in one line with
    the fix; None when they can. Creates the folder, as the first append would."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            # A device or a pipe passes the write check below, then swallows the records
            # (/dev/null) or never ends when read back (/dev/full, /dev/zero).
            not_regular = not_a_regular_file(path)
            if not_regular:
                raise OSError(errno.EINVAL, not_regular)
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))  # as the append will open it
        elif not os.access(path.parent, os.W_OK | os.X_OK):
            raise PermissionError(13, f"the folder {path.parent} is not writable")
        free = shutil.disk_usage(path.parent).free
    except OSError as error:
        return f"cannot write results to {path}: {error.strerror or error}; fix: {fix}"
    if free < MIN_FREE_BYTES:
        return (f"cannot write results to {path}: only {free / 2**20:.1f} MiB free there "
                f"(need {MIN_FREE_BYTES // 2**20} MiB for records and logs); fix: free some "
                f"space or {fix}")
    return None


def not_a_regular_file(path: str | os.PathLike) -> str | None:
    """What `path` (followed through links) is when it is not a regular file, in a few words
    for a message; None for a regular file. OSError when it cannot be looked at."""
    return _kind_of(os.stat(path).st_mode, Path(path))


def _kind_of(mode: int, path: Path) -> str | None:
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else
            "a character device" if stat.S_ISCHR(mode) else
            "a block device" if stat.S_ISBLK(mode) else
            "a named pipe" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "a special file")
    target = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
    return f"is {kind}{target}, not a regular file"


def append_result(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append one record and push it to disk before returning; OSError when it cannot (also
    when `path` has become something other than a regular file, which would lose it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, default=_jsonable) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        not_regular = _kind_of(os.fstat(fd).st_mode, path)
        if not_regular:
            raise OSError(errno.EINVAL, not_regular)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another run appending to this file waits its turn
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # the fragment stays a damaged line of its own
        while line:  # one write; more only if the kernel takes part of it
            line = line[os.write(fd, line):]
        os.fsync(fd)
    finally:
        os.close(fd)  # and with it the lock


def scan_results(path: str | os.PathLike
                 ) -> tuple[list[tuple[int, Any]], list[tuple[int, str]]]:
    """(line number, JSON value) of every whole record of a results file, and (line number,
    what is wrong) of every damaged line. A whole record written after a fragment on the same
    line (by versions that did not start a record on a new line) is kept.

    Reads no more than the file held when opened, a line at most MAX_LINE_BYTES at a time;
    OSError for anything but a regular file (a device such as /dev/zero never ends)."""
    found: list[tuple[int, Any]] = []
    damaged: list[tuple[int, str]] = []
    decoder = json.JSONDecoder()
    # Non-blocking: opening a named pipe would otherwise wait for a writer.
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
        info = os.fstat(f.fileno())
        not_regular = _kind_of(info.st_mode, Path(path))
        if not_regular:
            raise OSError(errno.EINVAL, f"{path} {not_regular}")
        left = info.st_size  # what a run appends meanwhile is not read
        number = 0
        while left > 0:
            raw = f.readline(min(left, MAX_LINE_BYTES + 1))
            if not raw:
                break  # the file shrank meanwhile
            left -= len(raw)
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                left = _skip_rest_of_line(f, left)
                damaged.append((number, f"a line longer than {MAX_LINE_BYTES:,} bytes, not "
                                        f"a record: skipped"))
                continue
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                found.append((number, json.loads(line)))
                continue
            except json.JSONDecodeError as error:
                problem = error.msg
            record = _record_after_fragment(decoder, line)
            if record is None:
                damaged.append((number, f"not valid JSON ({problem}): a damaged line (a run "
                                        f"killed mid-write?), skipped"))
            else:
                damaged.append((number, "a damaged fragment before a whole record: the "
                                        "fragment skipped, the record kept"))
                found.append((number, record))
    return found, damaged


def _skip_rest_of_line(f: Any, left: int) -> int:
    """Read past the rest of an overlong line, a bounded block at a time; the bytes left."""
    while left > 0:
        block = f.readline(min(left, 2**20))
        if not block:
            return 0
        left -= len(block)
        if block.endswith(b"\n"):
            break
    return left


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every whole record; a damaged line (a run killed mid-write) is skipped."""
    return [record for _, record in scan_results(path)[0] if isinstance(record, dict)]


def _record_after_fragment(decoder: json.JSONDecoder, line: str) -> dict[str, Any] | None:
    """The whole record that ends the line after a fragment. An object without the keys every
    record has is the tail of the fragment itself (its `env`, say), not a record."""
    start = line.find("{", 1)
    while start != -1:
        try:
            value, end = decoder.raw_decode(line, start)
        except json.JSONDecodeError:
            value, end = None, -1
        if end == len(line) and isinstance(value, dict) and {"benchmark", "impl"} <= value.keys():
            return value
        start = line.find("{", start + 1)
    return None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
