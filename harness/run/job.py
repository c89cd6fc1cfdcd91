"""One run's instructions, handed from the parent to a child process as a JSON file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Job:
    benchmark: str  # "cnn", "rnn" or "inference"
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
