"""What a row needs installed: Python distributions and the versions it supports, found without
importing them (the parent process never imports a framework): `importlib.util.find_spec` finds
a package, `importlib.metadata` reads its version. harness.registry's rows name them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    """A Python distribution an implementation imports, with the versions it supports: from
    `minimum` (the oldest known to work) up to, not including, `below` (the next major release,
    where API breaks are expected). pyproject.toml's extras state the same ranges."""

    distribution: str  # as pip names it
    module: str  # as `import` names it
    minimum: str = ""
    below: str = ""
    # Other distributions that install the same module (tensorflow-cpu for tensorflow).
    alternatives: tuple[str, ...] = ()

    def installed(self) -> tuple[str, str] | None:
        """(distribution, version) of what provides the module here; None when not found."""
        for distribution in (self.distribution, *self.alternatives):
            try:
                return distribution, importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    @property
    def supported(self) -> str:
        """The range as pip writes it, e.g. ">=2.0,<3"."""
        return ",".join(filter(None, (self.minimum and f">={self.minimum}",
                                      self.below and f"<{self.below}")))

    def problem(self) -> str | None:
        """None when satisfied, else the exact reason. A version at or past `below` is
        allowed to run (it may work); `list` marks it."""
        if importlib.util.find_spec(self.module) is None:
            return f"{self.distribution} is not installed"
        if self.minimum:
            found = self.installed()
            if found is None:
                return f"{self.distribution} is importable but has no package metadata"
            distribution, version = found
            if version_tuple(version) < version_tuple(self.minimum):
                return f"{distribution} {version} is too old (need >= {self.minimum})"
        return None


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


# On Linux the `mlx` wheel holds only the Python layer: libmlx, which `import mlx.core` needs,
# comes in a backend's distribution (the mlx[cpu] or mlx[cuda12] extras).
MLX_BACKENDS = ("mlx-cpu", "mlx-cuda-12", "mlx-cuda-13")


def mlx_backend_problem() -> str | None:
    """None where MLX has a backend here (macOS: Metal, in mlx's own wheel), else why not."""
    if sys.platform != "linux" or any(Requirement(name, "mlx").installed()
                                      for name in MLX_BACKENDS):
        return None
    return f"mlx is installed without a backend: on Linux libmlx comes in {' or '.join(MLX_BACKENDS)}"
