# Device, precision, synchronisation and the run's description, shared by the Flux files
# (`include`d inside each module). Flux moves models and arrays with MLDataDevices'
# `gpu_device()`/`cpu_device()` (re-exported by Flux, src/Flux.jl); loading cuDNN makes Flux's
# CUDA extension (ext/FluxCUDAExt.jl) use it for convolutions and pooling.

using CUDA: CUDA
import cuDNN

"The device the harness asked for: \"auto\" is the GPU when CUDA.jl sees one."
function device_for(device::AbstractString)
    device in ("auto", "cuda", "cpu") || error("unknown device $(repr(device))")
    if device == "cuda" && !CUDA.functional()
        error("--device cuda was asked for, but CUDA.functional() is false: CUDA.jl sees no " *
              "usable GPU")
    end
    return device != "cpu" && CUDA.functional() ? Flux.gpu_device(force=true) : Flux.cpu_device()
end

on_gpu(dev) = dev isa Flux.CUDADevice

include(joinpath(@__DIR__, "..", "precision.jl"))  # choose_precision: one rule for both flavours

"docs/benchmarks.md §7: every clock read waits for the GPU (CUDA.jl's `CUDA.synchronize()`)."
function sync_device(dev)
    on_gpu(dev) && CUDA.synchronize()
    return nothing
end

"""What the harness stores with every result (strings only: they cross the bridge as is). The
precision is reported as facts - math mode, compute capability, the TF32 override, the choice,
and which cuDNN calls of this file could use TF32 (`cudnn_tf32`: "convolutions" or "none";
each file says) - from which harness/julia/device.py writes the record's label."""
function run_info(dev, precision::AbstractString; cudnn_tf32::AbstractString,
                  cudnn::Union{Bool,Nothing}=nothing)
    gpu = on_gpu(dev)
    info = Dict{String,String}(
        "framework_version" => string(pkgversion(Flux)),
        "julia_version" => string(VERSION),
        "device" => gpu ? "cuda" : "cpu",
        "device_name" => gpu ? CUDA.name(CUDA.device()) : Sys.cpu_info()[1].model,
        "precision_choice" => precision,
        "tf32_override" => get(ENV, "NVIDIA_TF32_OVERRIDE", ""),
        "cuda_jl" => string(pkgversion(CUDA)),
        "julia_threads" => string(Threads.nthreads()),
        "cudnn_tf32" => cudnn_tf32,
    )
    if gpu
        cap = CUDA.capability(CUDA.device())
        info["math_mode"] = string(CUDA.math_mode())
        info["compute_capability"] = "$(cap.major).$(cap.minor)"
    end
    cudnn === nothing || (info["cudnn"] = cudnn ? "yes" : "no")
    return info
end
