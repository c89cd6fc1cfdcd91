"""JAX/Flax (py_impls/jax_flax.py), on small generated data and through the harness: both
variants train; the whole-epoch variant runs the harness's order (it computes what the host loop
computes, dropout included); canonical weights round-trip and give PyTorch's outputs and
optimizer steps; ResNet-50 features have the right shape and are deterministic."""

from pathlib import Path

import numpy as np
import pytest

from tests import helpers  # noqa: E402

for _module in ("jax", "flax", "optax"):  # skipped only where not installed; broken: an error
    helpers.framework(_module, _module, "pip install -e '.[jax]'")

from harness.config import (CNNConfig, InferenceConfig, RNNConfig,  # noqa: E402
                            TransformerConfig)
from harness.interface import TrainingData  # noqa: E402
from py_impls import jax_flax  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

N_TRAIN, N_TEST = 320, 64  # 5 steps an epoch


def coloured_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A colour per class plus noise: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.int32)
    colours = np.random.default_rng(99).random((10, 3), dtype=np.float32)
    x = 0.3 * rng.random((n, 3, 32, 32), dtype=np.float32) + 0.7 * colours[y][:, :, None, None]
    return x.astype(np.float32), y


def marked_reviews(n: int, seed: int, vocab: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Random token ids whose last few tokens say the label."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int32)
    x = rng.integers(3, vocab, (n, length)).astype(np.int32)
    x[:, -3:] = np.where(y[:, None] == 1, 7, 8)
    return x, y


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def orders(n: int, epochs: int) -> list[np.ndarray]:
    return [np.random.default_rng([1, e]).permutation(n) for e in range(epochs)]


@pytest.fixture(scope="module")
def cnn_data() -> TrainingData:
    x, y = coloured_images(N_TRAIN + N_TEST, 0)
    return TrainingData(x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:])


@pytest.fixture(scope="module")
def cnn_runs(cnn_data):
    """Both variants, same seed and order: the weights before and after one epoch."""
    runs = {}
    for cls in (jax_flax.CNN, jax_flax.CNNWholeEpoch):
        impl = cls(device="cpu")
        impl.prepare(cnn_data)
        impl.build(CNNConfig(), seed=0)
        before = impl.get_weights()
        impl.train_epoch(orders(N_TRAIN, 1)[0])
        impl.sync()
        runs[cls] = {"weights": [before, impl.get_weights()], "info": impl.info()}
    return runs


@pytest.mark.slow
def test_whole_epoch_scan_computes_what_the_host_loop_computes(cnn_runs):
    """Same seed, same permutation: the same batches in the same order with the same dropout
    masks, so the scan's weights are the host loop's (on XLA:CPU to the bit; the bound leaves
    room for another XLA's float reassociation)."""
    host, scan = cnn_runs[jax_flax.CNN]["weights"], cnn_runs[jax_flax.CNNWholeEpoch]["weights"]
    for name in host[0]:
        np.testing.assert_array_equal(host[0][name], scan[0][name])  # the same initialisation
        assert relative_error(scan[1][name], host[1][name]) < 1e-5, name
        assert relative_error(scan[1][name], host[0][name]) > 1e-4, f"{name} did not train"


@pytest.mark.slow
def test_whole_epoch_on_cpu_uses_the_canonical_convolution_gradients(cnn_runs):
    """XLA:CPU runs non-canonical convolutions inside a loop body as naive loops (40x slower):
    the scan variant says it takes the workaround; the host variant needs none."""
    assert "conv_gradients" in cnn_runs[jax_flax.CNNWholeEpoch]["info"].extra
    assert "conv_gradients" not in cnn_runs[jax_flax.CNN]["info"].extra


@pytest.mark.slow
def test_canonical_convolution_gradients_are_lax_gradients():
    import jax

    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 9, 9, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 5)).astype(np.float32)

    def loss(conv, x, w):
        dims = jax.lax.conv_dimension_numbers(x.shape, w.shape, ("NHWC", "HWIO", "NHWC"))
        y = conv(x, w, (1, 1), [(1, 1), (1, 1)], lhs_dilation=(1, 1), rhs_dilation=(1, 1),
                 dimension_numbers=dims, feature_group_count=1, precision="highest")
        return (y * y).sum()

    want = jax.grad(lambda x, w: loss(jax.lax.conv_general_dilated, x, w), (0, 1))(x, w)
    got = jax.grad(lambda x, w: loss(jax_flax.conv_with_canonical_grads, x, w), (0, 1))(x, w)
    for a, b in zip(got, want):
        assert relative_error(np.asarray(a), np.asarray(b)) < 1e-5


@pytest.mark.slow
def test_whole_epoch_follows_the_given_order(cnn_data, cnn_runs):
    expected = cnn_runs[jax_flax.CNNWholeEpoch]["weights"][1]
    first = orders(N_TRAIN, 1)[0]
    for order, same in ((first, True), (first[::-1].copy(), False)):
        impl = jax_flax.CNNWholeEpoch(device="cpu")
        impl.prepare(cnn_data)
        impl.build(CNNConfig(), seed=0)
        impl.train_epoch(order)
        got = impl.get_weights()
        errors = [relative_error(got[name], expected[name]) for name in expected]
        if same:
            assert max(errors) == 0.0  # deterministic: the same order, the same weights
        else:
            assert min(errors) > 1e-3  # another order, other weights


@pytest.mark.slow
@pytest.mark.parametrize("host, scan, config", [
    (jax_flax.RNN, jax_flax.RNNWholeEpoch, RNNConfig(vocab_size=50, embedding_dim=6, hidden=5,
                                                     seq_len=7, batch_size=8)),
    (jax_flax.Transformer, jax_flax.TransformerWholeEpoch,
     TransformerConfig(vocab_size=50, d_model=8, heads=2, mlp_dim=16, blocks=1, seq_len=7,
                       batch_size=8)),
])
def test_the_review_variants_train_the_same_weights(host, scan, config):
    """The GRU and the Transformer as the CNN above: one epoch of 4 steps through the host
    loop and through the scan gives the same weights."""
    x, y = marked_reviews(40, 4, vocab=config.vocab_size, length=config.seq_len)
    data = TrainingData(x[:32], y[:32], x[32:], y[32:])
    trained = []
    for cls in (host, scan):
        impl = cls(device="cpu")
        impl.prepare(data)
        impl.build(config, seed=0)
        before = impl.get_weights()
        impl.train_epoch(orders(32, 1)[0])
        impl.sync()
        trained.append((before, impl.get_weights()))
    (host_before, host_after), (scan_before, scan_after) = trained
    for name in host_before:
        np.testing.assert_array_equal(host_before[name], scan_before[name])
        assert relative_error(scan_after[name], host_after[name]) < 1e-5, name
    assert max(relative_error(host_after[n], host_before[n]) for n in host_before) > 1e-4


@pytest.mark.slow
@pytest.mark.rows("jax-flax", "jax-flax-scan")
def test_the_variants_agree_through_the_harness(smoke_runs):
    """Both rows' smoke runs through the CLI (shared with the contract test: tests/smoke_runs.py)
    learn; where their adaptive windows trained the same number of steps, the whole-epoch scan
    reaches the host loop's accuracy."""
    for benchmark in ("cnn", "rnn", "transformer"):
        runs = {name: smoke_runs(name).record(benchmark) for name in ("jax-flax", "jax-flax-scan")}
        for record in runs.values():
            assert record["accuracy"] > helpers.chance(benchmark) + helpers.MARGIN, record
        if runs["jax-flax"]["steps_run"] == runs["jax-flax-scan"]["steps_run"]:
            acc = {name: record["accuracy"] for name, record in runs.items()}
            assert abs(acc["jax-flax"] - acc["jax-flax-scan"]) <= 0.01, (benchmark, acc)


def test_cnn_weights_round_trip_and_layouts(cnn_data):
    impl = jax_flax.CNN(device="cpu")
    impl.prepare(cnn_data)
    impl.build(CNNConfig(), seed=1)
    rng = np.random.default_rng(2)
    canonical = {k: rng.standard_normal(v.shape).astype(np.float32)
                 for k, v in impl.get_weights().items()}
    assert canonical["conv1.weight"].shape == (50, 3, 3, 3)  # O, I, kH, kW
    assert canonical["fc1.weight"].shape == (512, 6400)  # out, in
    assert sorted(canonical) == sorted(f"{layer}.{p}" for layer in
                                       ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2")
                                       for p in ("weight", "bias"))
    impl.load_weights(canonical)
    for name, value in impl.get_weights().items():
        np.testing.assert_array_equal(value, canonical[name], err_msg=name)


def torch_pair(benchmark: str, config, data: TrainingData):
    """The PyTorch reference and the JAX implementation, the JAX one with PyTorch's weights."""
    helpers.torch()
    from py_impls import pytorch  # the project's own module: an error in it fails, never skips
    torch_cls, jax_cls = {"cnn": (pytorch.CNN, jax_flax.CNN),
                          "rnn": (pytorch.RNN, jax_flax.RNN)}[benchmark]
    reference, impl = torch_cls(device="cpu"), jax_cls(device="cpu")
    for one in (reference, impl):
        one.prepare(data)
        one.build(config, seed=0)
    impl.load_weights(reference.get_weights())
    return reference, impl


@pytest.mark.slow
def test_cnn_matches_pytorch_forward_and_sgd_steps():
    """fc1's permutation (H,W,C flatten vs C,H,W) and the conv transposes are right."""
    x, y = coloured_images(8, 3)
    reference, impl = torch_pair("cnn", CNNConfig(), TrainingData(x, y, x, y))
    assert relative_error(impl.predict(), reference.predict()) < 1e-4
    for _ in range(2):  # the second step shows the momentum
        np.testing.assert_allclose(impl.verify_step(x, y), reference.verify_step(x, y), rtol=1e-4)
    want = reference.get_weights()
    for name, value in impl.get_weights().items():
        assert relative_error(value, want[name]) < 1e-4, name


@pytest.mark.slow
def test_the_whole_epoch_variant_verifies_through_its_scan():
    """`verify_step` of the scan variant runs `scan_epoch` (an epoch of one batch) and takes
    the host variant's step."""
    x, y = coloured_images(8, 3)
    data = TrainingData(x, y, x, y)
    losses, weights = [], []
    for cls in (jax_flax.CNN, jax_flax.CNNWholeEpoch):
        impl = cls(device="cpu")
        impl.prepare(data)
        impl.build(CNNConfig(), seed=0)
        losses.append([impl.verify_step(x, y) for _ in range(2)])
        weights.append(impl.get_weights())
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    for name, value in weights[1].items():
        assert relative_error(value, weights[0][name]) < 1e-5, name


@pytest.mark.slow
def test_gru_matches_pytorch_forward_and_adam_steps():
    """The GRU cell is PyTorch's (reset after the recurrent matmul, both bias vectors), so the
    same canonical weights give the same logits and the same Adam updates."""
    config = RNNConfig(vocab_size=50, embedding_dim=6, hidden=5)
    x, y = marked_reviews(8, 4, vocab=50, length=7)
    reference, impl = torch_pair("rnn", config, TrainingData(x, y, x, y))
    assert relative_error(impl.predict(), reference.predict()) < 1e-5
    acts, want_acts = impl.activations(x), reference.activations(x)
    assert relative_error(acts["gru"], want_acts["gru"]) < 1e-5
    for _ in range(2):
        np.testing.assert_allclose(impl.verify_step(x, y), reference.verify_step(x, y), rtol=1e-5)
    want = reference.get_weights()
    for name, value in impl.get_weights().items():
        assert relative_error(value, want[name]) < 1e-4, name


def resnet_features(weights, images: np.ndarray, seed: int = 0,
                    cls=jax_flax.ResNet50Features) -> list[np.ndarray]:
    impl = cls(device="cpu")
    impl.prepare(images)
    impl.build(InferenceConfig(batch_size=2, image_size=images.shape[-1]), weights, seed)
    return [impl.extract(0, 2), impl.extract(0, 2)]


@pytest.fixture(scope="module")
def images() -> np.ndarray:  # 64x64 instead of 224: the same network, cheaper
    return np.random.default_rng(5).random((2, 3, 64, 64), dtype=np.float32)


@pytest.fixture(scope="module")
def host_features(images) -> list[np.ndarray]:
    return resnet_features(None, images, seed=3)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [jax_flax.ResNet50Features, jax_flax.ResNet50FeaturesResident])
def test_resnet50_features_shape_and_determinism(images, host_features, cls):
    first, again = resnet_features(None, images, seed=3, cls=cls)
    assert first.shape == (2, 2048) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, host_features[0])  # same seed, same weights, either row


@pytest.mark.slow
def test_resnet50_matches_pytorch_with_torchvision_weights(images):
    helpers.torch()  # the reference: skipped only where PyTorch is not installed
    from py_impls.pytorch import ResNet50Features as TorchFeatures

    reference = TorchFeatures(device="cpu")
    reference.prepare(images)
    reference.build(InferenceConfig(batch_size=2, image_size=64), None, seed=0)
    helpers.random_batch_norm_statistics(reference.model, seed=6)
    weights = {k: v.detach().numpy() for k, v in reference.model.state_dict().items()}
    features, _ = resnet_features(weights, images)
    assert relative_error(features, reference.extract(0, 2)) < 1e-4


def test_the_ynn_flag_is_set_only_where_this_jaxlib_knows_it():
    """XLA aborts the process on an unknown flag in XLA_FLAGS, so the CPU setting is checked
    against the installed jaxlib first (a later jaxlib may drop the experimental flag)."""
    from py_impls import jax_settings

    assert jax_settings.jaxlib_knows_flag("xla_cpu_experimental_ynn_fusion_type") is True
    assert jax_settings.jaxlib_knows_flag("xla_cpu_no_such_flag_in_any_jaxlib") is False
    assert jax_flax.YNN_FUSIONS in ("off", "as set in XLA_FLAGS")
