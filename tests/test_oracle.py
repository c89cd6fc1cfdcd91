"""The NumPy oracle against hand-computed cases and finite differences, and against PyTorch
in float64 (where the two must agree to rounding), plus the canonical weight files."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from harness.verify import weights
from harness.verify.oracle import cnn, conv, gru, loss, optim, resnet50, transformer
from tests import helpers


# == hand-computed cases ==
def test_a_1x1_convolution_mixes_channels_per_pixel():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]],
                   [[10.0, 20.0], [30.0, 40.0]]]])  # (1, 2, 2, 2)
    w = np.array([[[[1.0]], [[0.5]]],
                  [[[-1.0]], [[0.0]]]])  # (2 out, 2 in, 1, 1)
    out = conv.conv2d(x, w, np.array([0.25, 1.0]))
    assert out.tolist() == [[[[6.25, 12.25], [18.25, 24.25]],  # 1*x0 + 0.5*x1 + 0.25
                             [[0.0, -1.0], [-2.0, -3.0]]]]  # -x0 + 1


def test_a_padded_3x3_convolution_counts_the_neighbours():
    out = conv.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), padding=1)
    assert out[0, 0].tolist() == [[4, 6, 4], [6, 9, 6], [4, 6, 4]]


def test_convolution_is_cross_correlation_and_strides():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 1] = 1.0  # picks the top-right element of each window, no kernel flip
    assert conv.conv2d(x, w, stride=2)[0, 0].tolist() == [[1, 3], [9, 11]]


def test_max_pool_by_hand_and_padding_never_wins():
    x = np.array([[[[1.0, 5.0, 2.0, 0.0],
                    [3.0, 4.0, 8.0, 1.0],
                    [-1.0, -2.0, 0.5, 0.5],
                    [-3.0, -4.0, 0.5, 0.25]]]])
    assert conv.max_pool(x, 2, 2)[0, 0].tolist() == [[5, 8], [-1, 0.5]]
    negative = -np.ones((1, 1, 2, 2))
    assert conv.max_pool(negative, 3, 2, padding=1)[0, 0].tolist() == [[-1]]


def test_max_pool_gradient_goes_to_the_first_maximum():
    x = np.array([[[[1.0, 3.0], [3.0, 2.0]]]])  # a tie: PyTorch routes to the first
    dx = conv.max_pool_backward(np.array([[[[7.0]]]]), x, 2, 2)
    assert dx[0, 0].tolist() == [[0, 7], [0, 0]]


def test_batch_norm_inference_by_hand():
    x = np.full((1, 1, 1, 1), 3.0)
    out = conv.batch_norm_inference(x, np.array([2.0]), np.array([0.5]), np.array([1.0]),
                                    np.array([4.0 - 1e-5]))
    assert out.item() == pytest.approx((3 - 1) / 2 * 2 + 0.5)


def test_cross_entropy_by_hand():
    value, grad = loss.cross_entropy(np.array([[0.0, math.log(3.0)]]), np.array([1]))
    assert value == pytest.approx(-math.log(0.75))
    assert grad[0].tolist() == pytest.approx([0.25, -0.25])


def test_a_gru_step_with_known_numbers_resets_after_the_matmul():
    # H = E = 1; weights zero except W_hn, so that r = z = sigmoid(0) = 1/2 and
    # n = tanh(b_in + r * (W_hn h + b_hn)) = tanh(0.2 + 0.5 * (2 * 0.6 + 0.4)) = tanh(1.0).
    p = {"gru.weight_ih_l0": np.zeros((3, 1)), "gru.bias_ih_l0": np.array([0.0, 0.0, 0.2]),
         "gru.weight_hh_l0": np.array([[0.0], [0.0], [2.0]]),
         "gru.bias_hh_l0": np.array([0.0, 0.0, 0.4])}
    h_new, saved = gru.gru_step(p, np.array([[5.0]]), np.array([[0.6]]))
    assert saved["r"].item() == saved["z"].item() == 0.5
    assert h_new.item() == pytest.approx(0.5 * math.tanh(1.0) + 0.5 * 0.6)  # 0.680797...
    # Reset before the matmul would give tanh(0.2 + 2 * (0.5 * 0.6) + 0.4) = tanh(1.2).
    assert h_new.item() != pytest.approx(0.5 * math.tanh(1.2) + 0.3)


def test_gru_gate_blocks_are_r_z_n():
    # A large bias on the z block only: z = 1 keeps the state whatever the input.
    p = {"gru.weight_ih_l0": np.ones((3, 1)), "gru.bias_ih_l0": np.array([0.0, 50.0, 0.0]),
         "gru.weight_hh_l0": np.ones((3, 1)), "gru.bias_hh_l0": np.zeros(3)}
    h_new, _ = gru.gru_step(p, np.array([[1.0]]), np.array([[0.3]]))
    assert h_new.item() == pytest.approx(0.3)


def test_sgd_momentum_two_steps_by_hand():
    p, v = {"w": np.array([1.0])}, None
    p, v = optim.sgd_momentum(p, {"w": np.array([2.0])}, v, lr=0.1, momentum=0.9)
    assert p["w"].item() == pytest.approx(1.0 - 0.1 * 2.0)  # v = g on the first step
    p, v = optim.sgd_momentum(p, {"w": np.array([-1.0])}, v, lr=0.1, momentum=0.9)
    assert v["w"].item() == pytest.approx(0.9 * 2.0 - 1.0)  # no dampening
    assert p["w"].item() == pytest.approx(0.8 - 0.1 * 0.8)


def test_an_adam_step_by_hand():
    p, s = {"w": np.array([1.0])}, None
    p, s = optim.adam(p, {"w": np.array([0.5])}, s, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    # m = 0.05, v = 0.00025; bias-corrected 0.5 and 0.25: the step is lr * 0.5 / (0.5 + eps).
    assert p["w"].item() == pytest.approx(1.0 - 0.01 * 0.5 / (0.5 + 1e-8), abs=1e-15)
    p, s = optim.adam(p, {"w": np.array([-0.25])}, s, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    m, v = 0.9 * 0.05 - 0.1 * 0.25, 0.999 * 0.00025 + 0.001 * 0.0625  # 0.02, 0.00031225
    step = 0.01 * (m / 0.19) / (math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)  # m_hat 0.105263, v_hat 0.156203
    assert p["w"].item() == pytest.approx(1.0 - 0.01 * 0.5 / (0.5 + 1e-8) - step, abs=1e-15)
    assert step == pytest.approx(0.01 * 0.266337, rel=1e-6)  # 0.10526 / sqrt(0.15620)


# == gradients against finite differences ==
def numeric_gradient(f, array: np.ndarray, index: tuple, h: float = 1e-6) -> float:
    saved = array[index]
    array[index] = saved + h
    up = f()
    array[index] = saved - h
    down = f()
    array[index] = saved
    return (up - down) / (2 * h)


def test_conv_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 5, 5)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    dout = rng.normal(size=(2, 4, 3, 3))
    f = lambda: float(np.sum(conv.conv2d(x, w, b, stride=2, padding=1) * dout))  # noqa: E731
    dx, dw, db = conv.conv2d_backward(dout, x, w, stride=2, padding=1)
    for index in [(0, 0, 0, 0), (1, 2, 4, 3), (0, 1, 2, 2)]:
        assert dx[index] == pytest.approx(numeric_gradient(f, x, index), rel=1e-6)
    for index in [(0, 0, 0, 0), (3, 2, 2, 1)]:
        assert dw[index] == pytest.approx(numeric_gradient(f, w, index), rel=1e-6)
    assert db[1] == pytest.approx(numeric_gradient(f, b, (1,)), rel=1e-6)


def small_gru(rng):
    return {"embedding.weight": rng.normal(size=(7, 3)),
            "gru.weight_ih_l0": rng.normal(size=(6, 3)), "gru.weight_hh_l0": rng.normal(size=(6, 2)),
            "gru.bias_ih_l0": rng.normal(size=6), "gru.bias_hh_l0": rng.normal(size=6),
            "fc.weight": rng.normal(size=(2, 2)), "fc.bias": rng.normal(size=2)}


def test_gru_backprop_through_time_matches_finite_differences():
    rng = np.random.default_rng(1)
    p = small_gru(rng)
    tokens, y = np.array([[1, 4, 4, 0], [6, 2, 0, 0]]), np.array([0, 1])
    _, grads = gru.loss_and_gradients(p, tokens, y)
    f = lambda: gru.loss_and_gradients(p, tokens, y)[0]  # noqa: E731
    for name, index in [("embedding.weight", (4, 1)), ("embedding.weight", (0, 2)),
                        ("gru.weight_ih_l0", (5, 0)), ("gru.weight_hh_l0", (1, 1)),
                        ("gru.bias_ih_l0", (4,)), ("gru.bias_hh_l0", (5,)),
                        ("fc.weight", (1, 0)), ("fc.bias", (0,))]:
        assert grads[name][index] == pytest.approx(numeric_gradient(f, p[name], index),
                                                   rel=1e-5, abs=1e-9), name
    assert np.all(grads["embedding.weight"][[3, 5]] == 0)  # ids not in the batch


def test_cnn_backprop_matches_finite_differences():
    rng = np.random.default_rng(2)
    p = {k: v.astype(np.float64) for k, v in weights.seeded_weights("cnn", 3).items()}
    x, y = rng.random((2, 3, 32, 32)), np.array([3, 7])
    _, grads = cnn.loss_and_gradients(p, x, y)
    f = lambda: loss.cross_entropy(cnn.forward(p, x)["fc2"], y)[0]  # noqa: E731
    for name, index in [("conv1.weight", (4, 2, 1, 0)), ("conv2.bias", (7,)),
                        ("conv4.weight", (50, 20, 2, 2)), ("fc1.weight", (100, 3000)),
                        ("fc2.bias", (3,))]:
        assert grads[name][index] == pytest.approx(numeric_gradient(f, p[name], index),
                                                   rel=1e-4, abs=1e-10), name


def test_layer_norm_and_gelu_by_hand():
    y, _ = transformer.layer_norm(np.array([[1.0, 3.0]]), np.array([2.0, 1.0]),
                                  np.array([0.0, 0.5]), eps=0.0)
    np.testing.assert_allclose(y, [[-2.0, 1.5]])  # mean 2, biased variance 1
    # Phi(1) = 0.841344746..., Phi(-1) = 1 - Phi(1): exact GELU, not the tanh approximation
    np.testing.assert_allclose(transformer.gelu(np.array([1.0, -1.0, 0.0])),
                               [0.8413447460685429, -0.15865525393145707, 0.0], rtol=1e-14)


def test_attention_heads_are_contiguous_feature_blocks():
    x = np.arange(2 * 3 * 128, dtype=np.float64).reshape(2, 3, 128)
    heads = transformer.split_heads(x)
    assert heads.shape == (2, 4, 3, 32)
    np.testing.assert_array_equal(heads[1, 2, 0], x[1, 0, 64:96])
    np.testing.assert_array_equal(transformer.merge_heads(heads), x)


def test_transformer_backprop_matches_finite_differences():
    p = {k: v.astype(np.float64) for k, v in weights.seeded_weights("transformer", 2).items()}
    tokens, y = np.array([[1, 7, 7, 0, 0], [1, 9, 3, 5, 0]]), np.array([0, 1])
    _, grads = transformer.loss_and_gradients(p, tokens, y)
    f = lambda: transformer.loss_and_gradients(p, tokens, y)[0]  # noqa: E731
    for name, index in [("embedding.weight", (7, 3)), ("embedding.weight", (0, 100)),
                        ("position.weight", (4, 5)), ("blocks.0.ln1.weight", (3,)),
                        ("blocks.0.attn.query.weight", (40, 2)), ("blocks.0.attn.key.bias", (90,)),
                        ("blocks.0.attn.value.weight", (5, 127)), ("blocks.1.attn.out.bias", (8,)),
                        ("blocks.1.ln2.bias", (64,)), ("blocks.1.mlp.fc1.weight", (300, 3)),
                        ("blocks.1.mlp.fc2.weight", (9, 500)), ("ln_f.weight", (0,)),
                        ("fc.weight", (1, 33))]:
        assert grads[name][index] == pytest.approx(numeric_gradient(f, p[name], index),
                                                   rel=1e-5, abs=1e-9), name
    assert np.all(grads["embedding.weight"][[2, 4, 6]] == 0)  # ids not in the batch
    assert np.all(grads["position.weight"][5:] == 0)  # positions past this batch's length


# == against PyTorch in float64: the same function, to rounding ==
@pytest.fixture
def torch():
    """PyTorch for the comparisons below; only these skip without it (the NumPy tests above run)."""
    return helpers.torch()


def torch_model(benchmark, params):
    from harness import benchmarks
    from tests.helpers import pytorch_class

    spec = benchmarks.get(benchmark)
    impl = pytorch_class(benchmark)(device="cpu")
    impl.build(spec.config, 0)
    impl.load_weights(params)
    return impl.model.double().eval()


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", ["cnn", "rnn", "transformer"])
def test_forward_and_gradients_equal_pytorch_float64(benchmark, torch):
    from harness import benchmarks

    rng = np.random.default_rng(3)
    params = weights.seeded_weights(benchmark, 1)
    oracle = benchmarks.get(benchmark).oracle_module()
    if benchmark == "cnn":
        x, tx = (v := rng.random((2, 3, 32, 32))), torch.from_numpy(v)
    else:
        x = rng.integers(0, 30_000, (2, 150))
        tx = torch.from_numpy(x)
    y = np.array([1, 0])
    model = torch_model(benchmark, params)
    logits = model(tx)
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)).backward()
    value, grads = oracle.loss_and_gradients(params, x, y)
    want = oracle.forward(params, x)[oracle.LOGITS]
    np.testing.assert_allclose(want, logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name, tensor in model.named_parameters():
        np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=1e-8, atol=1e-13,
                                   err_msg=name)


def test_resnet50_features_equal_pytorch_float64(torch):
    from harness.config import InferenceConfig
    from py_impls.pytorch import ResNet50Features

    params = weights.seeded_weights("resnet50", 0)
    x = np.random.default_rng(4).random((1, 3, 32, 32))  # layer4 is 1x1 here
    impl = ResNet50Features(device="cpu")
    impl.build(InferenceConfig(), params, 0)
    with torch.no_grad():
        got = impl.model.double()(torch.from_numpy(x)).numpy()
    want = resnet50.forward(params, x)["avgpool"]
    assert want.shape == (1, 2048)
    np.testing.assert_allclose(want, got, rtol=1e-9, atol=1e-11)


# == canonical weight files ==
def test_seeded_weights_are_deterministic_and_canonical(tmp_path):
    a, b = weights.seeded_weights("rnn", 5), weights.seeded_weights("rnn", 5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["fc.weight"], weights.seeded_weights("rnn", 6)["fc.weight"])
    assert a["gru.weight_ih_l0"].shape == (300, 125) and a["gru.weight_hh_l0"].shape == (300, 100)
    assert all(v.dtype == np.float32 for v in a.values())
    assert np.abs(a["gru.bias_hh_l0"]).min() > 0  # non-zero biases: their handling is tested
    path = weights.save_weights(tmp_path / "rnn.h5", "rnn", a, source="test")
    loaded = weights.load_weights(path, "rnn")
    assert list(loaded) and all(np.array_equal(loaded[k], a[k]) for k in a)


def test_resnet50_weights_have_torchvision_names_with_running_stats():
    shapes = weights.parameter_shapes("resnet50")
    assert shapes["layer2.0.conv2.weight"] == (128, 128, 3, 3)  # v1.5: stride on the 3x3
    assert shapes["layer4.0.downsample.1.running_var"] == (2048,)
    assert not any(name.startswith("fc.") for name in shapes)
    learned = sum(np.prod(s) for n, s in shapes.items() if "running" not in n)
    assert learned == 25_557_032 - (2048 * 1000 + 1000)  # torchvision's count, less fc


def test_wrong_weights_are_refused_with_the_reason(tmp_path):
    params = weights.seeded_weights("cnn")
    params["fc1.weight"] = params["fc1.weight"].T
    del params["conv1.bias"]
    with pytest.raises(weights.WeightsError, match="missing conv1.bias.*wrong shape fc1.weight"):
        weights.save_weights(tmp_path / "bad.h5", "cnn", params, source="test")
    with pytest.raises(weights.WeightsError, match="data weights cnn"):
        weights.load_weights(tmp_path / "absent.h5", "cnn")


@pytest.mark.slow
def test_a_torchvision_checkpoint_converts_and_gives_the_same_features(tmp_path, torch):
    from harness.config import InferenceConfig
    from harness.commands.data import register_weights_command
    from py_impls.pytorch import ResNet50Features, resnet50 as torch_resnet50

    torch.manual_seed(0)
    model, _ = torch_resnet50()
    helpers.random_batch_norm_statistics(model)  # as a trained model has
    checkpoint = tmp_path / "resnet50-random.pth"
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, checkpoint)
    parser = argparse.ArgumentParser()  # `python -m harness data weights resnet50 --from FILE`
    register_weights_command(parser.add_subparsers())
    args = parser.parse_args(["weights", "resnet50", "--from", str(checkpoint),
                              "--data-dir", str(tmp_path)])
    assert args.func(args) == 0
    params = weights.load_weights(tmp_path / "weights" / "resnet50-resnet50-random.h5", "resnet50")
    assert np.array_equal(params["layer3.2.bn2.running_var"],
                          model.layer3[2].bn2.running_var.numpy())
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    impl = ResNet50Features(device="cpu")
    impl.prepare(x)
    impl.build(InferenceConfig(), params, 0)
    model.fc = torch.nn.Identity()
    with torch.no_grad():
        want = model.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(impl.extract(0, 1), want, rtol=1e-5, atol=1e-6)
    oracle = resnet50.forward(params, x)["avgpool"]
    assert np.linalg.norm(oracle - want) / np.linalg.norm(want) < 1e-5  # fp32 vs float64


def test_a_checkpoint_that_is_not_a_state_dict_is_refused(tmp_path, torch):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(weights.WeightsError, match="not a state_dict"):
        weights.convert_torchvision_checkpoint(path, tmp_path / "x.h5")
