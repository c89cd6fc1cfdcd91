"""What `verify`'s child process handed back: the outputs it computed, its report, its error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class ChildRun:
    outputs: dict[str, np.ndarray]
    report: dict[str, Any]
    error: str | None
    log: Path
    wall_s: float
