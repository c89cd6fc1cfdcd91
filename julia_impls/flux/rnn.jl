# Flux.jl: docs/benchmarks.md §3, the GRU sentiment classifier on IMDB, trained with Adam.
#
# Called from Python through harness/julia/bridge.py (`JuliaRNN(flavor="flux")`): token ids
# arrive as (T, N) - the canonical C-ordered (N, T) array read column-major - and 0-based
# (0 = padding); labels and permutations 1-based.
#
# Which GRU. Flux 0.16's `GRU`/`GRUCell` (src/layers/recurrent.jl) computes
#     h̃ = tanh(Wxh x + r .* (Whh h) + b_h)
# - the reset gate is applied after the recurrent matmul, as in docs/benchmarks.md §3 and cuDNN - but with one
# bias vector `b` (3H), so the recurrent bias of the new gate (PyTorch's b_hn, inside r .* (...))
# does not exist: it is the same function only while b_hn = 0. `GRUv3` applies the reset before
# the matmul (Keras reset_after=False), a different function. Neither runs on cuDNN: Flux's
# recurrent layers are a Julia loop (`scan`) differentiated by Zygote. So this file defines the
# The contract's formulation as a small cell with PyTorch's four tensors (Wi, Wh, bi, bh; gate blocks
# r, z, n in PyTorch's order) and runs it with Flux's own `Recurrence` (exported by Flux 0.16).
# `info` says cudnn: no.
#
# Flux functions relied on (FluxML/Flux.jl, v0.16): Embedding (src/layers/basic.jl: weight
# (E, vocab), (T, B) ids -> (E, T, B)), Recurrence + scan and `initialstates`
# (src/layers/recurrent.jl: input (in, T, B), output (H, T, B)), Flux.@layer, Dense,
# Flux.Losses.logitcrossentropy, Flux.setup/update!/gradient; Optimisers.Adam
# (FluxML/Optimisers.jl src/rules.jl: PyTorch's Adam, eps outside the sqrt); MLUtils.chunk and
# MLUtils.zeros_like (as Flux's own GRUCell uses them); NNlib's sigmoid_fast, tanh_fast.

module FluxRNN

using Flux: Flux, Chain, Dense, Embedding, Recurrence, sigmoid_fast, tanh_fast
using MLUtils: chunk, zeros_like
import Optimisers
using Random: Random

include("device.jl")

mutable struct State
    dev::Any
    precision::String  # "default" or "strict" (device.jl)
    xtrain::Matrix{Int32}  # (T, N), ids + 1: a batch is x[:, idx], (T, B)
    ytrain::Vector{Int}
    xtest::Matrix{Int32}
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
function prepare(s::State, xtrain, ytrain, xtest)
    s.xtrain = Matrix{Int32}(xtrain) .+ Int32(1)  # Embedding columns are 1-based: id 0 -> 1
    s.ytrain = Vector{Int}(ytrain)
    s.xtest = Matrix{Int32}(xtest) .+ Int32(1)
    return nothing
end

# == model ==
"docs/benchmarks.md §3's GRU step (PyTorch nn.GRU, cuDNN): r = σ(Wir x + bir + Whr h + bhr),
z = σ(Wiz x + biz + Whz h + bhz), n = tanh(Win x + bin + r .* (Whn h + bhn)),
h' = (1 - z) .* n + z .* h."
struct ResetAfterGRUCell{M,V}
    Wi::M  # (3H, in), blocks r, z, n
    Wh::M  # (3H, H)
    bi::V  # (3H,)
    bh::V  # (3H,)
end

Flux.@layer ResetAfterGRUCell

"""docs/benchmarks.md §3's initialisation, every row's: every matrix and bias
U(-1/sqrt(H), 1/sqrt(H)), PyTorch's nn.GRU default (not Flux's Glorot over the stacked matrix)."""
function ResetAfterGRUCell((input, hidden)::Pair)
    bound = Float32(1 / sqrt(hidden))
    uniform(dims...) = bound .* (2 .* rand(Float32, dims...) .- 1)
    return ResetAfterGRUCell(uniform(3hidden, input), uniform(3hidden, hidden),
                             uniform(3hidden), uniform(3hidden))
end

Flux.initialstates(c::ResetAfterGRUCell) = zeros_like(c.Wh, size(c.Wh, 2))  # zero initial state

function (c::ResetAfterGRUCell)(x::AbstractVecOrMat, h)
    gx = chunk(c.Wi * x .+ c.bi, 3; dims=1)
    gh = chunk(c.Wh * h .+ c.bh, 3; dims=1)
    r = sigmoid_fast.(gx[1] .+ gh[1])
    z = sigmoid_fast.(gx[2] .+ gh[2])
    n = tanh_fast.(gx[3] .+ r .* gh[3])  # the reset gate meets the recurrent product here
    h = @. (1 - z) * n + z * h
    return h, h
end

last_step(y) = y[:, end, :]  # (H, T, B) -> (H, B): the output at step 150, padding included

function build(s::State, seed::Integer; batch_size, vocab_size, embedding_dim, hidden,
               n_classes, lr, beta1, beta2, eps, kw...)  # kw: the config's other fields
    Random.seed!(seed)
    s.batch, s.n_classes = batch_size, n_classes
    model = Chain(
        embedding=Embedding(vocab_size => embedding_dim),  # N(0, 1), as PyTorch's
        gru=Recurrence(ResetAfterGRUCell(embedding_dim => hidden)),
        last=last_step,
        fc=Dense(hidden => n_classes))                     # logits
    s.model = s.dev(model)

    # == loss and optimizer ==
    # The loss, Flux.Losses.logitcrossentropy, is in train_epoch.
    s.rule = Optimisers.Adam(lr, (beta1, beta2), eps)
    s.opt = Flux.setup(s.rule, s.model)
    return nothing
end

# == training epoch ==
function train_epoch(s::State, order)
    order = Vector{Int}(order)
    Flux.trainmode!(s.model)
    for i in 1:s.batch:length(order)
        idx = order[i:i+s.batch-1]
        x = s.dev(s.xtrain[:, idx])
        y = s.dev(Flux.onehotbatch(s.ytrain[idx], 1:s.n_classes))
        grads = Flux.gradient(m -> Flux.Losses.logitcrossentropy(m(x), y), s.model)
        Flux.update!(s.opt, s.model, grads[1])
    end
    return nothing
end

# == prediction ==
function predict(s::State)
    Flux.testmode!(s.model)
    n = size(s.xtest, 2)
    cpu = Flux.cpu_device()
    return reduce(hcat, [cpu(s.model(s.dev(s.xtest[:, i:min(i + s.batch - 1, n)])))
                         for i in 1:s.batch:n])
end

# == bridge ==
# What harness/julia/bridge.py calls besides the sections above.
sync(s::State) = sync_device(s.dev)
info(s::State) = run_info(s.dev, s.precision; cudnn=false,  # a Julia loop, not cuDNN's GRU:
                          cudnn_tf32="none")          # cuBLAS matmuls only

parameters(layers) = Dict(
    "embedding.weight" => layers.embedding.weight, "gru.Wi" => layers.gru.cell.Wi,
    "gru.Wh" => layers.gru.cell.Wh, "gru.bi" => layers.gru.cell.bi,
    "gru.bh" => layers.gru.cell.bh, "fc.weight" => layers.fc.weight, "fc.bias" => layers.fc.bias)

"Canonical weights, converted by the bridge (embedding (E, vocab); gru.Wi/Wh/bi/bh as PyTorch's)."
function load_weight(s::State, name::AbstractString, value)
    dest = parameters(s.model.layers)[name]
    size(dest) == size(value) || error("$name: shape $(size(value)), the model has $(size(dest))")
    copyto!(dest, Array{Float32}(value))
    s.opt = Flux.setup(s.rule, s.model)  # no steps taken yet
    return nothing
end

"Every parameter on the host, in Flux's shapes (the bridge converts them back)."
get_weights(s::State) =
    Dict{String,Array{Float32}}(name => Array(p) for (name, p) in parameters(s.model.layers))

"One step as in train_epoch on the batch (ids (T, N) 0-based, labels 1-based); the loss
before the step (this model has no dropout)."
function verify_step(s::State, x, y)
    x = s.dev(Matrix{Int32}(x) .+ Int32(1))
    y = s.dev(Flux.onehotbatch(Vector{Int}(y), 1:s.n_classes))
    loss, grads = Flux.withgradient(m -> Flux.Losses.logitcrossentropy(m(x), y), s.model)
    Flux.update!(s.opt, s.model, grads[1])
    return Float64(loss)
end

"Embedding (E, T, N), GRU outputs at every step (H, T, N), logits (classes, N), on the host."
function activations(s::State, x)
    layers, cpu = s.model.layers, Flux.cpu_device()
    e = layers.embedding(s.dev(Matrix{Int32}(x) .+ Int32(1)))
    h = layers.gru(e)
    return Dict{String,Array{Float32}}("embedding" => cpu(e), "gru" => cpu(h),
                                       "fc" => cpu(layers.fc(layers.last(h))))
end

end # module
