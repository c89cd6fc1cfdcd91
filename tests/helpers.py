"""Helpers shared by the test modules: importing a framework (skip only when it is not installed),
the `data` and `show` command lines, chance levels, random batch-norm statistics, and a machine
without Julia."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.metadata
import io
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from harness import benchmarks


def framework(module: str, distribution: str, install: str) -> ModuleType:
    """Import `module`, skipping the caller (test or module) only when the `distribution` that
    provides it is not installed. An installed but broken package is an import error, not a
    skip, so it cannot vanish from a green run (pytest.importorskip skips both)."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{distribution} is not installed: {install}", allow_module_level=True)
    return importlib.import_module(module)


def torch() -> ModuleType:
    """PyTorch (the reference several tests compare with), or a skip when it is not installed."""
    return framework("torch", "torch", "pip install -e '.[torch]'")


def run_data_cli(*argv: str) -> int:
    """`python -m harness data ARGV` in this process; the exit code."""
    from harness.commands import data as commands

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.func(args)


MARGIN = 0.15  # above chance that a training run must reach after one quick epoch on synthetic data


def chance(benchmark: str) -> float:
    """The accuracy of guessing: one over the number of classes."""
    return 1.0 / benchmarks.get(benchmark).config.n_classes


def random_batch_norm_statistics(model: Any, seed: int = 0) -> None:
    """Give every BatchNorm2d of a torch `model` running statistics and affine parameters that
    are not 0 and 1 (as a trained network has), so that loading them is exercised."""
    torch_module = torch()
    rng = np.random.default_rng(seed)
    with torch_module.no_grad():
        for module in model.modules():
            if isinstance(module, torch_module.nn.BatchNorm2d):
                n = module.num_features
                for tensor, values in ((module.running_mean, rng.normal(0, 0.1, n)),
                                       (module.running_var, rng.uniform(0.5, 1.5, n)),
                                       (module.weight, rng.uniform(0.5, 1.5, n)),
                                       (module.bias, rng.normal(0, 0.1, n))):
                    tensor.copy_(torch_module.from_numpy(values))


def without_julia(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bin_dir: Path) -> None:
    """A machine with no julia: PATH holds only `bin_dir` (the test may put stand-ins there), no
    variable names a julia or the bridge, and both flavors' environments are empty folders in
    `tmp_path` (so a real Manifest.toml never leaks in)."""
    from harness.julia import readiness as jr

    monkeypatch.setenv("PATH", str(bin_dir))
    for variable in ("HARNESS_JULIA", "HARNESS_JULIA_KNET", "HARNESS_JULIA_FLUX",
                     "PYTHON_JULIACALL_EXE", "PYTHON_JULIAPKG_EXE", jr.BRIDGE_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    for name, flavor in list(jr.FLAVORS.items()):
        project = tmp_path / f"env-{name}"
        project.mkdir()
        monkeypatch.setitem(jr.FLAVORS, name, dataclasses.replace(flavor, project=project))
    jr._version_output.cache_clear()


def run_show(*argv: str, width: int = 220) -> tuple[int, str]:
    """`python -m harness show ARGV` in-process: (exit code, plain text at `width` columns)."""
    from harness.commands import show

    parser = argparse.ArgumentParser()
    show.register(parser.add_subparsers())
    args = parser.parse_args(["show", *argv])
    console = Console(record=True, width=width, color_system=None, file=io.StringIO())
    code = show.cmd_show(args, console=console)
    return code, console.export_text()


def pytorch_class(benchmark: str) -> type:
    """The PyTorch row's class for a benchmark, found through the registry as the worker finds
    it (for tests that use PyTorch's models as a reference)."""
    from harness import registry

    module, _, name = registry.by_name("pytorch").entry_points[benchmark].partition(":")
    return getattr(importlib.import_module(module), name)
