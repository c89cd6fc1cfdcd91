# The precision rule of docs/benchmarks.md §8, the same for both flavours: `include`d by each
# flavour's device.jl, inside each module, after its `using CUDA: CUDA` and beside its `on_gpu`.

"""docs/benchmarks.md §8. "default": CUDA.jl's DEFAULT_MATH, as a Knet or Flux user gets it
(cuDNN convolutions may use tensor-op math - TF32 on compute capability >= 8.0 - whether through
Flux's CUDNN_TENSOR_OP_MATH or cuDNN's default math type under Knet; CUBLAS matmuls fp32).
"strict": PEDANTIC_MATH, and NVIDIA_TF32_OVERRIDE=0, which cuBLAS and cuDNN read when they
load - so it must be in the environment before Julia starts (the fp32-strict rows and `verify`
set it); cuDNN's default math type still allows TF32 without it. The override alone also
selects strict. `target` is the flavour's device (Flux) or array type (Knet), as `on_gpu` takes
it. Returns the choice in effect."""
function choose_precision(precision::AbstractString, target)
    precision in ("default", "strict") || error("unknown precision $(repr(precision)): " *
                                                "\"default\" or \"strict\"")
    override = get(ENV, "NVIDIA_TF32_OVERRIDE", "") == "0"
    if precision == "strict" && !override
        error("precision \"strict\" needs NVIDIA_TF32_OVERRIDE=0 in the environment before " *
              "Julia starts (cuDNN reads it when it loads): the fp32-strict rows set it")
    end
    strict = precision == "strict" || override
    strict && on_gpu(target) && CUDA.math_mode!(CUDA.PEDANTIC_MATH)
    return strict ? "strict" : "default"
end
