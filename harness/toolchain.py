"""Compilers that a framework calls while it runs, found without importing the framework:
torch.compile's Inductor writes C++ for the CPU and builds it with $CXX, else `g++` on Linux
(torch._inductor.config.cpp.cxx; it tries nothing else unless told to fetch a compiler)."""

from __future__ import annotations

import os
import shlex
import shutil
import sys


def inductor_cxx() -> str:
    """The C++ compiler Inductor will call: $CXX, else g++ (clang++ on macOS)."""
    named = os.environ.get("CXX", "").strip()
    return named or ("clang++" if sys.platform == "darwin" else "g++")


def cxx_problem() -> tuple[str, str] | None:
    """(why torch.compile cannot compile here, the fix), or None when its compiler is there."""
    compiler = inductor_cxx()
    if shutil.which(shlex.split(compiler)[0]):
        return None
    how = "CXX names" if os.environ.get("CXX", "").strip() else "the default,"
    return (f"torch.compile (Inductor) builds its CPU kernels with a C++ compiler, and {how} "
            f"`{compiler}`, is not on PATH",
            "apt-get install g++ (Debian/Ubuntu), or set CXX to a C++ compiler on PATH")
