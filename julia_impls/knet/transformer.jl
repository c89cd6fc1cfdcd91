# Knet.jl: docs/benchmarks.md §3b, the pre-LayerNorm Transformer encoder sentiment classifier on
# IMDB (the GRU's data and schedule), trained with Adam.
#
# Called from Python through harness/julia/bridge.py (`JuliaTransformer(flavor="knet")`): token
# ids arrive as (T, N) - the canonical C-ordered (N, T) array read column-major - and stay 0-based
# (0 = padding); labels and permutations arrive 1-based. Activations are (D, T, B) throughout.
#
# Knet has no attention layer (its cuDNN multi-head attention, src/cudnn/multiheadattn.jl, is a
# low-level wrapper no Knet model uses); its users write attention with batched matrix
# products, as here. Knet functions relied on (denizyuret/Knet.jl, v1.4.10):
#   bmm(A, B; transA, transB)  src/ops20/bmm.jl: (m,k,b...) x (k,n,b...) -> (m,n,b...), extra
#       dimensions are batch; CPU: a BLAS sgemm per matrix; GPU (src/ops20_gpu/bmm.jl):
#       cublasSgemmStridedBatched. A @primitive1 with its own gradient.
#   softmax(x; dims=1)         src/ops20/softmax.jl; on the GPU cuDNN's softmax
#       (src/ops20_gpu/softmax.jl, CUDNN_SOFTMAX_ACCURATE over dimension 1).
#   Knet.Ops21.gelu            src/ops21/activation.jl: the exact x*Phi(x) with erf, and its
#       derivative, as a primitive; on the GPU a libknet8 kernel (src/ops21_gpu/activation.jl).
#       Called on whole arrays, as Ops21 asks (no broadcast of primitives with keywords).
#   param, param0, nll, Adam, update!, @diff, grad, params: see rnn.jl.
# Knet's own LayerNorm (src/layers21/layernorm.jl) is not loaded by Knet 1.4 (Layers21.jl leaves
# it out) and divides by std + eps; the contract's sqrt(biased variance + eps) is written out.
# Initialisation (docs/benchmarks.md §3b): both embeddings N(0, 0.02); every dense weight
# Glorot-uniform (Knet's default `param` init, xavier_uniform) with a zero bias; LayerNorm 1, 0.

module KnetTransformer

using Knet: Knet, bmm, softmax, param, param0, nll, Adam, update!, @diff, grad, params, value
using Random: Random

include("device.jl")

mutable struct State
    atype::Type
    note::String       # why not on the GPU, when --device auto fell back to the CPU
    precision::String  # "default" or "strict" (device.jl)
    xtrain::Matrix{Int32}  # (T, N): a batch is x[:, idx], (T, B)
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
    s.xtrain = Matrix{Int32}(xtrain)  # (T, N), one review a column, as the bridge hands it over
    s.ytrain = Vector{Int}(ytrain)
    s.xtest = Matrix{Int32}(xtest)
    return nothing
end

# == model ==
"Dense layer on the first dimension of any array: W (out, in) as PyTorch's, bias (out,)."
struct Linear
    w
    b
end
Linear(input::Int, output::Int; atype) = Linear(param(output, input; atype=atype),  # Glorot
                                                param0(output; atype=atype))
(l::Linear)(x) = reshape(l.w * reshape(x, size(x, 1), :) .+ l.b, size(l.w, 1), size(x)[2:end]...)

"LayerNorm over the features (dimension 1): biased variance, eps inside the square root."
struct LayerNorm
    γ
    β
    ϵ::Float32
end
LayerNorm(d::Int, eps; atype) = LayerNorm(param(d; init=ones, atype=atype), param0(d; atype=atype),
                                          Float32(eps))
function (l::LayerNorm)(x)
    n = size(x, 1)
    centred = x .- sum(x; dims=1) ./ n
    variance = sum(centred .* centred; dims=1) ./ n
    return l.γ .* centred ./ sqrt.(variance .+ l.ϵ) .+ l.β
end

struct SelfAttention
    query::Linear
    key::Linear
    value::Linear
    out::Linear
    heads::Int
end

"(D, T, B) -> (D/heads, T, heads, B): head i is features (i-1)D/heads+1 : iD/heads, the
contract's 32i..32i+31 (0-based)."
split_heads(x, heads) =
    permutedims(reshape(x, size(x, 1) ÷ heads, heads, size(x, 2), size(x, 3)), (1, 3, 2, 4))
"(D/heads, T, heads, B) -> (D, T, B): the heads concatenated in order."
merge_heads(x) = reshape(permutedims(x, (1, 3, 2, 4)), :, size(x, 2), size(x, 4))

function (a::SelfAttention)(x)
    q = split_heads(a.query(x), a.heads)
    k = split_heads(a.key(x), a.heads)
    v = split_heads(a.value(x), a.heads)
    scores = bmm(k, q; transA=true) .* Float32(1 / sqrt(size(q, 1)))  # (T keys, T queries, heads, B)
    weights = softmax(scores; dims=1)                                  # over the keys; no mask
    return a.out(merge_heads(bmm(v, weights)))                         # (D/heads, T, heads, B)
end

struct Block
    ln1::LayerNorm
    attn::SelfAttention
    ln2::LayerNorm
    fc1::Linear
    fc2::Linear
end

function (b::Block)(x)
    x = x .+ b.attn(b.ln1(x))
    return x .+ b.fc2(Knet.Ops21.gelu(b.fc1(b.ln2(x))))  # exact GELU, on the whole array
end

struct Classifier
    embedding  # Param (D, vocab): one token a column
    position   # Param (D, seq_len)
    blocks::Vector{Block}
    ln_f::LayerNorm
    fc::Linear
end

"Token ids (T, B), 0-based -> token plus position embedding (D, T, B)."
embed(m::Classifier, tokens) = m.embedding[:, tokens .+ 1] .+ m.position[:, 1:size(tokens, 1)]
"The mean over the positions, padding included: (D, T, B) -> (D, B)."
pool(y) = reshape(sum(y; dims=2), size(y, 1), size(y, 3)) ./ size(y, 2)

function (m::Classifier)(tokens)
    x = embed(m, tokens)
    for b in m.blocks
        x = b(x)
    end
    return m.fc(pool(m.ln_f(x)))  # logits (classes, B)
end

function build(s::State, seed::Integer; vocab_size, seq_len, d_model, heads, mlp_dim, blocks,
               ln_eps, n_classes, batch_size, lr, beta1, beta2, eps, kw...)  # kw: epochs
    Random.seed!(seed)
    s.batch = batch_size
    table(rows) = param(d_model, rows; init=(d...) -> 0.02f0 .* randn(Float32, d...), atype=s.atype)
    dense(i, o) = Linear(i, o; atype=s.atype)
    norm() = LayerNorm(d_model, ln_eps; atype=s.atype)
    block() = Block(norm(), SelfAttention(dense(d_model, d_model), dense(d_model, d_model),
                                          dense(d_model, d_model), dense(d_model, d_model), heads),
                    norm(), dense(d_model, mlp_dim), dense(mlp_dim, d_model))
    s.model = Classifier(table(vocab_size), table(seq_len), [block() for _ in 1:blocks], norm(),
                         dense(d_model, n_classes))

    # == loss and optimizer ==
    s.adam = (lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    reset_optimizers!(s)
    return nothing
end

function reset_optimizers!(s::State)
    a = s.adam
    for w in params(s.model)  # Adam (src/train20/update.jl): PyTorch's, eps outside the sqrt
        w.opt = Adam(lr=a.lr, beta1=a.beta1, beta2=a.beta2, eps=a.eps)
    end
end

loss(m, x, y) = nll(m(x), y)  # softmax cross-entropy, mean over the batch

# == training epoch ==
function train_epoch(s::State, order)
    order = Vector{Int}(order)
    for i in 1:s.batch:length(order)
        idx = order[i:i+s.batch-1]
        J = @diff loss(s.model, s.xtrain[:, idx], s.ytrain[idx])
        for w in params(J)
            update!(w, grad(J, w))
        end
    end
    return nothing
end

# == prediction ==
function predict(s::State)
    n = size(s.xtest, 2)
    return reduce(hcat, [Array(s.model(s.xtest[:, i:min(i + s.batch - 1, n)]))
                         for i in 1:s.batch:n])
end

# == bridge ==
# What harness/julia/bridge.py calls besides the sections above.
sync(s::State) = sync_device(s.atype)
function info(s::State)
    kernel = on_gpu(s.atype) ? "cublasSgemmStridedBatched" : "a BLAS sgemm per matrix"
    return merge(run_info(s.atype, s.note, s.precision; cudnn_tf32="none"),  # cuBLAS, softmax
                 Dict("attention" => "Knet.bmm, written out: $kernel"))
end

"Every parameter by its canonical name (embeddings (D, rows), dense (out, in))."
function parameters(m::Classifier)
    p = Dict{String,Any}("embedding.weight" => m.embedding, "position.weight" => m.position,
                         "ln_f.weight" => m.ln_f.γ, "ln_f.bias" => m.ln_f.β,
                         "fc.weight" => m.fc.w, "fc.bias" => m.fc.b)
    for (i, b) in enumerate(m.blocks)
        layers = ("ln1" => b.ln1, "ln2" => b.ln2, "attn.query" => b.attn.query,
                  "attn.key" => b.attn.key, "attn.value" => b.attn.value,
                  "attn.out" => b.attn.out, "mlp.fc1" => b.fc1, "mlp.fc2" => b.fc2)
        for (name, l) in layers
            weight, bias = l isa LayerNorm ? (l.γ, l.β) : (l.w, l.b)
            p["blocks.$(i - 1).$name.weight"] = weight  # canonical names count blocks from 0
            p["blocks.$(i - 1).$name.bias"] = bias
        end
    end
    return p
end

"Canonical weights, converted by the bridge (embeddings (D, rows); the rest as PyTorch's)."
function load_weight(s::State, name::AbstractString, value)
    target = parameters(s.model)[name]
    size(target) == size(value) || error("$name: shape $(size(value)), the model has $(size(target))")
    copyto!(Knet.value(target), s.atype(Array{Float32}(value)))
    reset_optimizers!(s)  # no steps taken yet
    return nothing
end

"Every parameter on the host, in Knet's shapes (the bridge converts them back)."
get_weights(s::State) =
    Dict{String,Array{Float32}}(name => Array(Knet.value(p)) for (name, p) in parameters(s.model))

"One step as in train_epoch on the batch (ids (T, N) 0-based, labels 1-based); the loss
before the step (this model has no dropout)."
function verify_step(s::State, x, y)
    J = @diff loss(s.model, Matrix{Int32}(x), Vector{Int}(y))
    for w in params(J)
        update!(w, grad(J, w))
    end
    return Float64(value(J))
end

"Embedding and each block's output (D, T, N), the pooled final LayerNorm (D, N), logits
(classes, N), on the host."
function activations(s::State, x)
    m, a = s.model, Dict{String,Array{Float32}}()
    y = embed(m, Matrix{Int32}(x))
    a["embedding"] = Array(y)
    for (i, b) in enumerate(m.blocks)
        y = b(y)
        a["blocks.$(i - 1)"] = Array(y)
    end
    pooled = pool(m.ln_f(y))
    a["pooled"] = Array(pooled)
    a["fc"] = Array(m.fc(pooled))
    return a
end

end # module
