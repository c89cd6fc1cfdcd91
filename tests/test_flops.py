"""The work per sample of each benchmark (harness/flops.py, docs/benchmarks.md §11) against an
independent counter: PyTorch's `FlopCounterMode`, run on the PyTorch row's own models.

Convention differences that remain, and why the training step is allowed 1% less: the counter
sees only what PyTorch computes, and PyTorch skips the input gradient of the first layer (the
CNN's conv1: 2 x 1,382,400 FLOPs of 373,585,920) and of the GRU's input product from the
embedding side; our convention counts every layer's three products."""

from __future__ import annotations

import pytest

from harness import benchmarks
from harness.config import CNNConfig, RNNConfig

torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install -e '.[torch]'")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from py_impls import pytorch  # noqa: E402


def counted(step) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def training_model(benchmark: str):
    impl = {"cnn": pytorch.CNN, "rnn": pytorch.RNN}[benchmark](device="cpu")
    impl.build({"cnn": CNNConfig(), "rnn": RNNConfig()}[benchmark], seed=0)
    return impl.model


def one_sample(benchmark: str):
    if benchmark == "cnn":
        return torch.rand(1, 3, 32, 32)
    return torch.randint(0, RNNConfig().vocab_size, (1, RNNConfig().seq_len))


@pytest.mark.parametrize("benchmark", ["cnn", "rnn"])
def test_training_benchmarks_count_what_pytorch_counts(benchmark):
    model, x = training_model(benchmark), one_sample(benchmark)
    flops = benchmarks.get(benchmark).flops
    model.eval()
    with torch.no_grad():
        assert counted(lambda: model(x)) == flops.forward  # to the operation
    model.train()
    step = counted(lambda: model(x).sum().backward())
    assert 0.99 * flops.train_step <= step <= flops.train_step, (step, flops.train_step)


def test_resnet50_counts_what_pytorch_counts():
    model, _ = pytorch.resnet50()
    model.fc = torch.nn.Identity()
    model.eval()
    with torch.no_grad():
        forward = counted(lambda: model(torch.rand(1, 3, 224, 224)))
    assert forward == benchmarks.get("inference").flops.forward
