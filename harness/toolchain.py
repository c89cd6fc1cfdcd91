"""Compilers that a framework calls while it runs, found without importing the framework:
torch.compile's Inductor writes C++ for the CPU and builds it with $CXX, else `g++` on Linux
(torch._inductor.config.cpp.cxx; it tries nothing else unless told to fetch a compiler)."""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import sys
import tempfile


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


CACHE_PREFIX = "harness-inductor-"


def cold_inductor_cache() -> str:
    """Give this process an Inductor cache of its own, so that its compile time is a first
    run's and not a rerun's against kernels an earlier run left; returns what the record says.
    Set before Inductor first reads TORCHINDUCTOR_CACHE_DIR. A folder the user (or a process
    above) named is kept. The folder is made by mkdtemp (private, unpredictable: /tmp is shared);
    the worker ends with os._exit, so no exit hook removes it: each new one removes this user's
    folders whose process has ended."""
    named = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if named:
        return f"cache {named} (set before the run: may hold kernels of earlier runs)"
    root = tempfile.gettempdir()
    for old in glob.glob(os.path.join(root, CACHE_PREFIX + "*-*")):
        pid = os.path.basename(old)[len(CACHE_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and os.stat(old).st_uid == os.getuid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"{CACHE_PREFIX}{os.getpid()}-")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder
    return "cold cache (a folder of its own)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
