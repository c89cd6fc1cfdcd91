"""Which GPU and which precision a Julia row runs with, seen from Python.

Knet 1.4 accepts CUDA.jl <= 3, whose compiler generates code up to sm_86 (CUDA.jl v3.13.1
deps/compatibility.jl: LLVM's NVPTX back-end, `llvm_cap_db`, stops at 8.6, and the toolkit's
`cuda_cap_db` at 8.7; code is made for the newest capability both support). A GPU of the same
major version runs sm_86 code; on a Hopper GPU (9.0) or newer the first kernel would fail, so
`julia_impls/knet/device.jl` runs `--device auto` on the CPU there and refuses `--device
cuda`. The same rule is applied here from `nvidia-smi` (no Julia started), so that `list` can
say so, the adapter can refuse `--device cuda` before Julia starts, and on a machine with GPUs
of both kinds pin Knet to those it can use. The precision label of a Julia result is written
here too, from the facts the Julia side reports (docs/benchmarks.md §8).
"""

from __future__ import annotations

import os

from harness import nvidia
from harness.nvidia import GPU

KNET_FIRST_UNSUPPORTED = (9, 0)  # CUDA.jl 3.13 generates code up to sm_86 (see above)
CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"


def gpus() -> list[GPU]:
    """Every GPU whose compute capability `nvidia-smi` gives (harness.nvidia); a driver that
    cannot tell (before R510) gives none, and Knet's rule is then not applied."""
    return [gpu for gpu in nvidia.gpus() if gpu.capability is not None]


def gpu_capabilities() -> list[tuple[str, tuple[int, int]]]:
    """(name, compute capability) of every GPU `nvidia-smi` lists."""
    return [(gpu.name, gpu.capability) for gpu in gpus()]


def knet_too_new() -> list[tuple[str, tuple[int, int]]]:
    """The GPUs here that Knet's CUDA.jl 3 cannot generate code for."""
    return [(gpu.name, gpu.capability) for gpu in gpus()
            if gpu.capability >= KNET_FIRST_UNSUPPORTED]


def _too_new_text(name: str, capability: tuple[int, int]) -> str:
    return (f"{name} has compute capability {capability[0]}.{capability[1]}; Knet's CUDA.jl 3 "
            "generates code up to sm_86")


def knet_gpu_note() -> str | None:
    """What `list` says beside the Knet rows on a machine with a GPU too new for them: on the
    CPU (every GPU too new), or which GPU Knet takes (mixed GPUs)."""
    every = gpus()
    too_new = [gpu for gpu in every if gpu.capability >= KNET_FIRST_UNSUPPORTED]
    if not too_new:
        return None
    first = _too_new_text(too_new[0].name, too_new[0].capability)
    usable = [gpu for gpu in every if gpu.capability < KNET_FIRST_UNSUPPORTED]
    if not usable:
        return (f"{first}, so Knet runs on the CPU here with --device auto and --device cuda "
                "fails; the flux row uses this GPU")
    names = ", ".join(sorted({gpu.name for gpu in usable}))
    if os.environ.get(CUDA_VISIBLE_DEVICES) is not None:
        return (f"{first}. Knet takes the GPU with the most free memory among those "
                f"CUDA_VISIBLE_DEVICES={os.environ[CUDA_VISIBLE_DEVICES]} leaves it; if that "
                f"is too new it runs on the CPU (--device auto) or fails (--device cuda): list "
                f"only GPUs it can use ({names}) there, or unset it and the harness pins them")
    return (f"{first}, so the Knet runs are pinned to the GPUs it can use ({names}) with "
            "CUDA_VISIBLE_DEVICES; Knet takes the one with the most free memory")


def knet_gpu_pin() -> dict[str, str]:
    """The environment that leaves a Knet run only the GPUs it can compile for, on a machine
    that has GPUs both older and newer than CUDA.jl 3 knows: CUDA_VISIBLE_DEVICES with their
    UUIDs. Knet's `__init__` (Knet.jl src/Knet.jl) takes the GPU with the most free memory,
    which could otherwise be the one it has no code for. {} when there is nothing to choose (no
    GPU, all usable, none usable) or CUDA_VISIBLE_DEVICES is already set: a user's or a
    scheduler's choice stands (the `list` note says what Knet then takes)."""
    every = gpus()
    usable = [gpu for gpu in every if gpu.capability < KNET_FIRST_UNSUPPORTED]
    if not usable or len(usable) == len(every) or CUDA_VISIBLE_DEVICES in os.environ:
        return {}
    return {CUDA_VISIBLE_DEVICES: ",".join(gpu.uuid for gpu in usable)}


def knet_cuda_problem() -> str | None:
    """Why `--device cuda` cannot work for Knet here: every GPU nvidia-smi lists is too new."""
    every = gpus()
    if not every or len(knet_too_new()) < len(every):
        return None
    return f"--device cuda: {knet_gpu_note()}. Run the Knet rows with --device cpu or auto"


def precision_label(flavor: str, facts: dict[str, str]) -> str:
    """The record's `precision` (docs/benchmarks.md §8) from what the Julia side reports:
    device, CUDA.jl's math mode, the GPU's compute capability, NVIDIA_TF32_OVERRIDE, and
    `cudnn_tf32` - which cuDNN calls of this benchmark's file could use TF32 ("convolutions",
    "GRU", or "none": a row of cuBLAS matmuls and element-wise kernels only, the Flux GRU and
    both Transformers)."""
    if facts.get("device") != "cuda":
        return ("fp32-strict (the CPU computes fp32 only; NVIDIA_TF32_OVERRIDE=0 for the GPU)"
                if facts.get("precision_choice") == "strict" else "fp32")
    mode = facts.get("math_mode", "?")
    if facts.get("tf32_override") == "0":
        return (f"fp32-strict (NVIDIA_TF32_OVERRIDE=0: no TF32 in cuBLAS or cuDNN; "
                f"CUDA.jl math_mode={mode})")
    major, _, _ = facts.get("compute_capability", "").partition(".")
    if major.isdigit() and int(major) < 8:
        return f"fp32 (no TF32 below compute capability 8.0; CUDA.jl math_mode={mode})"
    cudnn = facts.get("cudnn_tf32", "cuDNN calls")
    if mode == "FAST_MATH":
        users = "cuBLAS" if cudnn == "none" else "cuBLAS and cuDNN"
        return f"tf32-where-allowed (CUDA.jl math_mode=FAST_MATH: {users} may use TF32)"
    matmul = "cuBLAS matmuls fp32" if mode in ("DEFAULT_MATH", "PEDANTIC_MATH") else "cuBLAS ?"
    if cudnn == "none":
        return (f"fp32 (CUDA.jl math_mode={mode}: {matmul}; no cuDNN convolution or RNN, the "
                "calls that could use TF32)")
    if flavor == "knet" or mode == "PEDANTIC_MATH":
        conv = ("cuDNN's default math type, which allows TF32" if flavor == "knet"
                else "cuDNN's CUDNN_DEFAULT_MATH, which still allows TF32")
        return (f"tf32-where-allowed (CUDA.jl math_mode={mode}: {matmul}; {cudnn} under {conv}; "
                "NVIDIA_TF32_OVERRIDE=0 turns it off)")
    return (f"tf32-where-allowed (CUDA.jl math_mode={mode}: {matmul}; cuDNN {cudnn} with "
            "CUDNN_TENSOR_OP_MATH may use TF32)")
