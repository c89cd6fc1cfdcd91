"""harness.nvidia: the one place `nvidia-smi` is asked, with stand-in binaries for the drivers
it meets - current ones, those before R510 without `compute_cap`, and one that only lists."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness import nvidia, registry
from harness.run import host

pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="a stand-in nvidia-smi is a shell script")

CURRENT = """#!/bin/sh
case "$*" in
  *compute_cap*) printf 'GPU-a1, NVIDIA H200, 570.86, 9.0\\nGPU-b2, Tesla V100, SXM2, 570.86, 7.0\\n' ;;
  *) exit 9 ;;
esac
"""
BEFORE_R510 = """#!/bin/sh
case "$*" in
  *compute_cap*) echo 'Field "compute_cap" is not a valid field to query.'; exit 2 ;;
  *driver_version*) echo 'GPU-c3, Tesla K80, 470.82'; exit 0 ;;
  *) exit 9 ;;
esac
"""
ONLY_LISTS = """#!/bin/sh
case "$*" in
  *-L*) echo 'GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-d4)' ;;
  *) exit 6 ;;
esac
"""


@pytest.fixture
def smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def install(script: str | None) -> None:
        folder = tmp_path / ("bin" if script else "empty")
        folder.mkdir(exist_ok=True)
        if script is not None:
            path = folder / "nvidia-smi"
            path.write_text(script)
            path.chmod(0o755)
        monkeypatch.setenv("PATH", str(folder))
    return install


def test_a_current_driver_gives_name_driver_and_capability(smi) -> None:
    smi(CURRENT)
    assert nvidia.gpus() == [nvidia.GPU("GPU-a1", "NVIDIA H200", "570.86", (9, 0)),
                             nvidia.GPU("GPU-b2", "Tesla V100, SXM2", "570.86", (7, 0))]
    assert registry.gpu_present()
    assert host.nvidia_driver() == {"gpu": "NVIDIA H200", "gpu_driver": "570.86"}


def test_a_driver_without_compute_cap_still_gives_its_gpus(smi) -> None:
    smi(BEFORE_R510)
    assert nvidia.gpus() == [nvidia.GPU("GPU-c3", "Tesla K80", "470.82", None)]
    assert registry.gpu_present()
    from harness.julia import device

    assert device.gpu_capabilities() == []  # Knet's rule needs the capability: not applied


def test_a_driver_that_only_lists_its_gpus(smi) -> None:
    smi(ONLY_LISTS)
    assert nvidia.gpus() == [nvidia.GPU("GPU-d4", "NVIDIA A100-SXM4-80GB", None, None)]
    assert host.nvidia_driver() == {"gpu": "NVIDIA A100-SXM4-80GB", "gpu_driver": None}


def test_no_nvidia_smi_no_gpu(smi) -> None:
    smi(None)
    assert nvidia.gpus() == [] and not registry.gpu_present()
    assert host.nvidia_driver() == {"gpu": None, "gpu_driver": None}
