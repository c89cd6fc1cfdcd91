"""The initialisation rules of docs/benchmarks.md §3 and §3b as verify's checks
(harness.verify.init_rule), on weights drawn here: drawn by the rule they pass; each way of
drawing them otherwise fails its own check. That every row's own freshly built weights pass is
the contract test's (tests/test_contract.py: `verify --strict` for every ready row, whose
records carry these checks). Julia rows: julia_impls/test/runtests.jl checks the same."""

from __future__ import annotations

import numpy as np

from harness.config import RNNConfig, TransformerConfig
from harness.verify import init_rule

RNG = np.random.default_rng(0)


def gru_weights(bound: float = 1 / RNNConfig().hidden ** 0.5, embedding_std: float = 1.0
                ) -> dict[str, np.ndarray]:
    config = RNNConfig()
    hidden, embed = config.hidden, config.embedding_dim
    weights = {"embedding.weight": RNG.normal(0, embedding_std, (config.vocab_size, embed)),
               "fc.weight": RNG.normal(0, 1, (2, hidden)), "fc.bias": np.zeros(2)}
    for name, shape in (("gru.weight_ih_l0", (3 * hidden, embed)),
                        ("gru.weight_hh_l0", (3 * hidden, hidden)),
                        ("gru.bias_ih_l0", (3 * hidden,)), ("gru.bias_hh_l0", (3 * hidden,))):
        weights[name] = RNG.uniform(-bound, bound, shape)
    return weights


def transformer_weights(glorot: float = 1.0, bias: float = 0.0, ln_scale: float = 1.0,
                        table_std: float = 0.02) -> dict[str, np.ndarray]:
    d = 128
    weights = {"embedding.weight": RNG.normal(0, table_std, (30000, d)),
               "position.weight": RNG.normal(0, 0.02, (150, d))}
    for name, (out, inputs) in (("blocks.0.attn.in_proj.weight", (3 * d, d)),
                                ("blocks.0.ff1.weight", (4 * d, d)), ("fc.weight", (2, d))):
        limit = glorot * (6 / (inputs + out)) ** 0.5
        weights[name] = RNG.uniform(-limit, limit, (out, inputs))
        weights[name.replace("weight", "bias")] = np.full(out, bias)
    weights["blocks.0.ln1.weight"] = np.full(d, ln_scale)
    weights["blocks.0.ln1.bias"] = np.zeros(d)
    return weights


def failing(checks) -> list[str]:
    return [c.name for c in checks if not c.passed]


def test_weights_drawn_by_the_rule_pass_every_check():
    rnn = init_rule.checks("rnn", gru_weights(), RNNConfig(), "")
    transformer = init_rule.checks("transformer", transformer_weights(), TransformerConfig(), "")
    assert len(rnn) == 2 and len(transformer) == 5
    assert failing(rnn) == [] and failing(transformer) == []
    assert init_rule.checks("cnn", {}, None, "") == []  # no rule: no check


def test_each_other_draw_fails_its_own_check():
    assert failing(init_rule.checks("rnn", gru_weights(embedding_std=0.02), RNNConfig(), "")) \
        == ["init: embedding ~ N(0, 1)"]
    # Keras' default for a GRU's input matrix, Glorot: 0.119 for 300 x 125, past 1/sqrt(100)
    wrong_bound = gru_weights(bound=(6 / (300 + 125)) ** 0.5)
    assert failing(init_rule.checks("rnn", wrong_bound, RNNConfig(), "")) == \
        ["init: GRU matrices and biases ~ U(-0.1, 0.1)"]
    cases = {"init: 3 dense matrices Glorot-uniform": transformer_weights(glorot=0.7),
             "init: every bias zero": transformer_weights(bias=0.01),
             "init: every LayerNorm scale one": transformer_weights(ln_scale=0.5),
             "init: embedding ~ N(0, 0.02)": transformer_weights(table_std=1.0)}
    for name, weights in cases.items():
        assert failing(init_rule.checks("transformer", weights, TransformerConfig(), "")) == \
            [name]


def test_without_the_built_weights_the_check_is_not_made_and_says_why():
    [check] = init_rule.checks("rnn", {}, RNNConfig(), "the implementation has no get_weights")
    assert check.passed is None and "no get_weights" in check.detail
    partial = {k: v for k, v in gru_weights().items() if k != "gru.bias_hh_l0"}
    [check] = init_rule.checks("rnn", partial, RNNConfig(), "")
    assert check.passed is False and "gru.bias_hh_l0" in check.detail
