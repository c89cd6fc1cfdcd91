# Julia-side tests of the Julia rows, for users who have Julia (this project's CI has none).
# Run in the environment of the flavor to test:
#   julia --project=. julia_impls/test/runtests.jl                 # Knet (Julia 1.6-1.9)
#   julia --project=julia_impls/flux julia_impls/test/runtests.jl  # Flux (Julia >= 1.10)
# Small random data on whatever device the environment sees (set HARNESS_TEST_DEVICE=cpu to
# force the CPU): shapes, that training steps reduce the loss, the features' shape.

using Test
using Random: MersenneTwister
using Statistics: mean

const FLAVOR = Base.find_package("Knet") !== nothing ? "knet" :
               Base.find_package("Flux") !== nothing ? "flux" :
               error("neither Knet nor Flux is in the active environment: run with " *
                     "--project=. (Knet) or --project=julia_impls/flux (Flux)")
const DIR = joinpath(@__DIR__, "..", FLAVOR)
const DEVICE = get(ENV, "HARNESS_TEST_DEVICE", "auto")

const CNN = include(joinpath(DIR, "cnn.jl"))
const RNN = include(joinpath(DIR, "rnn.jl"))
const FEATURES = include(joinpath(DIR, "inference.jl"))

"Mean softmax cross-entropy of logits (classes, n) against 1-based labels."
function cross_entropy(logits::AbstractMatrix, labels::AbstractVector{<:Integer})
    shifted = logits .- maximum(logits; dims=1)
    logp = shifted .- log.(sum(exp.(shifted); dims=1))
    return -mean(logp[CartesianIndex.(labels, 1:length(labels))])
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
        before = cross_entropy(logits, y[1:n_test])
        for _ in 1:10
            CNN.train_epoch(s, collect(1:64))  # the same batch again and again
        end
        CNN.sync(s)
        @test cross_entropy(CNN.predict(s), y[1:n_test]) < before
        @test CNN.info(s)["julia_version"] == string(VERSION)
        # the hooks of `python -m harness verify`
        @test size(CNN.activations(s, x[:, :, :, 1:2])["relu2"]) == (16, 16, 50, 2)
        @test size(CNN.get_weights(s)["conv2.weight"]) == (3, 3, 50, 50)
        first_loss = CNN.verify_step(s, x[:, :, :, 1:8], y[1:8])
        @test isfinite(first_loss) && CNN.verify_step(s, x[:, :, :, 1:8], y[1:8]) < first_loss
    end

    @testset "RNN" begin
        n, t, vocab = 128, 20, 100
        x = Int32.(rand(rng, 0:vocab-1, t, n))  # (T, N), 0-based ids
        y = rand(rng, 1:2, n)
        s = RNN.State(DEVICE)
        RNN.prepare(s, x, y, x[:, 1:70])
        RNN.build(s, 0; batch_size=64, vocab_size=vocab, embedding_dim=16, hidden=8,
                  n_classes=2, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
        logits = RNN.predict(s)
        @test size(logits) == (2, 70)
        before = cross_entropy(logits, y[1:70])
        for _ in 1:20
            RNN.train_epoch(s, collect(1:64))
        end
        @test cross_entropy(RNN.predict(s), y[1:70]) < before
        @test RNN.info(s)["cudnn"] in ("yes", "no")
        acts = RNN.activations(s, x[:, 1:3])
        @test size(acts["gru"]) == (8, t, 3) && size(acts["fc"]) == (2, 3)
        @test haskey(RNN.get_weights(s), "fc.weight")
        @test isfinite(RNN.verify_step(s, x[:, 1:8], y[1:8]))
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
