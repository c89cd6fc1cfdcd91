"""What every result carries about the machine it was measured on (docs/benchmarks.md §7).

Gathered in the parent without importing any framework; the child adds what only the
framework knows (its version, device name, CUDA/cuDNN) through `RunInfo`.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness import nvidia
from harness.project import REPO_ROOT

# Variables that change how a framework's threads run, and with them its figures: recorded when
# set (OMP_WAIT_POLICY, say: README's test paragraph gives what it changed for PyTorch).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME",
                    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")


@lru_cache(maxsize=1)
def host_environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "threads": os.cpu_count(),
        "thread_env": thread_env(),
        "commit": project_commit(),
        **nvidia_driver(),
    }


def thread_env() -> dict[str, str]:
    """The THREAD_VARIABLES set in this process's environment (its children inherit them)."""
    return {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The instruction-set flags that decide which kernels a framework picks (one "AMD EPYC" may have
# AVX-512 or not; an Intel Xeon may have AVX-512 BF16 and AMX): kept with every result.
KERNEL_FLAGS = re.compile(r"^(avx|amx|fma|f16c|sse4|ssse3|vnni|neon|asimd|sve|bf16)")


def cpu_flags() -> str | None:
    """The CPU's SIMD and matrix flags (Linux /proc/cpuinfo; None elsewhere), sorted."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line.split(":", 1)[1].split()
                return " ".join(sorted(f for f in set(flags) if KERNEL_FLAGS.match(f)))
    except OSError:
        pass
    return None


def project_commit() -> str | None:
    """HEAD of the project's checkout, marked "-dirty" when files differ from it."""
    try:
        head = _run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"])
        dirty = _run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"])
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


def nvidia_driver() -> dict[str, Any]:
    """The first GPU's name and driver (harness.nvidia), None for each without one."""
    listed = nvidia.gpus()
    return {"gpu": listed[0].name if listed else None,
            "gpu_driver": listed[0].driver if listed else None}


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=True)
    return done.stdout.strip()
