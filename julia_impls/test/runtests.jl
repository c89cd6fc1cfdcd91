# Julia-side tests of the Julia rows, for users who have Julia (this project's CI has none).
# `python -m harness setup julia --test` runs them for every flavor it set up; by hand, in the
# environment of the flavor to test:
#   julia --project=. julia_impls/test/runtests.jl                 # Knet (Julia 1.6-1.9)
#   julia --project=julia_impls/flux julia_impls/test/runtests.jl  # Flux (Julia >= 1.10)
# Small random data on whatever device the environment sees (HARNESS_TEST_DEVICE=cpu forces the
# CPU). Checked: shapes, finite outputs, that a training epoch moves every weight, that one
# optimizer step with a small learning rate on a fixed batch lowers that batch's loss (dropout
# off: a descent step, so it holds whenever the gradient is non-zero), the features' shape; for
# the Transformer also the contract's initialisation, its exact GELU, LayerNorm's eps, and its
# encoder block against the block written out here from the model's own weights.
# Uses only Test and Random, which both environments list, besides the flavor's own packages.

using Test
using Random: MersenneTwister

"The flavor: HARNESS_JULIA_FLAVOR, else the one whose package the active project lists."
function active_flavor()
    haskey(ENV, "HARNESS_JULIA_FLAVOR") && return ENV["HARNESS_JULIA_FLAVOR"]
    project = Base.active_project()
    deps = project === nothing ? "" : read(project, String)
    occursin(r"^Knet\s*="m, deps) && return "knet"
    occursin(r"^Flux\s*="m, deps) && return "flux"
    error("neither Knet nor Flux is in the active project ($project): run with --project=. " *
          "(Knet) or --project=julia_impls/flux (Flux)")
end

const FLAVOR = active_flavor()
const DIR = joinpath(@__DIR__, "..", FLAVOR)
const DEVICE = get(ENV, "HARNESS_TEST_DEVICE", "auto")

const CNN = include(joinpath(DIR, "cnn.jl"))
const RNN = include(joinpath(DIR, "rnn.jl"))
const TRANSFORMER = include(joinpath(DIR, "transformer.jl"))
const FEATURES = include(joinpath(DIR, "inference.jl"))

"Every weight changed, and every one is still finite."
function all_moved(before::AbstractDict, after::AbstractDict)
    return all(k -> before[k] != after[k] && all(isfinite, after[k]), keys(before))
end

"Each flavor's exact GELU, on a host array."
gelu_of_flavor(x) = FLAVOR == "knet" ? TRANSFORMER.Knet.Ops21.gelu(x) : TRANSFORMER.gelu_erf.(x)
"A host array on the device of a Transformer state."
on_device(s, x) = FLAVOR == "knet" ? s.atype(x) : s.dev(x)

"""docs/benchmarks.md §3b's pre-LayerNorm encoder block, written out from canonical weights
(`get_weights`: dense (out, in)), one review and one head at a time: head h is features
(h-1)d+1:hd, scores k'q / sqrt(d), softmax over the keys. x: (D, T, N) on the host."""
function reference_block(w, i, x; heads, eps=1f-5)
    p(name) = w["blocks.$i.$name"]
    dense(x, name) = p("$name.weight") * x .+ p("$name.bias")
    function ln(x, name)
        c = x .- sum(x; dims=1) ./ size(x, 1)
        return p("$name.weight") .* c ./ sqrt.(sum(c .^ 2; dims=1) ./ size(x, 1) .+ eps) .+
               p("$name.bias")
    end
    out = similar(x)
    for r in axes(x, 3)
        h = ln(x[:, :, r], "ln1")
        q, k, v = dense(h, "attn.query"), dense(h, "attn.key"), dense(h, "attn.value")
        d = size(q, 1) ÷ heads
        context = similar(q)
        for head in 1:heads
            f = (head - 1) * d + 1 : head * d
            scores = (k[f, :]' * q[f, :]) ./ sqrt(Float32(d))  # (keys, queries)
            a = exp.(scores .- maximum(scores; dims=1))
            context[f, :] = v[f, :] * (a ./ sum(a; dims=1))
        end
        x1 = x[:, :, r] .+ dense(context, "attn.out")
        out[:, :, r] = x1 .+ dense(gelu_of_flavor(dense(ln(x1, "ln2"), "mlp.fc1")), "mlp.fc2")
    end
    return out
end

@testset "Julia rows: $FLAVOR" begin
    rng = MersenneTwister(0)

    @testset "CNN" begin
        n, n_test = 128, 70
        x = rand(rng, Float32, 32, 32, 3, n)  # (W, H, C, N), as the bridge hands it over
        y = rand(rng, 1:10, n)
        s = CNN.State(DEVICE)
        CNN.prepare(s, x, y, x[:, :, :, 1:n_test])
        CNN.build(s, 0; batch_size=64, lr=0.01, momentum=0.9, n_classes=10)
        logits = CNN.predict(s)
        @test size(logits) == (10, n_test)  # the last batch is partial
        @test all(isfinite, logits)
        before = CNN.get_weights(s)
        CNN.train_epoch(s, collect(1:n))
        CNN.sync(s)
        @test all_moved(before, CNN.get_weights(s))
        @test CNN.info(s)["julia_version"] == string(VERSION)
        @test CNN.info(s)["precision_choice"] in ("default", "strict")
        # the hooks of `python -m harness verify`
        @test size(CNN.activations(s, x[:, :, :, 1:2])["relu2"]) == (16, 16, 50, 2)
        @test size(CNN.get_weights(s)["conv2.weight"]) == (3, 3, 50, 50)
        # one small step on a fixed batch, dropout off: the batch's loss falls
        t = CNN.State(DEVICE)
        CNN.prepare(t, x, y, x[:, :, :, 1:n_test])
        CNN.build(t, 1; batch_size=64, lr=1e-3, momentum=0.9, n_classes=10)
        first_loss = CNN.verify_step(t, x[:, :, :, 1:8], y[1:8])  # the loss before the step
        @test isfinite(first_loss)
        @test CNN.verify_step(t, x[:, :, :, 1:8], y[1:8]) < first_loss
    end

    @testset "RNN" begin
        n, t, vocab = 128, 20, 100
        x = Int32.(rand(rng, 0:vocab-1, t, n))  # (T, N), 0-based ids
        y = rand(rng, 1:2, n)
        hyper = (batch_size=64, vocab_size=vocab, embedding_dim=16, hidden=8, n_classes=2,
                 beta1=0.9, beta2=0.999, eps=1e-8)
        s = RNN.State(DEVICE)
        RNN.prepare(s, x, y, x[:, 1:70])
        RNN.build(s, 0; lr=0.01, hyper...)
        logits = RNN.predict(s)
        @test size(logits) == (2, 70) && all(isfinite, logits)
        w = RNN.get_weights(s)
        @test haskey(w, "fc.weight")
        # docs/benchmarks.md §3's initialisation: the embedding N(0, 1), the GRU U(+-1/sqrt(H))
        @test 0.8 < sqrt(sum(abs2, w["embedding.weight"]) / length(w["embedding.weight"])) < 1.2
        gru = vcat((vec(v) for (k, v) in w if startswith(k, "gru"))...)
        @test Float32(0.9 / sqrt(8)) < maximum(abs, gru) <= Float32(1 / sqrt(8))
        RNN.train_epoch(s, collect(1:n))
        @test all_moved(w, RNN.get_weights(s))  # every embedding row of the batch has moved
        @test RNN.info(s)["cudnn"] in ("yes", "no")
        acts = RNN.activations(s, x[:, 1:3])
        @test size(acts["gru"]) == (8, t, 3) && size(acts["fc"]) == (2, 3)
        # one small Adam step on a fixed batch: the batch's loss falls
        u = RNN.State(DEVICE)
        RNN.prepare(u, x, y, x[:, 1:70])
        RNN.build(u, 1; lr=1e-4, hyper...)
        first_loss = RNN.verify_step(u, x[:, 1:8], y[1:8])
        @test isfinite(first_loss)
        @test RNN.verify_step(u, x[:, 1:8], y[1:8]) < first_loss
    end

    @testset "Transformer" begin
        n, t, vocab, d = 128, 20, 100, 16
        x = Int32.(rand(rng, 0:vocab-1, t, n))  # (T, N), 0-based ids
        y = rand(rng, 1:2, n)
        # every field of the config, as the bridge passes them (`epochs` goes to kw...)
        hyper = (vocab_size=vocab, seq_len=t, d_model=d, heads=4, mlp_dim=32, blocks=2,
                 ln_eps=1e-5, n_classes=2, batch_size=64, epochs=1, beta1=0.9, beta2=0.999,
                 eps=1e-8)
        s = TRANSFORMER.State(DEVICE)
        TRANSFORMER.prepare(s, x, y, x[:, 1:70])
        TRANSFORMER.build(s, 0; lr=0.001, hyper...)
        logits = TRANSFORMER.predict(s)
        @test size(logits) == (2, 70) && all(isfinite, logits)
        w = TRANSFORMER.get_weights(s)
        @test length(w) == 2 + 2 * 16 + 4  # embeddings, two blocks of 16 tensors, ln_f, fc
        @test size(w["embedding.weight"]) == (d, vocab) && size(w["position.weight"]) == (d, t)
        # docs/benchmarks.md §3b's initialisation
        rms(a) = sqrt(sum(abs2, a) / length(a))
        @test 0.015 < rms(w["embedding.weight"]) < 0.025 && 0.01 < rms(w["position.weight"]) < 0.03
        @test all(==(1), w["blocks.1.ln2.weight"]) && all(iszero, w["ln_f.bias"])
        @test all(iszero, w["blocks.0.attn.key.bias"]) && all(iszero, w["blocks.1.mlp.fc1.bias"])
        glorot = sqrt(6 / (32 + d))
        @test 0.8glorot < maximum(abs, w["blocks.0.mlp.fc1.weight"]) <= glorot
        TRANSFORMER.train_epoch(s, collect(1:n))
        moved = TRANSFORMER.get_weights(s)
        # the key bias has no gradient (docs/benchmarks.md §3b), so it may stay put
        @test all(k -> occursin("attn.key.bias", k) || moved[k] != w[k], keys(w))
        @test all(k -> all(isfinite, moved[k]), keys(w))
        info = TRANSFORMER.info(s)
        @test info["cudnn_tf32"] == "none" && !isempty(info["attention"])
        acts = TRANSFORMER.activations(s, x[:, 1:3])
        @test size(acts["embedding"]) == size(acts["blocks.1"]) == (d, t, 3)
        @test size(acts["pooled"]) == (d, 3) && size(acts["fc"]) == (2, 3)
        # the contract's block (heads, scale, softmax over keys, LayerNorm, exact GELU)
        @test isapprox(acts["blocks.0"], reference_block(moved, 0, acts["embedding"]; heads=4);
                       rtol=1e-4)
        @test gelu_of_flavor(Float32[1, -2]) ≈ Float32[0.8413447, -0.04550026]  # x Phi(x)
        # LayerNorm adds eps itself to the biased variance: features +-1e-3 (variance 1e-6)
        # normalise to +-1e-3 / sqrt(1e-6 + 1e-5), not to +-1
        u = TRANSFORMER.State(DEVICE)
        TRANSFORMER.prepare(u, x, y, x[:, 1:70])
        TRANSFORMER.build(u, 1; lr=1e-4, hyper...)
        z = reshape(Float32[isodd(i) ? -1f-3 : 1f-3 for i in 1:d], d, 1, 1)
        normed = Array(u.model.ln_f(on_device(u, z)))
        @test normed[2] ≈ 1f-3 / sqrt(1.1f-5) rtol=1e-3
        # one small Adam step on a fixed batch: the batch's loss falls
        first_loss = TRANSFORMER.verify_step(u, x[:, 1:8], y[1:8])
        @test isfinite(first_loss)
        @test TRANSFORMER.verify_step(u, x[:, 1:8], y[1:8]) < first_loss
    end

    @testset "ResNet-50 features" begin
        images = rand(rng, Float32, 64, 64, 3, 3)  # smaller than 224: the pool is global
        s = FEATURES.State(DEVICE)
        FEATURES.prepare(s, images)
        FEATURES.build(s, 0)
        f = FEATURES.extract(s, 2, 3)
        @test size(f) == (2048, 2)
        @test all(isfinite, f)
        @test all(>=(0), f)  # the average of ReLU outputs
        # A canonical tensor handed over before build replaces the random one.
        t = FEATURES.State(DEVICE)
        FEATURES.prepare(t, images)
        FEATURES.load_weight(t, "bn1.weight", zeros(Float32, 64))
        FEATURES.build(t, 0)
        @test FEATURES.extract(t, 2, 3) != f
        @test_throws ErrorException FEATURES.build(
            (FEATURES.load_weight(t, "nonsense.weight", zeros(Float32, 1)); t), 0)
    end
end
