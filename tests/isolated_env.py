"""Helpers for tests of rows that run in an isolated environment (harness.run.envs): skip with the
reason and the fix when the environment is missing, run a row through the harness, and run a
snippet in the environment's interpreter with NumPy arrays in and out."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from harness.run import envs

REPO = Path(__file__).resolve().parent.parent


def require_environment(name: str) -> None:
    """Skip the calling test (module) unless environment `name` is ready."""
    problem = envs.environment_problem(name)
    if problem:
        pytest.skip(f"{problem}; fix: {envs.setup_command(name)}", allow_module_level=True)


def run_in_environment(name: str, code: str, arrays: dict[str, np.ndarray], tmp: Path,
                       timeout: float = 600) -> dict[str, np.ndarray]:
    """Run `code` in environment `name`'s interpreter with `inputs` (a dict of the arrays) in
    scope; it fills the dict `outputs`, which comes back."""
    inputs, outputs = tmp / f"{name}-in.npz", tmp / f"{name}-out.npz"
    np.savez(inputs, **arrays)
    script = (f"import numpy as np\ninputs = dict(np.load({str(inputs)!r}))\noutputs = {{}}\n"
              f"{textwrap.dedent(code)}\nnp.savez({str(outputs)!r}, **outputs)\n")
    done = subprocess.run([str(envs.interpreter(name)), "-c", script], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(np.load(outputs))


def torch_training_reference(benchmark: str, x: np.ndarray, y: np.ndarray,
                             steps: int = 2) -> dict[str, np.ndarray]:
    """The PyTorch row on (x, y): initial weights, logits, then the weights after each of
    `steps` optimizer steps on the whole batch with dropout off (the reference for another
    framework's loading of canonical weights, its forward pass and its optimizer)."""
    from tests.helpers import torch as import_torch

    torch = import_torch()  # the reference; a broken install is an error, not a skip
    from harness.benchmarks import get
    from harness.interface import TrainingData
    from py_impls import pytorch

    impl = {"cnn": pytorch.CNN, "rnn": pytorch.RNN}[benchmark](device="cpu")
    impl.prepare(TrainingData(x, y, x, y))
    impl.build(get(benchmark).config, seed=1)
    with torch.no_grad():  # the contract starts the CNN's biases at zero: non-zero ones here,
        rng = np.random.default_rng(2)  # so that a port that drops them on loading is caught
        for name, value in impl.model.named_parameters():
            if name.endswith("bias"):
                value.copy_(torch.from_numpy(rng.uniform(-0.1, 0.1, value.shape)))
    out = {f"w0/{k}": v for k, v in impl.get_weights().items()}
    assert all(np.abs(v).min() > 0 for k, v in out.items() if k.endswith("bias")), "zero bias"
    out["logits"] = impl.predict()
    impl.model.eval()  # dropout off, as verify_step
    for step in range(1, steps + 1):
        impl.optimizer.zero_grad()
        loss = impl.loss_fn(impl.model(impl.x_train), impl.y_train)
        loss.backward()
        impl.optimizer.step()
        out[f"loss{step}"] = np.float32(loss.item())
        out.update({f"w{step}/{k}": v for k, v in impl.get_weights().items()})
    out["logits_after"] = impl.predict()
    return out


# Run in the environment: load the reference's initial weights, compare the forward pass and
# `verify_step` (which returns the loss before the step) with the reference.
TRAINING_CHECK = """
from harness.benchmarks import get
from harness.interface import TrainingData
import importlib
module, cls, benchmark = {entry!r}.split(":")[0], {entry!r}.split(":")[1], {benchmark!r}
impl = getattr(importlib.import_module(module), cls)(device="cpu")
x, y = inputs["x"], inputs["y"]
impl.prepare(TrainingData(x, y, x, y))
impl.build(get(benchmark).config, seed=0)
impl.load_weights({{k[3:]: v for k, v in inputs.items() if k.startswith("w0/")}})
outputs["logits"] = impl.predict()
for step in range(1, {steps} + 1):
    outputs[f"loss{{step}}"] = np.float32(impl.verify_step(x, y))
    outputs.update({{f"w{{step}}/{{k}}": v for k, v in impl.get_weights().items()}})
outputs["logits_after"] = impl.predict()  # sees the updated weights
"""


def compare_training(env: str, entry: str, benchmark: str, x: np.ndarray, y: np.ndarray,
                     tmp: Path, steps: int = 2, atol: float = 1e-4) -> None:
    """The row at `entry` computes what the PyTorch row computes from the same weights."""
    reference = torch_training_reference(benchmark, x, y, steps)
    got = run_in_environment(env, TRAINING_CHECK.format(entry=entry, benchmark=benchmark,
                                                        steps=steps),
                             {"x": x, "y": y, **{k: v for k, v in reference.items()
                                                 if k.startswith("w0/")}}, tmp)
    np.testing.assert_allclose(got["logits"], reference["logits"], rtol=1e-4, atol=atol)
    for step in range(1, steps + 1):
        np.testing.assert_allclose(got[f"loss{step}"], reference[f"loss{step}"], rtol=1e-4)
        for key, value in reference.items():
            if key.startswith(f"w{step}/"):  # Adam: embedding rows absent from the batch too
                np.testing.assert_allclose(got[key], value, rtol=1e-3, atol=atol,
                                           err_msg=f"{key} after step {step}")
    np.testing.assert_allclose(got["logits_after"], reference["logits_after"], rtol=1e-3,
                               atol=10 * atol)
