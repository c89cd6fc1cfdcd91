"""One run's instructions, handed from the parent to a child process as a JSON file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import registry


@dataclass
class Job:
    benchmark: str  # a benchmark name (harness.benchmarks.names())
    impl: str  # registry name
    entry_point: str  # "module:Class"
    options: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    profile: str = "quick"
    data: str = "auto"  # "real", "synthetic" or "auto"
    data_dir: str | None = None
    weights: str | None = None  # canonical weights file (inference)
    seed: int = 0
    repeat: int = 0

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> "Job":
        return cls(**json.loads(Path(path).read_text()))


class UndeclaredEntryPoint(Exception):
    """A job names an entry point that no registry row declares."""


def declared_entry_point(benchmark: str, entry_point: str, impl: str | None = None) -> str:
    """`entry_point` when a registry row (built in, or a plugin's) declares it for `benchmark`
    (the row `impl`, when named); else UndeclaredEntryPoint. A job file is data on disk: it
    chooses among the registry's entry points, never names code of its own."""
    rows = [row for row in registry.ROWS if impl is None or row.name == impl]
    if entry_point and any(row.entry_points.get(benchmark) == entry_point for row in rows):
        return entry_point
    which = f"row {impl!r} does not declare" if impl is not None else "no registry row declares"
    raise UndeclaredEntryPoint(
        f"the job names entry point {entry_point!r} for benchmark {benchmark!r}, which {which}; "
        f"only the registry's entry points run (harness/registry.py, or a plugin's ROWS through "
        f"HARNESS_PLUGINS)")
