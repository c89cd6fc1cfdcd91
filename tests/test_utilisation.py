"""The calibration, the achieved rate and the nominal peaks (harness/run/utilisation.py), with
stand-in implementations whose products take a known time."""

from __future__ import annotations

import time

import pytest

from harness import benchmarks
from harness.run import utilisation


class SleepyMatmul:
    """A 'matrix multiply' that takes `seconds` at the calibration's full size and scales as n^3
    (as a real product does), so the measured rate is known."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.calls, self.sizes = seconds, 0, []

    def sync(self) -> None:
        pass

    def matmul(self, n: int):
        self.sizes.append(n)

        def multiply() -> None:
            self.calls += 1
            time.sleep(self.seconds * (n / utilisation.CALIBRATION_SIZE["cpu"]) ** 3)
        return multiply


@pytest.mark.slow
def test_calibration_times_the_rows_own_product_after_a_warm_up():
    impl = SleepyMatmul(0.02)
    result = utilisation.calibrate(impl, "cpu")
    n = utilisation.CALIBRATION_SIZE["cpu"]
    assert result["size"] == n and result["products"] >= utilisation.MIN_PRODUCTS
    # the probe at a quarter size (a warm-up and one timed), then one warm-up at the full size
    assert impl.sizes == [n // 4, n] and impl.calls == result["products"] + 3
    assert 0.02 <= result["best_s"] < 0.05
    assert result["flops_per_s"] == pytest.approx(2 * n ** 3 / result["best_s"])
    assert result["seconds"] >= result["products"] * 0.02


@pytest.mark.slow
def test_a_product_the_hardware_only_emulates_is_calibrated_smaller_not_for_minutes():
    """bf16 on a CPU without bf16 instructions took a minute a 2048 product (4 minutes a
    calibration): the probe picks the largest size that fits the budget."""
    impl = SleepyMatmul(3.0)  # at 2048; 0.05 s at 512, 0.375 s at 1024
    result = utilisation.calibrate(impl, "cpu")
    assert result["size"] == utilisation.CALIBRATION_SIZE["cpu"] // 4
    assert impl.sizes == [result["size"]] and result["products"] >= utilisation.MIN_PRODUCTS
    assert result["seconds"] < 2.0


def test_a_row_without_a_calibration_or_with_a_broken_one_says_why():
    class NoMatmul:
        def sync(self) -> None:
            pass

        def matmul(self, n: int):
            raise NotImplementedError("NoMatmul has no matmul calibration")

    class Broken(SleepyMatmul):
        def matmul(self, n: int):
            raise RuntimeError("out of device memory")

    assert utilisation.calibrate(NoMatmul(), "cpu") == {
        "flops_per_s": None, "reason": "not measured: NoMatmul has no matmul calibration"}
    assert utilisation.calibrate(Broken(0), "cuda")["reason"] == \
        "failed: RuntimeError: out of device memory"


def test_achieved_rate_is_work_per_sample_times_steady_throughput():
    cnn, inference = benchmarks.get("cnn"), benchmarks.get("inference")
    assert utilisation.achieved(cnn, {"samples_per_s": 100.0}) == 100 * cnn.flops.train_step
    assert utilisation.achieved(inference, {"images_per_s": 10.0}) == 10 * inference.flops.forward
    assert utilisation.achieved(cnn, {"samples_per_s": None}) is None


@pytest.mark.parametrize("device,precision,expected", [
    ("NVIDIA H100 80GB HBM3", "tf32-where-allowed (JAX default precision)", ("tf32", 494.7e12)),
    ("NVIDIA H200", "fp32 (PyTorch default: cuDNN conv TF32=True, matmul TF32=False)",
     ("fp32", 67e12)),
    ("Tesla P100-PCIE-16GB", "fp32", ("fp32", 10.6e12)),
    # a strict run says how it switched TF32 off, in words that name TF32
    ("NVIDIA H100 80GB HBM3", "fp32-strict (NVIDIA_TF32_OVERRIDE=0: no TF32 in cuBLAS or cuDNN)",
     ("fp32", 67e12)),
    ("NVIDIA A100-SXM4-40GB", "bf16-mixed", ("bf16", 312e12)),
    ("cpu", "fp32", None),
    ("Tesla P100-PCIE-16GB", "bf16-mixed", None),  # no bf16 on a P100: no figure, not a wrong one
])
def test_nominal_peaks_follow_the_device_and_the_precision_in_effect(device, precision, expected):
    assert utilisation.nominal_peak(device, precision) == expected


def test_host_memory_high_water_mark_is_the_processes():
    before = utilisation.host_peak_bytes()
    block = bytearray(64 * 2**20)  # touch 64 MiB
    block[::4096] = b"x" * len(block[::4096])
    assert utilisation.host_peak_bytes() >= before
    assert utilisation.host_peak_bytes() > 64 * 2**20


@pytest.mark.slow
def test_a_calibration_of_the_same_row_device_and_precision_is_reused_not_remeasured():
    cnn = benchmarks.get("cnn")
    first = {"device": "cpu", "precision": "fp32", "timings": {"samples_per_s": 100.0}}
    impl = SleepyMatmul(0.01)
    utilisation.measure(impl, cnn, first)
    measured = first["utilisation"]["calibration"]
    assert measured["reused"] is False and impl.calls > 0
    calls = impl.calls
    again = {"device": "cpu", "precision": "fp32", "timings": {"samples_per_s": 100.0}}
    utilisation.measure(impl, cnn, again, reuse=measured)
    assert impl.calls == calls  # breakage caught: recalibrating every run (1.1-1.4 s each)
    assert again["utilisation"]["calibration"]["reused"] is True
    assert again["utilisation"]["pct_of_measured_peak"] == \
        first["utilisation"]["pct_of_measured_peak"]
    other = {"device": "cpu", "precision": "bf16", "timings": {"samples_per_s": 100.0}}
    utilisation.measure(impl, cnn, other, reuse=measured)  # another precision: measured anew
    assert impl.calls > calls and other["utilisation"]["calibration"]["reused"] is False
