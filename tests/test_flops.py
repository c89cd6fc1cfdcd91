"""The work per sample of each benchmark (harness/flops.py, docs/benchmarks.md §11) against an
independent counter: PyTorch's `FlopCounterMode`, run on the PyTorch row's own models.

Convention differences that remain, and why the training step is allowed 1% less: the counter
sees only what PyTorch computes, and PyTorch skips the input gradient of the first layer (the
CNN's conv1: 2 x 1,382,400 FLOPs of 373,585,920) and of the GRU's input product from the
embedding side; our convention counts every layer's three products. The Transformer is counted
with PyTorch's math attention (its batched products are then visible to the counter; the CPU's
fused flash kernel is not), and matches to the operation: every product of it has an input
gradient some parameter needs."""

from __future__ import annotations

import pytest

from harness import benchmarks

torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install -e '.[torch]'")
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from py_impls import pytorch  # noqa: E402
from tests.helpers import pytorch_class  # noqa: E402


def counted(step) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def training_model(benchmark: str):
    impl = pytorch_class(benchmark)(device="cpu")
    impl.build(benchmarks.get(benchmark).config, seed=0)
    return impl.model


def one_sample(benchmark: str):
    config = benchmarks.get(benchmark).config
    if benchmark == "cnn":
        return torch.rand(1, config.channels, config.height, config.width)
    return torch.randint(0, config.vocab_size, (1, config.seq_len))


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", [b for b in benchmarks.names() if benchmarks.get(b).training])
def test_training_benchmarks_count_what_pytorch_counts(benchmark):
    model, x = training_model(benchmark), one_sample(benchmark)
    flops = benchmarks.get(benchmark).flops
    model.eval()
    with sdpa_kernel(SDPBackend.MATH), torch.no_grad():
        assert counted(lambda: model(x)) == flops.forward  # to the operation
    model.train()
    with sdpa_kernel(SDPBackend.MATH):
        step = counted(lambda: model(x).sum().backward())
    assert 0.99 * flops.train_step <= step <= flops.train_step, (step, flops.train_step)


def test_resnet50_counts_what_pytorch_counts():
    model, _ = pytorch.resnet50()
    model.fc = torch.nn.Identity()
    model.eval()
    with torch.no_grad():
        forward = counted(lambda: model(torch.rand(1, 3, 224, 224)))
    assert forward == benchmarks.get("inference").flops.forward
