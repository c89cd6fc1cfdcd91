"""Chainer in its own environment: canonical weights give the PyTorch row's outputs and
optimizer steps (runs through the CLI and verify: tests/test_contract.py). Skipped until
`python -m harness setup chainer`.

Chainer computes with NumPy on a CPU (ResNet-50: about 11.6 s a batch of 32 on 2 cores), so the
inference checks here use 2 images, outside the harness."""

import numpy as np
import pytest

from tests import helpers
from tests.isolated_env import (compare_training, require_environment, run_in_environment)

require_environment("chainer")


@pytest.mark.slow
def test_cnn_matches_pytorch_forward_and_momentum_steps(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((8, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, 8).astype(np.int32)
    compare_training("chainer", "py_impls.chainer_impl:CNN", "cnn", x, y, tmp_path)


@pytest.mark.slow
def test_nstepgru_is_pytorchs_gru_and_adam(tmp_path):
    """L.NStepGRU, with w0..w5 taken from the canonical r, z, n blocks, is PyTorch's GRU."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 30_000, (4, 150)).astype(np.int32)
    y = np.array([0, 1, 1, 0], np.int32)
    compare_training("chainer", "py_impls.chainer_impl:RNN", "rnn", x, y, tmp_path)


@pytest.mark.slow
def test_resnet50_features_and_torchvision_weights(tmp_path):
    """(2, 2048) features at 224x224 in inference mode; at 64x64, with the same canonical
    weights, the PyTorch row's features."""
    torch = helpers.torch()
    from py_impls.pytorch import _ResNet50

    torch.manual_seed(0)
    model = _ResNet50().eval()
    helpers.random_batch_norm_statistics(model)
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    small = rng.random((2, 3, 64, 64), dtype=np.float32)
    full = rng.random((2, 3, 224, 224), dtype=np.float32)
    model.fc = torch.nn.Identity()
    with torch.no_grad():
        expected = model(torch.from_numpy(small)).numpy()
    got = run_in_environment("chainer", """
        from harness.config import InferenceConfig
        from py_impls.chainer_impl import ResNet50Features
        impl = ResNet50Features(device="cpu")
        weights = {k: v for k, v in inputs.items() if k not in ("small", "full")}
        impl.build(InferenceConfig(), weights, 0)
        impl.prepare(inputs["small"])
        outputs["small"] = impl.extract(0, 2)
        impl.prepare(inputs["full"])
        outputs["full"] = impl.extract(0, 2)
        """, {"small": small, "full": full, **weights}, tmp_path)
    assert got["full"].shape == (2, 2048) and got["full"].dtype == np.float32
    assert np.isfinite(got["full"]).all()
    np.testing.assert_allclose(got["small"], expected, rtol=1e-3, atol=1e-4)
