"""What is specific to the PyTorch row: its ResNet-50 is torchvision's network. (Running every
benchmark through the CLI and verify: tests/test_contract.py, for every row.)"""

from tests import helpers

helpers.torch()


def test_pytorch_resnet50_matches_torchvision_names():
    """The torch.nn fallback has torchvision's parameter names and shapes (canonical weights)."""
    from py_impls.pytorch import _ResNet50

    state = _ResNet50().state_dict()
    assert state["conv1.weight"].shape == (64, 3, 7, 7)
    assert state["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert state["layer2.0.conv2.weight"].shape == (128, 128, 3, 3)  # v1.5: stride on the 3x3
    assert state["layer4.2.bn3.running_var"].shape == (2048,)
    n_params = sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k)
    assert n_params == 25_557_032  # torchvision's resnet50 parameter count


def test_pytorch_resnet50_uses_stride_on_3x3():
    import torch

    from py_impls.pytorch import _ResNet50

    block = _ResNet50().layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    with torch.no_grad():
        assert _ResNet50().eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)
