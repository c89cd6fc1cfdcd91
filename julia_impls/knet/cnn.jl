# Knet.jl: docs/benchmarks.md §2, the VGG-style CNN on CIFAR-10, trained with SGD + heavy-ball momentum.
#
# Called from Python through harness/julia/bridge.py (`JuliaCNN(flavor="knet")`), which hands
# over NumPy arrays already in Julia's layout: images (W, H, C, N) - the canonical C-ordered
# NCHW array read column-major, no copy -, labels 1-based, each epoch's permutation 1-based.
# Knet functions relied on (denizyuret/Knet.jl, v1.4.10):
#   conv4, pool, mat        src/ops20/conv.jl   (conv4 mode=1: cross-correlation, as cuDNN and
#                                                PyTorch compute it, so canonical kernels load
#                                                unflipped; pool defaults: 2x2 max, stride 2)
#   dropout                 src/ops20/dropout.jl (active only inside @diff: training only)
#   nll                     src/ops20/loss.jl    (log-softmax + mean negative log-likelihood:
#                                                softmax folded into the loss, labels 1-based)
#   param, param0           src/train20/param.jl (Param(atype(xavier_uniform(dims...)));
#                                                xavier_uniform's fans for (3,3,I,O) are 3*3*I
#                                                and 3*3*O, PyTorch's Glorot fans)
#   Momentum, update!       src/train20/update.jl (velocity = gamma*velocity - lr*g; w += velocity:
#                                                PyTorch's heavy-ball v = 0.9v + g, w -= lr*v
#                                                with the sign folded in, for a constant lr)
#   @diff, grad, params     AutoGrad.jl, as used by Knet's own minimize (src/train20/train.jl)

module KnetCNN

using Knet: Knet, conv4, pool, mat, dropout, nll, param, param0, relu, Momentum, update!,
            @diff, grad, params, value
using Random: Random

include("device.jl")

mutable struct State
    atype::Type
    note::String       # why not on the GPU, when --device auto fell back to the CPU
    precision::String  # "default" or "strict" (device.jl)
    xtrain::Array{Float32,4}
    ytrain::Vector{Int}
    xtest::Array{Float32,4}
    w::Any  # the model's Params, a NamedTuple
    batch::Int
    function State(device::AbstractString; precision::AbstractString="default")
        atype, note = choose_device(device)
        return new(atype, note, choose_precision(precision, atype))
    end
end

# == data ==
"Host copies in Knet's WHCN layout; each batch goes to the device per step (as PyTorch's row)."
function prepare(s::State, xtrain, ytrain, xtest)
    s.xtrain = Array{Float32,4}(xtrain)  # (32, 32, 3, N)
    s.ytrain = Vector{Int}(ytrain)       # 1..10
    s.xtest = Array{Float32,4}(xtest)
    return nothing
end

# == model ==
conv(w, x) = conv4(w, x; padding=1, mode=1)

"Logits (classes, batch). Dropout acts only while @diff records (training), unless `drop`."
function forward(w, x; drop=Knet.training())
    x = relu.(conv(w.conv1, x) .+ w.b1)
    x = conv(w.conv2, x) .+ w.b2
    x = dropout(relu.(pool(x)), 0.25; drop=drop)  # 2x2 max-pool, then ReLU, then dropout
    x = relu.(conv(w.conv3, x) .+ w.b3)
    x = conv(w.conv4, x) .+ w.b4
    x = dropout(relu.(pool(x)), 0.25; drop=drop)
    x = mat(x)                              # (8*8*100, batch): W fastest, C slowest = PyTorch's
                                            # C,H,W flatten order
    x = dropout(relu.(w.fc1 * x .+ w.fb1), 0.5; drop=drop)
    return w.fc2 * x .+ w.fb2
end

"Glorot-uniform weights, zero biases: conv kernels (kW, kH, in, out), dense (out, in)."
function build(s::State, seed::Integer; batch_size, lr, momentum, n_classes, kw...)  # kw: the
    # config's other fields (the bridge passes every one)
    Random.seed!(seed)
    s.batch = batch_size
    p(d...) = param(d...; atype=s.atype)    # xavier_uniform
    p0(d...) = param0(d...; atype=s.atype)  # zeros
    s.w = (conv1=p(3, 3, 3, 50), b1=p0(1, 1, 50, 1),
           conv2=p(3, 3, 50, 50), b2=p0(1, 1, 50, 1),
           conv3=p(3, 3, 50, 100), b3=p0(1, 1, 100, 1),
           conv4=p(3, 3, 100, 100), b4=p0(1, 1, 100, 1),
           fc1=p(512, 100 * 8 * 8), fb1=p0(512),
           fc2=p(n_classes, 512), fb2=p0(n_classes))

    # == loss and optimizer ==
    # nll (below, in `loss`) is the softmax cross-entropy; one Momentum per parameter, since
    # each keeps its own velocity.
    for w in params(s.w)
        w.opt = Momentum(lr=lr, gamma=momentum)
    end
    return nothing
end

loss(w, x, y; drop=Knet.training()) = nll(forward(w, x; drop=drop), y)

# == training epoch ==
function train_epoch(s::State, order)
    order = Vector{Int}(order)
    for i in 1:s.batch:length(order)
        idx = order[i:i+s.batch-1]
        x = s.atype(s.xtrain[:, :, :, idx])
        y = s.ytrain[idx]
        J = @diff loss(s.w, x, y)
        for w in params(J)
            update!(w, grad(J, w))  # w.opt: its Momentum
        end
    end
    return nothing
end

# == prediction ==
"Logits (classes, n_test) on the host, in batches (the last one partial), dropout off."
function predict(s::State)
    n = size(s.xtest, 4)
    batches = [Array(forward(s.w, s.atype(s.xtest[:, :, :, i:min(i + s.batch - 1, n)])))
               for i in 1:s.batch:n]
    return reduce(hcat, batches)
end

# == bridge ==
# What harness/julia/bridge.py calls besides the sections above.
sync(s::State) = sync_device(s.atype)
info(s::State) = run_info(s.atype, s.note, s.precision; cudnn_tf32="convolutions")

const NAMES = ("conv1.weight" => :conv1, "conv1.bias" => :b1, "conv2.weight" => :conv2,
               "conv2.bias" => :b2, "conv3.weight" => :conv3, "conv3.bias" => :b3,
               "conv4.weight" => :conv4, "conv4.bias" => :b4, "fc1.weight" => :fc1,
               "fc1.bias" => :fb1, "fc2.weight" => :fc2, "fc2.bias" => :fb2)

"Canonical weights (converted by the bridge: kernels (kW, kH, in, out), dense (out, in))."
function load_weight(s::State, name::AbstractString, value)
    w = getfield(s.w, Dict(NAMES)[name])
    copyto!(Knet.value(w), s.atype(reshape(Array{Float32}(value), size(w))))
    w.opt = Momentum(lr=w.opt.lr, gamma=w.opt.gamma)  # no steps taken yet
    return nothing
end

"Every parameter on the host, in Knet's shapes (the bridge converts them back)."
get_weights(s::State) =
    Dict{String,Array{Float32}}(name => Array(Knet.value(getfield(s.w, key))) for (name, key) in NAMES)

"One step as in train_epoch on the batch (x, y), dropout off; the loss before the step."
function verify_step(s::State, x, y)
    J = @diff loss(s.w, s.atype(Array{Float32,4}(x)), Vector{Int}(y); drop=false)
    for w in params(J)
        update!(w, grad(J, w))
    end
    return Float64(value(J))
end

"The outputs of every layer in inference mode, (W, H, C, N) or (features, N), on the host."
function activations(s::State, x)
    w, a = s.w, Dict{String,Array{Float32}}()
    keep(name, y) = (a[name] = Array(y); y)  # a host copy, and the array to go on with
    y = s.atype(Array{Float32,4}(x))
    y = keep("conv1", conv(w.conv1, y) .+ w.b1)
    y = keep("relu1", relu.(y))
    y = keep("conv2", conv(w.conv2, y) .+ w.b2)
    y = keep("pool1", pool(y))
    y = keep("relu2", relu.(y))
    y = keep("conv3", conv(w.conv3, y) .+ w.b3)
    y = keep("relu3", relu.(y))
    y = keep("conv4", conv(w.conv4, y) .+ w.b4)
    y = keep("pool2", pool(y))
    y = keep("relu4", relu.(y))
    y = keep("flatten", mat(y))
    y = keep("fc1", w.fc1 * y .+ w.fb1)
    y = keep("relu5", relu.(y))
    keep("fc2", w.fc2 * y .+ w.fb2)
    return a
end

end # module
