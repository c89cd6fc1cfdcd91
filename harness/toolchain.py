"""Compilers that a framework calls while it runs, found without importing the framework:
torch.compile's Inductor writes C++ for the CPU and builds it with $CXX, else `g++` on Linux
(torch._inductor.config.cpp.cxx; it tries nothing else unless told to fetch a compiler); tinygrad's
CPU device writes C and builds it with $CC, else `clang`."""

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
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = private_folder(CACHE_PREFIX)
    return "cold cache (a folder of its own)"


def private_folder(prefix: str) -> str:
    """A new folder of this process's own under the temporary directory (mkdtemp: private and
    unpredictable, /tmp is shared), named with the pid; first removes this user's folders of
    that prefix whose process has ended (the worker's os._exit skips exit hooks)."""
    root = tempfile.gettempdir()
    for old in glob.glob(os.path.join(root, prefix + "*-*")):
        pid = os.path.basename(old)[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and os.stat(old).st_uid == os.getuid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def tinygrad_cc() -> str:
    """The compiler tinygrad's CPU device calls: $CC, else clang."""
    return os.environ.get("CC", "").strip() or "clang"


def tinygrad_cc_problem() -> tuple[str, str] | None:
    """(why tinygrad cannot run on the CPU here, the fix), or None. Its CPU device compiles
    every kernel with clang, and tinygrad 0.14 compiles the device's own queue workers with clang
    whatever renderer is asked for (DEV=CPU:LLVM too), so LLVM alone is not enough; it passes
    clang's --target, so a CC naming gcc fails as well."""
    compiler = tinygrad_cc()
    fix = "apt-get install clang (Debian/Ubuntu), or set CC to a clang on PATH"
    program = shlex.split(compiler)[0]
    if not shutil.which(program):
        how = "CC names" if os.environ.get("CC", "").strip() else "its default,"
        return (f"tinygrad's CPU device compiles its kernels with clang, and {how} `{compiler}`, "
                f"is not on PATH (LLVM alone does not do: tinygrad 0.14 builds its CPU queue "
                f"with clang)", fix)
    if "clang" not in os.path.basename(program):
        return (f"tinygrad's CPU device calls $CC with clang's options, and CC names "
                f"`{compiler}`, not clang", fix)
    return None


TINYGRAD_CACHE_PREFIX = "harness-tinygrad-"


def cold_tinygrad_cache() -> str:
    """As `cold_inductor_cache`, for tinygrad: its compiled kernels (and every other disk cache
    it keeps) live in one sqlite file, CACHEDB, read when tinygrad is imported; this names a
    private one in a folder of this process's own. A CACHEDB set before the run is kept."""
    named = os.environ.get("CACHEDB")
    if named:
        return f"cache {named} (set before the run: may hold kernels of earlier runs)"
    os.environ["CACHEDB"] = os.path.join(private_folder(TINYGRAD_CACHE_PREFIX), "cache.db")
    return "cold cache (a file of its own)"
