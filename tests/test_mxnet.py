"""MXNet rows (Gluon and Module API) in their own environment: canonical weights give the
PyTorch row's outputs and optimizer steps. Skipped until `python -m harness setup mxnet`. (Runs
through the CLI and verify: tests/test_contract.py.)"""

import numpy as np
import pytest

from tests import helpers
from tests.isolated_env import (compare_training, require_environment, run_in_environment)

require_environment("mxnet")


@pytest.mark.slow
def test_gluon_cnn_matches_pytorch_forward_and_sgd_steps(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((8, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, 8).astype(np.int32)
    compare_training("mxnet", "py_impls.mxnet_gluon:CNN", "cnn", x, y, tmp_path)


@pytest.mark.slow
def test_module_cnn_matches_pytorch_forward_and_sgd_steps(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((8, 3, 32, 32), dtype=np.float32)  # 8 of a batch of 64: padded by predict
    y = rng.integers(0, 10, 8).astype(np.int32)
    compare_training("mxnet", "py_impls.mxnet_module:CNN", "cnn", x, y, tmp_path)


@pytest.mark.slow
def test_gluon_gru_is_pytorchs_gru_and_adam(tmp_path):
    """gluon.rnn.GRU has PyTorch's gate order (r, z, n) and reset-after formulation."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 30_000, (4, 150)).astype(np.int32)
    y = np.array([0, 1, 1, 0], np.int32)
    compare_training("mxnet", "py_impls.mxnet_gluon:RNN", "rnn", x, y, tmp_path)


@pytest.mark.slow
def test_resnet50_loads_torchvision_weights(tmp_path):
    """Same canonical weights, same features as the PyTorch row (small images to be quick)."""
    torch = helpers.torch()
    from py_impls.pytorch import _ResNet50

    torch.manual_seed(0)
    model = _ResNet50().eval()
    helpers.random_batch_norm_statistics(model)
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    images = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
    model.fc = torch.nn.Identity()
    with torch.no_grad():
        expected = model(torch.from_numpy(images)).numpy()
    got = run_in_environment("mxnet", """
        from harness.config import InferenceConfig
        from py_impls.mxnet_gluon import ResNet50Features
        impl = ResNet50Features(device="cpu")
        impl.build(InferenceConfig(), {k: v for k, v in inputs.items() if k != "images"}, 0)
        impl.prepare(inputs["images"])
        outputs["features"] = impl.extract(0, 2)
        outputs["layer2.0"] = impl.activations(inputs["images"])["layer2.0"]
        """, {"images": images, **weights}, tmp_path)
    assert got["features"].shape == (2, 2048) and got["features"].dtype == np.float32
    np.testing.assert_allclose(got["features"], expected, rtol=1e-3, atol=1e-4)
    assert got["layer2.0"].shape == (2, 512, 8, 8)  # v1.5: the stride is on the 3x3 conv


@pytest.mark.slow
def test_gluon_gelu_is_the_exact_erf_form(tmp_path):
    """The Transformer's nn.GELU (LeakyReLU act_type="gelu") is x * Phi(x), not the tanh
    approximation, which is up to 4e-4 off: too little for verify's logit tolerance to see."""
    from math import erf, sqrt

    x = np.linspace(-4, 4, 81, dtype=np.float32)
    got = run_in_environment("mxnet", """
        import py_impls.mxnet_gluon  # the np.bool shim before mxnet
        import mxnet as mx
        outputs["gelu"] = mx.gluon.nn.GELU()(mx.nd.array(inputs["x"])).asnumpy()
        """, {"x": x}, tmp_path)
    exact = np.array([v * 0.5 * (1 + erf(v / sqrt(2))) for v in x.astype(np.float64)])
    np.testing.assert_allclose(got["gelu"], exact, rtol=0, atol=2e-6)
