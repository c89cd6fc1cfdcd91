# Knet.jl: docs/benchmarks.md §3, the GRU sentiment classifier on IMDB, trained with Adam.
#
# Called from Python through harness/julia/bridge.py (`JuliaRNN(flavor="knet")`): token ids
# arrive as (T, N) - the canonical C-ordered (N, T) array read column-major - and stay 0-based
# (0 = padding); labels and permutations arrive 1-based.
# Knet functions relied on (denizyuret/Knet.jl, v1.4.10):
#   RNN(input, hidden; rnnType=:gru)  src/ops20/rnn.jl: the cuDNN GRU formulation (reset gate
#       applied to (R*h + bR), i.e. after the recurrent matmul, separate input and recurrent
#       biases) on the GPU via cuDNN (src/ops20_gpu/rnn.jl), the same formulas on the CPU
#       (`rnntest`). Input (X, B, T), output (H, B, T); h=nothing: zero initial state.
#       RNN's `winit`/`binit` are called as init(Float32, dims) for each matrix and bias block.
#   param, nll, dropout, Adam, update!, @diff, grad, params: see cnn.jl. Adam's update
#       (src/train20/update.jl) is PyTorch's: bias-corrected moments, eps outside the sqrt.
# Initialisation (docs/benchmarks.md §3, every row): embedding N(0, 1), every GRU matrix and
# bias U(-1/sqrt(H), 1/sqrt(H)) - PyTorch's nn.Embedding and nn.GRU defaults -, dense Glorot.

module KnetRNN

using Knet: Knet, RNN, param, param0, nll, Adam, update!, @diff, grad, params, value
using Random: Random

include("device.jl")

mutable struct State
    atype::Type
    note::String       # why not on the GPU, when --device auto fell back to the CPU
    precision::String  # "default" or "strict" (device.jl)
    xtrain::Matrix{Int32}  # (N, T): a batch is x[idx, :], (B, T)
    ytrain::Vector{Int}
    xtest::Matrix{Int32}
    model::Any
    adam::NamedTuple
    batch::Int
    function State(device::AbstractString; precision::AbstractString="default")
        atype, note = choose_device(device)
        return new(atype, note, choose_precision(precision, atype))
    end
end

# == data ==
function prepare(s::State, xtrain, ytrain, xtest)
    # (T, N) from the bridge -> (N, T), so that a batch's ids index the embedding as (B, T)
    # and the embedded batch is (E, B, T), the layout Knet's RNN takes.
    s.xtrain = permutedims(Matrix{Int32}(xtrain))
    s.ytrain = Vector{Int}(ytrain)
    s.xtest = permutedims(Matrix{Int32}(xtest))
    return nothing
end

# == model ==
mutable struct GRUClassifier
    embedding  # Param (E, vocab): one word a column
    gru::RNN
    fc         # Param (classes, H)
    fb         # Param (classes,)
end

"Embedding -> GRU -> the output at the last step (padding included) -> dense (logits)."
function (m::GRUClassifier)(tokens::AbstractMatrix{<:Integer})
    e = m.embedding[:, tokens .+ 1]  # ids are 0-based (0 = padding): column id+1; (E, B, T)
    y = m.gru(e)                      # (H, B, T)
    return m.fc * y[:, :, end] .+ m.fb
end

"docs/benchmarks.md §3's initialisation: U(-1/sqrt(H), 1/sqrt(H)), for RNN's `winit`/`binit`."
recurrent_init(hidden) = (T, dims) -> T(1 / sqrt(hidden)) .* (2 .* rand(T, dims) .- 1)

function build(s::State, seed::Integer; batch_size, vocab_size, embedding_dim, hidden,
               n_classes, lr, beta1, beta2, eps, kw...)  # kw: the config's other fields
    Random.seed!(seed)
    s.batch = batch_size
    uniform = recurrent_init(hidden)
    s.model = GRUClassifier(
        param(embedding_dim, vocab_size; init=(d...) -> randn(Float32, d...), atype=s.atype),
        RNN(embedding_dim, hidden; rnnType=:gru, h=nothing, winit=uniform, binit=uniform,
            atype=s.atype),
        param(n_classes, hidden; atype=s.atype),  # Glorot uniform (Knet's xavier_uniform)
        param0(n_classes; atype=s.atype))

    # == loss and optimizer ==
    s.adam = (lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    reset_optimizers!(s)
    return nothing
end

function reset_optimizers!(s::State)
    a = s.adam
    for w in params(s.model)  # embedding, the GRU's packed cuDNN vector, dense
        w.opt = Adam(lr=a.lr, beta1=a.beta1, beta2=a.beta2, eps=a.eps)
    end
end

loss(m, x, y) = nll(m(x), y)  # softmax cross-entropy, mean over the batch

# == training epoch ==
function train_epoch(s::State, order)
    order = Vector{Int}(order)
    for i in 1:s.batch:length(order)
        idx = order[i:i+s.batch-1]
        J = @diff loss(s.model, s.xtrain[idx, :], s.ytrain[idx])
        for w in params(J)
            update!(w, grad(J, w))
        end
    end
    return nothing
end

# == prediction ==
function predict(s::State)
    n = size(s.xtest, 1)
    return reduce(hcat, [Array(s.model(s.xtest[i:min(i + s.batch - 1, n), :]))
                         for i in 1:s.batch:n])
end

# == bridge ==
# What harness/julia/bridge.py calls besides the sections above.
sync(s::State) = sync_device(s.atype)
info(s::State) = run_info(s.atype, s.note, s.precision; cudnn=on_gpu(s.atype),  # cuDNN's GRU
                          cudnn_tf32="GRU")

"Canonical weights, converted by the bridge (`gru.w`: Knet's packed cuDNN vector)."
function load_weight(s::State, name::AbstractString, value)
    target = parameters(s.model)[name]
    copyto!(Knet.value(target), s.atype(reshape(Array{Float32}(value), size(target))))
    reset_optimizers!(s)  # no steps taken yet
    return nothing
end

parameters(m::GRUClassifier) = Dict("embedding.weight" => m.embedding, "gru.w" => m.gru.w,
                                    "fc.weight" => m.fc, "fc.bias" => m.fb)

"Every parameter on the host, in Knet's shapes (the bridge converts them back)."
get_weights(s::State) = Dict{String,Array{Float32}}(
    name => vec_if_gru(name, Array(Knet.value(p))) for (name, p) in parameters(s.model))
vec_if_gru(name, a) = name == "gru.w" ? vec(a) : a

"One step as in train_epoch on the batch (ids (T, N) 0-based, labels 1-based); the loss
before the step (this model has no dropout)."
function verify_step(s::State, x, y)
    J = @diff loss(s.model, permutedims(Matrix{Int32}(x)), Vector{Int}(y))
    for w in params(J)
        update!(w, grad(J, w))
    end
    return Float64(value(J))
end

"Embedding (E, T, N), GRU outputs at every step (H, T, N), logits (classes, N), on the host."
function activations(s::State, x)
    m, tokens = s.model, permutedims(Matrix{Int32}(x))  # (N, T)
    e = m.embedding[:, tokens .+ 1]                      # (E, N, T)
    y = m.gru(e)                                         # (H, N, T)
    return Dict{String,Array{Float32}}(
        "embedding" => permutedims(Array(e), (1, 3, 2)), "gru" => permutedims(Array(y), (1, 3, 2)),
        "fc" => Array(m.fc * y[:, :, end] .+ m.fb))
end

end # module
