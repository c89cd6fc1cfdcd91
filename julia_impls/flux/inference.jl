# Flux.jl: docs/benchmarks.md §4, ResNet-50 (torchvision v1.5) features: 2048-d after the global average pool,
# batch norm in inference mode (`testmode!`).
#
# Called from Python through harness/julia/bridge.py (`JuliaResNet50Features(flavor="flux")`):
# images arrive as (W, H, C, N), the canonical NCHW array read column-major; canonical weights
# arrive one tensor at a time through `load_weight` before `build` (kernels (kW, kH, in, out),
# already flipped for Flux's `Conv`, a true convolution).
# Flux functions relied on (FluxML/Flux.jl, v0.16): Conv(weight, false; stride, pad) (no
# bias), BatchNorm(C, act) with fields γ, β, μ, σ² and eps 1f-5 (src/layers/normalise.jl, as
# torchvision), MaxPool((3, 3); pad=1, stride=2), GlobalMeanPool, Parallel(+, ...), Chain,
# Flux.flatten, testmode!.

module FluxResNet50

using Flux: Flux, Chain, Conv, BatchNorm, MaxPool, GlobalMeanPool, Parallel, relu

include("device.jl")
include(joinpath(@__DIR__, "..", "resnet50_layout.jl"))

mutable struct State
    dev::Any
    precision::String  # "default" or "strict" (device.jl)
    images::Array{Float32,4}
    given::Dict{String,Array{Float32}}  # canonical tensors handed over before build
    model::Any
    function State(device::AbstractString; precision::AbstractString="default")
        dev = device_for(device)
        return new(dev, choose_precision(precision, dev), zeros(Float32, 0, 0, 0, 0),
                   Dict{String,Array{Float32}}())
    end
end

# == data ==
function prepare(s::State, images)
    s.images = Array{Float32,4}(images)  # (224, 224, 3, N) on the host; batches are copied
    return nothing
end

# == model ==
load_weight(s::State, name::AbstractString, value) = (s.given[name] = Array{Float32}(value); nothing)

conv(w, name; stride=1, pad=0) = Conv(w[name], false; stride=stride, pad=pad)

function norm(w, name, act=identity)
    b = BatchNorm(length(w["$name.weight"]), act)
    b.γ .= w["$name.weight"]
    b.β .= w["$name.bias"]
    b.μ .= w["$name.running_mean"]
    b.σ² .= w["$name.running_var"]
    return b
end

relu_sum(x) = relu.(x)

function bottleneck(w, name, stride, down)
    main = Chain(conv(w, "$name.conv1.weight"), norm(w, "$name.bn1", relu),
                 conv(w, "$name.conv2.weight"; stride=stride, pad=1), norm(w, "$name.bn2", relu),
                 conv(w, "$name.conv3.weight"), norm(w, "$name.bn3"))
    shortcut = down ? Chain(conv(w, "$name.downsample.0.weight"; stride=stride),
                            norm(w, "$name.downsample.1")) : identity
    return Chain(Parallel(+, main, shortcut), relu_sum)
end

function build(s::State, seed::Integer; kw...)  # kw: the config (`extract` gets each batch's range)
    w = resnet50_host_weights(s.given, seed)
    model = Chain(conv(w, "conv1.weight"; stride=2, pad=3), norm(w, "bn1", relu),
                  MaxPool((3, 3); pad=1, stride=2),
                  [bottleneck(w, name, stride, down)
                   for (name, _, _, stride, down) in resnet50_blocks()]...,
                  GlobalMeanPool(), Flux.flatten)  # (2048, N)
    s.model = Flux.testmode!(s.dev(model))  # batch norm uses the running statistics
    return nothing
end

# == features ==
"Features (2048, last - first + 1) of images first:last (1-based, inclusive), on the host."
extract(s::State, first::Integer, last::Integer) =
    Flux.cpu_device()(s.model(s.dev(s.images[:, :, :, first:last])))

# == bridge ==
# What harness/julia/bridge.py calls besides the sections above.
sync(s::State) = sync_device(s.dev)
info(s::State) = run_info(s.dev, s.precision; cudnn_tf32="convolutions")

end # module
