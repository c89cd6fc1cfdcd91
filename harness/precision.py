"""The precisions a run can ask for (`--precision`, docs/benchmarks.md §8), and what becomes of
a row asked for one.

`default` is each framework's own default (fp32 on the CPU; TF32 where it allows it on a GPU).
A row declares the other precisions it has in its registry row (`Row.precisions`: precision ->
how it does it). Asked for one, the row runs as a variant of that name (the record's `variant`
and `options["precision"]`), so tables show it as its own row beside the default; asked for one
it lacks, it is a skipped row with the reason, never a silent default run. The record's
`precision` is what the implementation saw its outputs computed in, and `check` fails a run
whose outputs were not in the precision it was asked for.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from harness.registry import Row

DEFAULT = "default"
FP32_STRICT = "fp32-strict"
BF16_MIXED = "bf16-mixed"
PRECISIONS = {
    DEFAULT: "the framework's default: fp32 on the CPU, TF32 where the framework allows it on a "
             "GPU (the record says which)",
    FP32_STRICT: "true fp32 everywhere: no TF32 on GPUs, no bf16 passes for fp32 on CPUs",
    BF16_MIXED: "the framework's recommended mixed precision: bf16 compute, fp32 weights "
                  "(master copy) and fp32 loss",
}


# The environment of a strict-fp32 child, whatever its framework: cuBLAS and cuDNN read
# NVIDIA_TF32_OVERRIDE as they load (no framework switch turns cuDNN's TF32 off for every call),
# oneDNN its default floating-point math mode (STRICT is its default; an inherited BF16 or TF32
# would let fp32 primitives compute in those), JAX its default matmul precision, MLX and tinygrad
# their TF32 switches (MLX's default is TF32 where the hardware has it). Each row's own switch
# (Row.precisions) comes on top. `verify` computes in strict fp32 with it too.
STRICT_FP32_ENV = {"NVIDIA_TF32_OVERRIDE": "0", "ONEDNN_DEFAULT_FPMATH_MODE": "STRICT",
                   "JAX_DEFAULT_MATMUL_PRECISION": "highest", "MLX_ENABLE_TF32": "0",
                   "ALLOW_TF32": "0"}


def parse(text: str) -> list[str]:
    """`--precision`'s comma list, in order, without repeats; ValueError naming the known ones."""
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in PRECISIONS]
    if unknown or not names:
        raise ValueError(f"unknown precision {', '.join(unknown) or repr(text)}: choose from "
                         f"{', '.join(PRECISIONS)} (a comma list runs each)")
    return names


def at_precision(row: Row, precision: str) -> tuple[Row, str | None]:
    """The row that runs `precision`, and None; or the row as it would have been named, and why
    it cannot (the skipped row's reason)."""
    if precision == DEFAULT:
        return row, None
    env = {**row.env, **STRICT_FP32_ENV} if precision == FP32_STRICT else row.env
    variant = replace(row, options={**row.options, "precision": precision, "variant": precision},
                      env=env, description=f"{row.description}; {precision}: "
                                  f"{row.precisions.get(precision, 'not available')}")
    if precision in row.precisions:
        return variant, None
    has = ", ".join(row.precisions) or "nothing but its default"
    return variant, (f"{row.name} has no {precision} here (it has {has}; docs/benchmarks.md §8 "
                     f"lists what each row does)")


class OutputPrecision:
    """For an implementation whose row has bf16-mixed or fp32-strict: whether it was asked for,
    and its outputs handed to the harness as float32 with the dtype they were computed in
    noted, from which `recorded` says what ran."""

    options: dict
    # fp32-strict: what the row's own switch set, read back from the framework (None: nothing)
    strict_settings: str | None = None

    @property
    def bf16(self) -> bool:
        """Asked for bf16 mixed precision (`--precision bf16-mixed`, docs/benchmarks.md §8)."""
        return self.options.get("precision") == BF16_MIXED

    @property
    def strict(self) -> bool:
        """Asked for strict fp32 (`--precision fp32-strict`, docs/benchmarks.md §8)."""
        return self.options.get("precision") == FP32_STRICT

    def outputs(self, values: Any) -> np.ndarray:
        """The model's outputs (a NumPy-convertible array) as float32 NumPy."""
        values = np.asarray(values)
        self.computed = values.dtype
        return values.astype(np.float32)

    def precision_record(self, how: str, otherwise: str) -> str:
        return recorded(self.options.get("precision"), getattr(self, "computed", None), how,
                        otherwise, self.strict_settings)


def recorded(asked: str | None, computed: object, how: str, otherwise: str,
             strict: str | None = None) -> str:
    """The record's `precision` for a row that has bf16-mixed or fp32-strict: read from the
    dtype its outputs were computed in (`computed`: a dtype or its name, e.g. torch.bfloat16,
    "bfloat16"), with how the row does bf16 (`how`) or what its strict switch set (`strict`);
    `otherwise` (the row's default description) when neither was asked."""
    name = str(getattr(computed, "name", computed)).rsplit(".", 1)[-1]
    if asked == BF16_MIXED:
        if name == "bfloat16":
            return f"bf16-mixed ({how})"
        return f"fp32 (bf16-mixed was asked for; outputs {computed})"
    if asked == FP32_STRICT:
        if name != "float32":
            return f"{name} (fp32-strict was asked for; outputs {computed})"
        if not strict:
            return "fp32 (fp32-strict was asked for; the row set no switch of its own)"
        return f"fp32-strict ({strict})"
    return otherwise


class NotThatPrecision(RuntimeError):
    """A run computed in another precision than the one it was asked for."""


def check(asked: str, computed: str | None) -> str | None:
    """Why a run asked for `asked` did not compute in it (the record's `precision`, which the
    implementation reads from its outputs' dtypes), or None. An option this module does not
    define (a plugin row's own) is the row's business."""
    if asked == DEFAULT or asked not in PRECISIONS or (computed or "").startswith(asked):
        return None
    return (f"asked for {asked}, but the implementation reports its outputs computed in "
            f"{computed or 'an unreported precision'}: not a {asked} run")


# Where the CPU computes bf16 natively (x86: AVX-512 BF16, AMX; Arm: the BF16 extension).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_bf16_warning(flags: str | None) -> str | None:
    """Said before bf16 runs on a CPU without bf16 instructions (harness.run.host.cpu_flags),
    where frameworks emulate it; None where it has them or the flags are unknown."""
    if flags is None or set(flags.split()) & set(BF16_CPU_FLAGS):
        return None
    return ("this CPU has no bf16 instructions (avx512_bf16, amx_bf16): bf16-mixed runs on it "
            "are emulated and several times slower than fp32 (PyTorch's CNN training step 7x on "
            "a 2-core AMD EPYC without them), a figure of the emulation, not of bf16 hardware")
