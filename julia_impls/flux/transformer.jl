# Flux.jl: docs/benchmarks.md §3b, the pre-LayerNorm Transformer encoder sentiment classifier on
# IMDB (the GRU's data and schedule), trained with Adam.
#
# Called from Python through harness/julia/bridge.py (`JuliaTransformer(flavor="flux")`): token
# ids arrive as (T, N) - the canonical C-ordered (N, T) array read column-major - and 0-based
# (0 = padding); labels and permutations 1-based. Activations are (D, T, B) throughout.
#
# Flux functions relied on (FluxML/Flux.jl, v0.16; FluxML/NNlib.jl >= 0.9.28):
#   MultiHeadAttention(D; nheads, bias=true)  src/layers/attention.jl: q_proj, k_proj, v_proj,
#       out_proj are Dense layers (weight (out, in), as PyTorch's; Glorot-uniform, zero bias);
#       `mha(x)` is self-attention and returns (output, scores). It calls
#       NNlib.dot_product_attention (NNlib src/attention.jl), which splits features into heads
#       with reshape(x, D ÷ nheads, nheads, ...) - head i is features 32i..32i+31, the
#       contract's split - scales q by 1/sqrt(D ÷ nheads) = 1/sqrt(32), takes the softmax over
#       the keys and multiplies with `batched_mul` (on the GPU CUBLAS' strided batched gemm).
#       Its attention dropout is Dropout(0.0): no dropout.
#   LayerNorm(D; eps)  src/layers/normalise.jl: biased variance over the features, scale 1 and
#       shift 0 (a `Scale` in field `diag`). Flux 0.15-0.16.10 add eps^2 to the variance (Flux
#       #2421), 0.16.11 on add eps (#2701, NNlib.normalise): `layernorm_eps` passes whichever
#       makes it the contract's 1e-5.
#   gelu_erf  NNlib src/activations.jl: the exact x*Phi(x) (`gelu` is gelu_tanh, the tanh
#       approximation); defined by NNlib's SpecialFunctions extension, which loads with Flux
#       (Flux depends on SpecialFunctions); on the GPU erf is CUDA.jl's (its SpecialFunctions
#       extension).
#   Embedding(vocab => D; init)  src/layers/basic.jl: weight (D, vocab); (T, B) ids -> (D, T, B).
#   Dense, Chain, Flux.@layer, Flux.Losses.logitcrossentropy, Flux.setup/update!/gradient and
#   Optimisers.Adam as in rnn.jl (PyTorch's Adam, eps outside the sqrt).
# Initialisation (docs/benchmarks.md §3b): both embeddings N(0, 0.02), stated; dense weights
# Glorot-uniform with zero biases and LayerNorm 1, 0 are Flux's defaults.

module FluxTransformer

using Flux: Flux, Chain, Dense, Embedding, LayerNorm, MultiHeadAttention, gelu_erf
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
"Pre-LayerNorm encoder block: x + MHA(LN1(x)), then x + MLP(LN2(x))."
struct Block{N,A,M}
    ln1::N
    attn::A
    ln2::N
    mlp::M
end

Flux.@layer Block

function (b::Block)(x)
    x = x .+ first(b.attn(b.ln1(x)))  # MultiHeadAttention returns (output, scores)
    return x .+ b.mlp(b.ln2(x))
end

struct Classifier{E,B,N,F}
    embedding::E
    position::E
    blocks::B
    ln_f::N
    fc::F
end

Flux.@layer Classifier

"Token ids + 1 (T, B) -> token plus position embedding (D, T, B). The positions are a slice of
the table: Embedding on a host range would gather from a GPU array element by element."
embed(m::Classifier, tokens) = m.embedding(tokens) .+ m.position.weight[:, 1:size(tokens, 1)]
"The mean over the positions, padding included: (D, T, B) -> (D, B)."
pool(y) = dropdims(sum(y; dims=2); dims=2) ./ size(y, 2)

(m::Classifier)(tokens) = m.fc(pool(m.ln_f(m.blocks(embed(m, tokens)))))  # logits (classes, B)

"The `eps` that makes Flux's LayerNorm add `ln_eps` to the variance (see the header)."
layernorm_eps(ln_eps) = Float32(pkgversion(Flux) < v"0.16.11" ? sqrt(ln_eps) : ln_eps)

function build(s::State, seed::Integer; vocab_size, seq_len, d_model, heads, mlp_dim, blocks,
               ln_eps, n_classes, batch_size, lr, beta1, beta2, eps, kw...)  # kw: epochs
    Random.seed!(seed)  # Flux's initialisers draw from the default RNG
    s.batch, s.n_classes = batch_size, n_classes
    table(rows) = Embedding(rows => d_model; init=(d...) -> 0.02f0 .* randn(Float32, d...))
    norm() = LayerNorm(d_model; eps=layernorm_eps(ln_eps))
    block() = Block(norm(), MultiHeadAttention(d_model; nheads=heads, bias=true), norm(),
                    Chain(fc1=Dense(d_model => mlp_dim, gelu_erf), fc2=Dense(mlp_dim => d_model)))
    model = Classifier(table(vocab_size), table(seq_len), Chain([block() for _ in 1:blocks]...),
                       norm(), Dense(d_model => n_classes))
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
    n = size(s.xtest, 2)
    cpu = Flux.cpu_device()
    return reduce(hcat, [cpu(s.model(s.dev(s.xtest[:, i:min(i + s.batch - 1, n)])))
                         for i in 1:s.batch:n])
end

# == bridge ==
# What harness/julia/bridge.py calls besides the sections above.
sync(s::State) = sync_device(s.dev)
function info(s::State)
    kernel = on_gpu(s.dev) ? "CUBLAS gemm_strided_batched" : "batched_gemm (BLAS)"
    return merge(run_info(s.dev, s.precision; cudnn_tf32="none"),  # cuBLAS matmuls only
                 Dict("attention" => "Flux.MultiHeadAttention: NNlib.dot_product_attention, " *
                                     "batched_mul ($kernel)"))
end

"Every parameter by its canonical name (embeddings (D, rows), dense (out, in))."
function parameters(m::Classifier)
    p = Dict{String,Any}("embedding.weight" => m.embedding.weight,
                         "position.weight" => m.position.weight,
                         "ln_f.weight" => m.ln_f.diag.scale, "ln_f.bias" => m.ln_f.diag.bias,
                         "fc.weight" => m.fc.weight, "fc.bias" => m.fc.bias)
    for (i, b) in enumerate(m.blocks.layers)
        layers = ("ln1" => b.ln1.diag, "ln2" => b.ln2.diag, "attn.query" => b.attn.q_proj,
                  "attn.key" => b.attn.k_proj, "attn.value" => b.attn.v_proj,
                  "attn.out" => b.attn.out_proj, "mlp.fc1" => b.mlp.layers.fc1,
                  "mlp.fc2" => b.mlp.layers.fc2)
        for (name, l) in layers
            # a Scale (LayerNorm's diag) holds scale and bias, a Dense weight and bias
            p["blocks.$(i - 1).$name.weight"] = l isa Dense ? l.weight : l.scale
            p["blocks.$(i - 1).$name.bias"] = l.bias  # canonical names count blocks from 0
        end
    end
    return p
end

"Canonical weights, converted by the bridge (embeddings (D, rows); the rest as PyTorch's)."
function load_weight(s::State, name::AbstractString, value)
    dest = parameters(s.model)[name]
    size(dest) == size(value) || error("$name: shape $(size(value)), the model has $(size(dest))")
    copyto!(dest, Array{Float32}(value))
    s.opt = Flux.setup(s.rule, s.model)  # no steps taken yet
    return nothing
end

"Every parameter on the host, in Flux's shapes (the bridge converts them back)."
get_weights(s::State) =
    Dict{String,Array{Float32}}(name => Array(p) for (name, p) in parameters(s.model))

"One step as in train_epoch on the batch (ids (T, N) 0-based, labels 1-based); the loss
before the step (this model has no dropout)."
function verify_step(s::State, x, y)
    x = s.dev(Matrix{Int32}(x) .+ Int32(1))
    y = s.dev(Flux.onehotbatch(Vector{Int}(y), 1:s.n_classes))
    loss, grads = Flux.withgradient(m -> Flux.Losses.logitcrossentropy(m(x), y), s.model)
    Flux.update!(s.opt, s.model, grads[1])
    return Float64(loss)
end

"Embedding and each block's output (D, T, N), the pooled final LayerNorm (D, N), logits
(classes, N), on the host."
function activations(s::State, x)
    m, cpu, a = s.model, Flux.cpu_device(), Dict{String,Array{Float32}}()
    y = embed(m, s.dev(Matrix{Int32}(x) .+ Int32(1)))
    a["embedding"] = cpu(y)
    for (i, b) in enumerate(m.blocks.layers)
        y = b(y)
        a["blocks.$(i - 1)"] = cpu(y)
    end
    pooled = pool(m.ln_f(y))
    a["pooled"] = cpu(pooled)
    a["fc"] = cpu(m.fc(pooled))
    return a
end

end # module
