"""The machine's NVIDIA GPUs as `nvidia-smi` lists them, asked in this one place and without
importing any framework: whether there is a GPU (`list`, readiness, `--device auto`), its name
and driver (every result's `env`), its compute capability (which GPUs Knet's CUDA.jl can use).

Drivers before R510 have no `compute_cap` field and answer such a query with an error: the
query is then made without it (capability None), and a driver that answers neither still has
its GPUs found through `nvidia-smi -L`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class GPU:
    uuid: str  # "GPU-...", which CUDA_VISIBLE_DEVICES accepts whatever the device order
    name: str
    driver: str | None
    capability: tuple[int, int] | None  # None: a driver without the compute_cap field


def gpus() -> list[GPU]:
    """Every GPU `nvidia-smi` lists (it ignores CUDA_VISIBLE_DEVICES); [] without nvidia-smi."""
    path = shutil.which("nvidia-smi")
    if path is None:
        return []
    try:
        return list(_query(path, os.path.getmtime(path)))
    except OSError:
        return []


def present() -> bool:
    return bool(gpus())


@lru_cache(maxsize=8)
def _query(path: str, mtime: float) -> tuple[GPU, ...]:
    """Asked once per nvidia-smi binary (a new driver, or a test's stand-in, asks again)."""
    with_capability = _ask(path, "--query-gpu=uuid,name,driver_version,compute_cap",
                           "--format=csv,noheader")
    found = [gpu for gpu in map(_with_capability, with_capability) if gpu]
    if found:
        return tuple(found)
    without = _ask(path, "--query-gpu=uuid,name,driver_version", "--format=csv,noheader")
    found = [gpu for gpu in map(_without_capability, without) if gpu]
    if found:
        return tuple(found)
    return tuple(gpu for gpu in map(_listed, _ask(path, "-L")) if gpu)


def _ask(path: str, *arguments: str) -> list[str]:
    try:
        done = subprocess.run([path, *arguments], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return done.stdout.splitlines() if done.returncode == 0 else []


def _with_capability(line: str) -> GPU | None:
    fields = [f.strip() for f in line.split(",")]
    if len(fields) < 4:
        return None
    major, _, minor = fields[-1].partition(".")
    if not (fields[0].startswith("GPU-") and major.isdigit() and minor.isdigit()):
        return None
    # A name could hold a comma; the other fields cannot.
    return GPU(fields[0], ", ".join(fields[1:-2]), fields[-2] or None, (int(major), int(minor)))


def _without_capability(line: str) -> GPU | None:
    fields = [f.strip() for f in line.split(",")]
    if len(fields) < 3 or not fields[0].startswith("GPU-"):
        return None
    return GPU(fields[0], ", ".join(fields[1:-1]), fields[-1] or None, None)


LISTED = re.compile(r"^GPU \d+: (?P<name>.+?) \(UUID: (?P<uuid>[^)]+)\)")


def _listed(line: str) -> GPU | None:
    match = LISTED.match(line.strip())
    return GPU(match["uuid"], match["name"], None, None) if match else None
