"""JAX settings shared by the rows that run on JAX (`jax-flax`, `jax-flax-scan`, `keras-jax`):
XLA:CPU's YNNPACK fusions off, and strict fp32 when `--precision fp32-strict` asks for it.

jaxlib 0.10 hands dots, convolutions and reductions to YNNPACK fusions; on this project's AMD
EPYC CPU that made the CNN's training step 2.6x slower (CPU time) than jaxlib 0.7.1, and
switching them off restores 0.7.1's speed within the run-to-run spread (quiet machine: 1324 ms
a step with them, about 450 without, about 440 on 0.7.1; benchmarks/jax_cpu_versions.py has the
measurements; upstream: jax-ml/jax#37465 and #39257). GPU runs are unaffected.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import mmap
import os
from pathlib import Path

YNN_OFF = "--xla_cpu_experimental_ynn_fusion_type="


def switch_off_ynn_fusions() -> str:
    """Add YNN_OFF to XLA_FLAGS unless XLA_FLAGS already sets it, and say what was done.

    XLA reads XLA_FLAGS when JAX first opens a backend, so call this before any computation; a
    jaxlib older than 0.10 neither has the fusions nor knows the flag (XLA aborts on unknown
    flags, so it is not set there)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "ynn_fusion_type" in flags:
        return "as set in XLA_FLAGS"
    if tuple(int(p) for p in importlib.metadata.version("jaxlib").split(".")[:2]) < (0, 10):
        return "not applicable (jaxlib < 0.10)"
    if jaxlib_knows_flag(YNN_OFF.strip("-=")) is False:  # a later jaxlib may drop the flag
        return "not applicable (this jaxlib has no such flag)"
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        return "on: JAX had started before this was called, XLA_FLAGS left alone"
    os.environ["XLA_FLAGS"] = f"{flags} {YNN_OFF}".strip()
    return "off"


def jaxlib_knows_flag(name: str) -> bool | None:
    """Whether the installed jaxlib's XLA defines flag `name` (its name is in the library that
    parses XLA_FLAGS); None where that library is not where jaxlib 0.10 keeps it."""
    spec = importlib.util.find_spec("jaxlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    library = Path(list(spec.submodule_search_locations)[0]) / "libjax_common.so"
    if not library.is_file():
        return None
    with open(library, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(name.encode()) != -1


def strict_fp32() -> str:
    """True fp32 products (no TF32 on a GPU; the CPU computes fp32 either way); what is in
    effect, read back. Call it before the first computation: jitted functions keep the
    precision they were traced with."""
    import jax

    jax.config.update("jax_default_matmul_precision", "highest")
    return f"jax_default_matmul_precision={jax.config.jax_default_matmul_precision}"
