# Device, precision, synchronisation and the run's description, shared by the Knet files
# (`include`d inside each module). Knet 1.4 picks CuArray{Float32} as `Knet.atype()` when
# CUDA.jl sees a GPU (Knet.jl src/Knet.jl, `__init__`); the harness's --device decides here.

using CUDA: CUDA
import TOML

# Knet 1.4 accepts CUDA.jl <= 3, whose compiler generates code up to sm_86 (CUDA.jl v3.13.1
# deps/compatibility.jl: LLVM's NVPTX back-end, `llvm_cap_db`, stops at 8.6 and the toolkit's
# `cuda_cap_db` at 8.7; src/compiler/gpucompiler.jl takes the highest capability both support
# that the device has). A GPU of major version 8 runs sm_86 code; on a Hopper GPU (H100, H200:
# 9.0) or newer the first kernel would fail. harness/julia/device.py applies the same rule with
# nvidia-smi, for `python -m harness list`, and pins mixed machines (CUDA_VISIBLE_DEVICES).
const FIRST_UNSUPPORTED_CAPABILITY = v"9.0"

capability_text(v::VersionNumber) = "$(v.major).$(v.minor)"

"Why Knet cannot compute on the GPU CUDA.jl selected, or `nothing` when it can."
function gpu_problem()
    CUDA.functional() || return "CUDA.functional() is false: CUDA.jl sees no usable GPU"
    dev = CUDA.device()
    cap = CUDA.capability(dev)
    cap < FIRST_UNSUPPORTED_CAPABILITY && return nothing
    return "$(CUDA.name(dev)) has compute capability $(capability_text(cap)), newer than " *
           "CUDA.jl $(version_of(CUDA)) (the newest Knet 1.4 accepts) generates code for " *
           "(up to sm_86)"
end

usable(dev) = CUDA.capability(dev) < FIRST_UNSUPPORTED_CAPABILITY

"""Knet's `__init__` made the GPU with the most free memory current; where that one is too new
and another is not (a mixed machine that CUDA_VISIBLE_DEVICES does not narrow), take the usable
one with the most free memory instead, by the same measure."""
function usable_device!()
    candidates = filter(usable, collect(CUDA.devices()))
    (isempty(candidates) || usable(CUDA.device())) && return nothing
    free(d) = CUDA.has_nvml() ? CUDA.NVML.memory_info(CUDA.NVML.Device(CUDA.uuid(d))).free : 0
    CUDA.device!(candidates[argmax(map(free, candidates))])
    return nothing
end

"""(array type, why not the GPU) for the harness's --device: "auto" is the GPU when Knet can
use it and otherwise the CPU, saying why when a GPU is there; "cuda" fails instead of falling
back. Knet's own default array type is set to match."""
function choose_device(device::AbstractString)
    device in ("auto", "cuda", "cpu") || error("unknown device $(repr(device))")
    atype, note = Array{Float32}, ""
    if device != "cpu"
        CUDA.functional() && usable_device!()
        problem = gpu_problem()
        if problem === nothing
            atype = CUDA.CuArray{Float32}
        elseif device == "cuda"
            error("--device cuda: Knet cannot use the GPU here: $problem. Run the Knet rows " *
                  "with --device cpu (or auto, which falls back to the CPU), or use the flux " *
                  "row on this GPU")
        elseif CUDA.functional()  # a GPU is there, Knet cannot use it: say so in `info`
            note = "ran on the CPU: $problem"
        end
    end
    Knet.array_type[] = atype
    return atype, note
end

on_gpu(atype) = atype <: CUDA.CuArray

include(joinpath(@__DIR__, "..", "precision.jl"))  # choose_precision: one rule for both flavours

"docs/benchmarks.md §7: every clock read waits for the GPU (CUDA.jl's `CUDA.synchronize()`)."
function sync_device(atype)
    on_gpu(atype) && CUDA.synchronize()
    return nothing
end

"A package's version; `pkgversion` exists from Julia 1.9 on, Knet also runs on 1.6-1.8."
function version_of(m::Module)
    isdefined(Base, :pkgversion) && return string(Base.pkgversion(m))
    return string(TOML.parsefile(joinpath(pkgdir(m), "Project.toml"))["version"])
end

"""What the harness stores with every result (strings only: they cross the bridge as is). The
precision is reported as facts - math mode, compute capability, the TF32 override, the choice,
and which cuDNN calls of this file could use TF32 (`cudnn_tf32`: "convolutions", "GRU" or
"none"; each file says) - from which harness/julia/device.py writes the record's label."""
function run_info(atype, note::AbstractString, precision::AbstractString;
                  cudnn_tf32::AbstractString, cudnn::Union{Bool,Nothing}=nothing)
    gpu = on_gpu(atype)
    info = Dict{String,String}(
        "framework_version" => version_of(Knet),
        "julia_version" => string(VERSION),
        "device" => gpu ? "cuda" : "cpu",
        "device_name" => gpu ? CUDA.name(CUDA.device()) : Sys.cpu_info()[1].model,
        "precision_choice" => precision,
        "tf32_override" => get(ENV, "NVIDIA_TF32_OVERRIDE", ""),
        "cuda_jl" => version_of(CUDA),
        "julia_threads" => string(Threads.nthreads()),
        "array_type" => string(atype),
        "cudnn_tf32" => cudnn_tf32,
    )
    if gpu
        info["math_mode"] = string(CUDA.math_mode())
        info["compute_capability"] = capability_text(CUDA.capability(CUDA.device()))
    end
    isempty(note) || (info["device_note"] = note)
    cudnn === nothing || (info["cudnn"] = cudnn ? "yes" : "no")
    return info
end
