"""PyTorch implementations with one deliberate porting mistake each, for tests/test_verify.py:
the kind of difference `verify` exists to find."""

from __future__ import annotations

import torch
from torch import nn

from py_impls.pytorch import CNN, RNN, ResNet50Features, Transformer


class _FlattenHWC(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)  # NHWC order, as a careless Keras port


class FlattenHWC(CNN):
    """Flattens in H,W,C order but loads fc1's canonical (C,H,W-ordered) weights unchanged."""

    def build(self, config, seed):
        super().build(config, seed)
        self.model.flatten = _FlattenHWC()


class SGDWithDampening(CNN):
    """Momentum with dampening (v <- 0.9 v + 0.5 g): invisible in step 1, where PyTorch
    stores the raw gradient, visible from step 2."""

    def build(self, config, seed):
        super().build(config, seed)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr,
                                         momentum=config.momentum, dampening=0.5)


class _ResetBeforeGRU(nn.Module):
    """The original GRU paper's formulation: reset applied to h BEFORE the recurrent matmul,
    n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), with nn.GRU's parameter names."""

    def __init__(self, gru: nn.GRU) -> None:
        super().__init__()
        for name, value in gru.named_parameters():
            setattr(self, name, nn.Parameter(value.detach().clone()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.weight_hh_l0.shape[1]
        w_hr, w_hz, w_hn = self.weight_hh_l0.split(hidden)
        b_hr, b_hz, b_hn = self.bias_hh_l0.split(hidden)
        gates_x = x @ self.weight_ih_l0.T + self.bias_ih_l0
        h = x.new_zeros(x.shape[0], hidden)
        outputs = []
        for t in range(x.shape[1]):
            i_r, i_z, i_n = gates_x[:, t].split(hidden, dim=1)
            r = torch.sigmoid(i_r + h @ w_hr.T + b_hr)
            z = torch.sigmoid(i_z + h @ w_hz.T + b_hz)
            n = torch.tanh(i_n + (r * h) @ w_hn.T + b_hn)
            h = (1 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs, dim=1), h[None]


class ResetBeforeGRU(RNN):
    def build(self, config, seed):
        super().build(config, seed)
        self.model.gru = _ResetBeforeGRU(self.model.gru)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr,
                                          betas=(config.beta1, config.beta2), eps=config.eps)


class BatchNormEps1e3(ResNet50Features):
    """Batch-norm epsilon 1e-3 (Keras' default) instead of torchvision's 1e-5."""

    def build(self, config, weights, seed):
        super().build(config, weights, seed)
        for module in self.model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eps = 1e-3


class LayerNormEps1e3(Transformer):
    """LayerNorm epsilon 1e-3 (Keras' default) instead of the contract's 1e-5."""

    def build(self, config, seed):
        super().build(config, seed)
        for module in self.model.modules():
            if isinstance(module, nn.LayerNorm):
                module.eps = 1e-3


class TanhGelu(Transformer):
    """The tanh approximation of GELU (JAX's and Flux's default `gelu`) instead of the exact one."""

    def build(self, config, seed):
        super().build(config, seed)
        for block in self.model.blocks:
            block.mlp.gelu = nn.GELU(approximate="tanh")


class ClaimsBf16(CNN):
    """Asked for bf16-mixed, computes in fp32 and says bf16: only the size of its deviation from
    the float64 oracle gives it away."""

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=False)

    def info(self):
        run = super().info()
        run.precision = "bf16-mixed (claimed)"
        return run
