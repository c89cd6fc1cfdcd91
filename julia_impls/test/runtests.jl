# Julia-side tests of the Julia rows, for users who have Julia (this project's CI has none).
# `python -m harness setup julia --test` runs them for every flavor it set up; by hand, in the
# environment of the flavor to test:
#   julia --project=. julia_impls/test/runtests.jl                 # Knet (Julia 1.6-1.9)
#   julia --project=julia_impls/flux julia_impls/test/runtests.jl  # Flux (Julia >= 1.10)
# Small random data on whatever device the environment sees (HARNESS_TEST_DEVICE=cpu forces the
# CPU). Checked: shapes, finite outputs, that a training epoch moves every weight, that one
# optimizer step with a small learning rate on a fixed batch lowers that batch's loss (dropout
# off: a descent step, so it holds whenever the gradient is non-zero), the features' shape.
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
const FEATURES = include(joinpath(DIR, "inference.jl"))

"Every weight changed, and every one is still finite."
function all_moved(before::AbstractDict, after::AbstractDict)
    return all(k -> before[k] != after[k] && all(isfinite, after[k]), keys(before))
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
