# Device, synchronisation and the run's description, shared by the three Knet files
# (`include`d inside each module). Knet 1.4 picks CuArray{Float32} as `Knet.atype()` when
# CUDA.jl sees a GPU (Knet.jl src/Knet.jl, `__init__`); the harness's --device decides here.

using CUDA: CUDA
import TOML

"The array type Knet computes with: CuArray{Float32} on a GPU, Array{Float32} on the CPU."
function array_type(device::AbstractString)
    if device == "cuda" && !CUDA.functional()
        error("--device cuda was asked for, but CUDA.functional() is false: CUDA.jl sees " *
              "no usable GPU (driver, or a GPU newer than CUDA.jl 3 supports)")
    end
    device in ("auto", "cuda", "cpu") || error("unknown device $(repr(device))")
    return device != "cpu" && CUDA.functional() ? CUDA.CuArray{Float32} : Array{Float32}
end

on_gpu(atype) = atype <: CUDA.CuArray

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

"What the harness stores with every result (strings only: they cross the bridge as is)."
function run_info(atype; cudnn::Union{Bool,Nothing}=nothing)
    gpu = on_gpu(atype)
    info = Dict{String,String}(
        "framework_version" => version_of(Knet),
        "julia_version" => string(VERSION),
        "device" => gpu ? "cuda" : "cpu",
        "device_name" => gpu ? CUDA.name(CUDA.device()) : Sys.cpu_info()[1].model,
        "precision" => gpu ? "fp32 (CUDA.jl math_mode=$(CUDA.math_mode()))" : "fp32",
        "cuda_jl" => version_of(CUDA),
        "julia_threads" => string(Threads.nthreads()),
        "array_type" => string(atype),
    )
    cudnn === nothing || (info["cudnn"] = cudnn ? "yes" : "no")
    return info
end
