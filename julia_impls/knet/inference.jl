# Knet.jl: docs/benchmarks.md §4, ResNet-50 (torchvision v1.5) features: 2048-d after the global average pool,
# batch norm in inference mode.
#
# Called from Python through harness/julia/bridge.py (`JuliaResNet50Features(flavor="knet")`):
# images arrive as (W, H, C, N), the canonical NCHW array read column-major; canonical weights
# arrive one tensor at a time through `load_weight` (kernels already (kW, kH, in, out)), before
# `build`.
# Knet functions relied on (denizyuret/Knet.jl, v1.4.10):
#   conv4 (mode=1: cross-correlation, like torchvision), pool (window 3, stride 2, padding 1:
#       max; mode=1: average), mat                    src/ops20/conv.jl
#   batchnorm(x, bnmoments(mean=, var=), [gamma; beta]; training=false): running statistics,
#       eps=1e-5 as torchvision                        src/ops20/batchnorm.jl

module KnetResNet50

using Knet: Knet, conv4, pool, mat, batchnorm, bnmoments, relu

include("device.jl")
include(joinpath(@__DIR__, "..", "resnet50_layout.jl"))

mutable struct State
    atype::Type
    note::String       # why not on the GPU, when --device auto fell back to the CPU
    precision::String  # "default" or "strict" (device.jl)
    images::Array{Float32,4}
    given::Dict{String,Array{Float32}}  # canonical tensors handed over before build
    w::Dict{String,Any}                 # device arrays by torchvision name
    function State(device::AbstractString; precision::AbstractString="default")
        atype, note = choose_device(device)
        return new(atype, note, choose_precision(precision, atype), zeros(Float32, 0, 0, 0, 0),
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

function build(s::State, seed::Integer; kw...)  # kw: the config (`extract` gets each batch's range)
    host = resnet50_host_weights(s.given, seed)
    convs, norms = resnet50_tensors()
    s.w = Dict{String,Any}(name => s.atype(host[name]) for name in keys(convs))
    for (name, c) in norms
        moment(field) = s.atype(reshape(host["$name.$field"], 1, 1, c, 1))
        s.w[name] = (moments=bnmoments(mean=moment("running_mean"), var=moment("running_var")),
                     params=s.atype(vcat(host["$name.weight"], host["$name.bias"])))
    end
    return nothing
end

conv(s, name, x; stride=1, padding=0) = conv4(s.w[name], x; stride=stride, padding=padding, mode=1)
bn(s, name, x) = batchnorm(x, s.w[name].moments, s.w[name].params; training=false)

function bottleneck(s, name, x, stride, down)
    y = relu.(bn(s, "$name.bn1", conv(s, "$name.conv1.weight", x)))
    y = relu.(bn(s, "$name.bn2", conv(s, "$name.conv2.weight", y; stride=stride, padding=1)))
    y = bn(s, "$name.bn3", conv(s, "$name.conv3.weight", y))
    shortcut = down ? bn(s, "$name.downsample.1",
                         conv(s, "$name.downsample.0.weight", x; stride=stride)) : x
    return relu.(y .+ shortcut)
end

function features(s, x)
    x = relu.(bn(s, "bn1", conv(s, "conv1.weight", x; stride=2, padding=3)))
    x = pool(x; window=3, stride=2, padding=1)
    for (name, _, _, stride, down) in resnet50_blocks()
        x = bottleneck(s, name, x, stride, down)
    end
    x = pool(x; window=(size(x, 1), size(x, 2)), mode=1)  # global average: (1, 1, 2048, N)
    return mat(x)                                          # (2048, N)
end

# == features ==
"Features (2048, last - first + 1) of images first:last (1-based, inclusive), on the host."
extract(s::State, first::Integer, last::Integer) =
    Array(features(s, s.atype(s.images[:, :, :, first:last])))

# == bridge ==
# What harness/julia/bridge.py calls besides the sections above.
sync(s::State) = sync_device(s.atype)
info(s::State) = run_info(s.atype, s.note, s.precision; cudnn_tf32="convolutions")

end # module
