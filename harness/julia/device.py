"""Which GPU and which precision a Julia row runs with, seen from Python.

Knet 1.4 accepts CUDA.jl <= 3, whose toolchain generates code up to compute capability 8.7: on
a Hopper GPU (9.0) or newer its first kernel would fail, so `julia_impls/knet/device.jl` runs
`--device auto` on the CPU there and refuses `--device cuda`. The same rule is applied here
from `nvidia-smi` (no Julia started), so that `list` can say so and the adapter can refuse
`--device cuda` before Julia starts. The precision label of a Julia result is written here too,
from the facts the Julia side reports (docs/benchmarks.md §8).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache

KNET_FIRST_UNSUPPORTED = (9, 0)  # CUDA.jl 3.13's toolchain stops at compute capability 8.7


def gpu_capabilities() -> list[tuple[str, tuple[int, int]]]:
    """(name, compute capability) of every GPU `nvidia-smi` lists; [] without nvidia-smi, or
    when it cannot tell (drivers before R510 lack the `compute_cap` field)."""
    path = shutil.which("nvidia-smi")
    if path is None:
        return []
    try:
        return list(_query(path, os.path.getmtime(path)))
    except OSError:
        return []


@lru_cache(maxsize=8)
def _query(path: str, mtime: float) -> tuple[tuple[str, tuple[int, int]], ...]:
    try:
        done = subprocess.run([path, "--query-gpu=name,compute_cap", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    found = []
    for line in done.stdout.splitlines() if done.returncode == 0 else []:
        name, _, cap = line.rpartition(",")
        major, _, minor = cap.strip().partition(".")
        if major.isdigit() and minor.isdigit():
            found.append((name.strip(), (int(major), int(minor))))
    return tuple(found)


def knet_too_new() -> list[tuple[str, tuple[int, int]]]:
    """The GPUs here that Knet's CUDA.jl 3 cannot generate code for."""
    return [(name, cap) for name, cap in gpu_capabilities() if cap >= KNET_FIRST_UNSUPPORTED]


def knet_gpu_note() -> str | None:
    """What `list` says beside the Knet rows on a machine whose GPU is too new for them."""
    too_new = knet_too_new()
    if not too_new:
        return None
    name, (major, minor) = too_new[0]
    return (f"{name} has compute capability {major}.{minor}; Knet's CUDA.jl 3 compiles up to "
            "8.7, so Knet runs on the CPU here with --device auto and --device cuda fails; "
            "the flux row uses this GPU")


def knet_cuda_problem() -> str | None:
    """Why `--device cuda` cannot work for Knet here: every GPU nvidia-smi lists is too new."""
    gpus = gpu_capabilities()
    if not gpus or len(knet_too_new()) < len(gpus):
        return None
    return f"--device cuda: {knet_gpu_note()}. Run the Knet rows with --device cpu or auto"


def precision_label(flavor: str, facts: dict[str, str]) -> str:
    """The record's `precision` (docs/benchmarks.md §8) from what the Julia side reports:
    device, CUDA.jl's math mode, the GPU's compute capability, NVIDIA_TF32_OVERRIDE."""
    if facts.get("device") != "cuda":
        return "fp32"
    mode = facts.get("math_mode", "?")
    if facts.get("tf32_override") == "0":
        return (f"fp32-strict (NVIDIA_TF32_OVERRIDE=0: no TF32 in cuBLAS or cuDNN; "
                f"CUDA.jl math_mode={mode})")
    major, _, _ = facts.get("compute_capability", "").partition(".")
    if major.isdigit() and int(major) < 8:
        return f"fp32 (no TF32 below compute capability 8.0; CUDA.jl math_mode={mode})"
    if mode == "FAST_MATH":
        return "tf32-where-allowed (CUDA.jl math_mode=FAST_MATH: cuBLAS and cuDNN may use TF32)"
    matmul = "cuBLAS matmuls fp32" if mode in ("DEFAULT_MATH", "PEDANTIC_MATH") else "cuBLAS ?"
    if flavor == "knet" or mode == "PEDANTIC_MATH":
        conv = ("cuDNN's default math type, which allows TF32" if flavor == "knet"
                else "cuDNN's CUDNN_DEFAULT_MATH, which still allows TF32")
        return (f"tf32-where-allowed (CUDA.jl math_mode={mode}: {matmul}; convolutions"
                f"{' and GRU' if flavor == 'knet' else ''} under {conv}; "
                "NVIDIA_TF32_OVERRIDE=0 turns it off)")
    return (f"tf32-where-allowed (CUDA.jl math_mode={mode}: {matmul}; cuDNN convolutions "
            "with CUDNN_TENSOR_OP_MATH may use TF32)")
