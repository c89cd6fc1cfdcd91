# torchvision's ResNet-50 (v1.5) by parameter name, shared by knet/inference.jl and
# flux/inference.jl. Plain Julia: no package beyond the Random stdlib.
#
# Names are torchvision's state_dict names ("layer2.0.downsample.0.weight"); kernels are in
# Julia's layout (kW, kH, in, out), which the bridge produced from PyTorch's (out, in, kH, kW).

using Random: Random

# (planes, blocks, stride of the first block) per stage; bottleneck outputs are 4 * planes
const RESNET50_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))

"Each bottleneck as (name, inplanes, planes, stride, has_downsample). v1.5: the stride sits on
the 3x3 convolution (and on the 1x1 downsample of the shortcut)."
function resnet50_blocks()
    blocks = Tuple{String,Int,Int,Int,Bool}[]
    inplanes = 64
    for (stage, (planes, n, stride)) in enumerate(RESNET50_STAGES)
        for b in 0:n-1
            push!(blocks, ("layer$stage.$b", inplanes, planes, b == 0 ? stride : 1, b == 0))
            inplanes = 4 * planes
        end
    end
    return blocks
end

"Every convolution kernel's shape (kW, kH, in, out) and every batch norm's channels, by name."
function resnet50_tensors()
    convs = Dict{String,NTuple{4,Int}}("conv1.weight" => (7, 7, 3, 64))
    norms = Dict{String,Int}("bn1" => 64)
    for (name, inplanes, planes, _, down) in resnet50_blocks()
        convs["$name.conv1.weight"] = (1, 1, inplanes, planes)
        convs["$name.conv2.weight"] = (3, 3, planes, planes)
        convs["$name.conv3.weight"] = (1, 1, planes, 4 * planes)
        norms["$name.bn1"], norms["$name.bn2"], norms["$name.bn3"] = planes, planes, 4 * planes
        if down
            convs["$name.downsample.0.weight"] = (1, 1, inplanes, 4 * planes)
            norms["$name.downsample.1"] = 4 * planes
        end
    end
    return convs, norms
end

"Host arrays for every tensor: the canonical ones in `given` (checked against the layout),
seeded random ones for the rest - He-normal kernels with torchvision's fan_out, batch norms as
freshly made (weight 1, bias 0, running mean 0, running var 1)."
function resnet50_host_weights(given::AbstractDict, seed::Integer)
    convs, norms = resnet50_tensors()
    expected = Set(keys(convs))
    for (name, c) in norms, field in ("weight", "bias", "running_mean", "running_var")
        push!(expected, "$name.$field")
    end
    unknown = setdiff(Set(keys(given)), expected)
    isempty(unknown) || error("not ResNet-50 tensors: $(join(sort!(collect(unknown)), ", "))")
    rng = Random.MersenneTwister(seed)
    w = Dict{String,Array{Float32}}()
    for name in sort!(collect(keys(convs)))  # sorted: the same draws on every run
        shape = convs[name]
        w[name] = haskey(given, name) ? given[name] :
                  randn(rng, Float32, shape) .* Float32(sqrt(2 / (shape[1] * shape[2] * shape[4])))
        size(w[name]) == shape || error("$name has shape $(size(w[name])), expected $shape")
    end
    for (name, c) in norms
        defaults = ("weight" => ones, "bias" => zeros, "running_mean" => zeros,
                    "running_var" => ones)
        for (field, init) in defaults
            key = "$name.$field"
            w[key] = haskey(given, key) ? vec(given[key]) : init(Float32, c)
            length(w[key]) == c || error("$key has $(length(w[key])) values, expected $c")
        end
    end
    return w
end
