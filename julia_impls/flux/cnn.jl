# Flux.jl: docs/benchmarks.md §2, the VGG-style CNN on CIFAR-10, trained with SGD + heavy-ball momentum.
#
# Called from Python through harness/julia/bridge.py (`JuliaCNN(flavor="flux")`): images arrive
# as (W, H, C, N) - the canonical C-ordered NCHW array read column-major, no copy -, labels and
# each epoch's permutation 1-based.
# Flux functions relied on (FluxML/Flux.jl, v0.16):
#   Chain, Dense, Dropout, MaxPool           src/layers/basic.jl, src/layers/conv.jl
#   Conv((3,3), in => out; pad=1)            src/layers/conv.jl: WHCN input, kernel
#       (kW, kH, in, out), Glorot-uniform init and zero bias by default; a true convolution
#       (NNlib flips the kernel), so the bridge flips canonical kernels when it loads them
#   Flux.flatten                             (W*H*C, N), W fastest: PyTorch's C,H,W order
#   Flux.Losses.logitcrossentropy            softmax folded into the loss, mean over the batch
#   Flux.setup, Flux.update!, Flux.gradient  src/train.jl, src/gradient.jl (Zygote)
#   Optimisers.Momentum(eta, rho)            FluxML/Optimisers.jl src/rules.jl:
#       v = rho*v + eta*g; x -= v: PyTorch's heavy-ball (v = 0.9v + g; x -= lr*v) scaled by
#       eta, identical for a constant learning rate
#   trainmode!/testmode!                     dropout on in training, off in prediction

module FluxCNN

using Flux: Flux, Chain, Conv, Dense, Dropout, MaxPool, relu
import Optimisers
using Random: Random

include("device.jl")

mutable struct State
    dev::Any
    precision::String  # "default" or "strict" (device.jl)
    xtrain::Array{Float32,4}
    ytrain::Vector{Int}
    xtest::Array{Float32,4}
    model::Any
    rule::Any
    opt::Any
    batch::Int
    n_classes::Int
    function State(device::AbstractString; precision::AbstractString="default")
        dev = device_for(device)
        return new(dev, choose_precision(precision, dev))
    end
end

# == data ==
"Host copies in Flux's WHCN layout; each batch goes to the device per step (as PyTorch's row)."
function prepare(s::State, xtrain, ytrain, xtest)
    s.xtrain = Array{Float32,4}(xtrain)  # (32, 32, 3, N)
    s.ytrain = Vector{Int}(ytrain)       # 1..10
    s.xtest = Array{Float32,4}(xtest)
    return nothing
end

# == model ==
relu_after_pool(x) = relu.(x)

function build(s::State, seed::Integer; batch_size, lr, momentum, n_classes, kw...)  # kw: the
    # config's other fields (the bridge passes every one)
    Random.seed!(seed)  # Flux's glorot_uniform draws from the default RNG
    s.batch, s.n_classes = batch_size, n_classes
    model = Chain(
        conv1=Conv((3, 3), 3 => 50, relu; pad=1),
        conv2=Conv((3, 3), 50 => 50; pad=1),
        pool1=MaxPool((2, 2)), relu2=relu_after_pool, drop1=Dropout(0.25),
        conv3=Conv((3, 3), 50 => 100, relu; pad=1),
        conv4=Conv((3, 3), 100 => 100; pad=1),
        pool2=MaxPool((2, 2)), relu4=relu_after_pool, drop2=Dropout(0.25),
        flatten=Flux.flatten,                     # (8*8*100, N)
        fc1=Dense(100 * 8 * 8 => 512, relu), drop3=Dropout(0.5),
        fc2=Dense(512 => n_classes))              # logits
    s.model = s.dev(model)

    # == loss and optimizer ==
    # The loss, Flux.Losses.logitcrossentropy, is in train_epoch.
    s.rule = Optimisers.Momentum(lr, momentum)
    s.opt = Flux.setup(s.rule, s.model)
    return nothing
end

# == training epoch ==
function train_epoch(s::State, order)
    order = Vector{Int}(order)
    Flux.trainmode!(s.model)  # dropout on
    for i in 1:s.batch:length(order)
        idx = order[i:i+s.batch-1]
        x = s.dev(s.xtrain[:, :, :, idx])
        y = s.dev(Flux.onehotbatch(s.ytrain[idx], 1:s.n_classes))
        grads = Flux.gradient(m -> Flux.Losses.logitcrossentropy(m(x), y), s.model)
        Flux.update!(s.opt, s.model, grads[1])
    end
    return nothing
end

# == prediction ==
"Logits (classes, n_test) on the host, in batches (the last one partial), dropout off."
function predict(s::State)
    Flux.testmode!(s.model)
    n = size(s.xtest, 4)
    cpu = Flux.cpu_device()
    return reduce(hcat, [cpu(s.model(s.dev(s.xtest[:, :, :, i:min(i + s.batch - 1, n)])))
                         for i in 1:s.batch:n])
end

# == bridge ==
# What harness/julia/bridge.py calls besides the sections above.
sync(s::State) = sync_device(s.dev)
info(s::State) = run_info(s.dev, s.precision; cudnn_tf32="convolutions")

const LAYERS = (:conv1, :conv2, :conv3, :conv4, :fc1, :fc2)

"Canonical weights, converted by the bridge (kernels flipped, (kW, kH, in, out); dense (out, in))."
function load_weight(s::State, name::AbstractString, value)
    layer, field = split(name, ".")
    dest = getfield(getfield(s.model.layers, Symbol(layer)), field == "weight" ? :weight : :bias)
    size(dest) == size(value) || error("$name: shape $(size(value)), the model has $(size(dest))")
    copyto!(dest, Array{Float32}(value))
    s.opt = Flux.setup(s.rule, s.model)  # no steps taken yet
    return nothing
end

"Every parameter on the host, in Flux's shapes (the bridge converts them back)."
function get_weights(s::State)
    layers = s.model.layers
    return Dict{String,Array{Float32}}(
        "$layer.$field" => Array(getfield(getfield(layers, layer), field))
        for layer in LAYERS for field in (:weight, :bias))
end

"One step as in train_epoch on the batch (x, y), dropout off; the loss before the step."
function verify_step(s::State, x, y)
    Flux.testmode!(s.model)
    x = s.dev(Array{Float32,4}(x))
    y = s.dev(Flux.onehotbatch(Vector{Int}(y), 1:s.n_classes))
    loss, grads = Flux.withgradient(m -> Flux.Losses.logitcrossentropy(m(x), y), s.model)
    Flux.update!(s.opt, s.model, grads[1])
    return Float64(loss)
end

# Flux's Conv and Dense fuse their activation: conv1, conv3 and fc1 give relu1, relu3, relu5.
const ACTIVATION_NAMES = (conv1="relu1", conv2="conv2", pool1="pool1", relu2="relu2",
                          conv3="relu3", conv4="conv4", pool2="pool2", relu4="relu4",
                          flatten="flatten", fc1="relu5", fc2="fc2")

"The outputs of every layer in inference mode, (W, H, C, N) or (features, N), on the host."
function activations(s::State, x)
    Flux.testmode!(s.model)
    outputs = Flux.activations(s.model, s.dev(Array{Float32,4}(x)))
    return Dict{String,Array{Float32}}(
        ACTIVATION_NAMES[layer] => Array(Flux.cpu_device()(out))
        for (layer, out) in zip(keys(s.model.layers), outputs) if haskey(ACTIVATION_NAMES, layer))
end

end # module
