"""Results: one JSON object per run, appended to a JSON-lines file as each run finishes.

The file is only ever appended to, never rewritten, so a crash or Ctrl-C loses at most the run
in progress. `schema` versions the record layout for readers such as `report`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# 1: the first layout. 2: adds `utilisation` (achieved FLOP/s, % of the measured matrix-multiply
# peak, the calibration) and `memory` (host and device high-water marks); a reader treats their
# absence in a schema-1 record as not measured.
SCHEMA = 2


def default_results_path() -> Path:
    return Path(os.environ.get("HARNESS_RESULTS",
                               Path(__file__).resolve().parents[2] / "results" / "results.jsonl"))


def append_result(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append one record and push it to disk before returning."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, default=_jsonable) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every parsable record; a damaged line (a run killed mid-write) is skipped."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
