"""Fake rows about the child processes (HARNESS_PLUGINS=tests.fake_process_group): one whose child
starts a grandchild and then hangs (stopping the run must end the child's whole process group,
not the child alone), the same ignoring SIGTERM (only the SIGKILL after the grace ends it), and
one that reports its process id in its record (each repeat is a fresh process)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np

from harness.interface import RunInfo
from harness.registry import Row
from tests.fake_impls import ZeroFeatures


class HangsWithGrandchild(ZeroFeatures):
    def build(self, config, weights, seed: int) -> None:
        super().build(config, weights, seed)
        self.grandchild = subprocess.Popen(["sleep", "3600"])  # joins the child's group

    def extract(self, start: int, stop: int) -> np.ndarray:
        time.sleep(3600)
        raise AssertionError("unreachable")


class IgnoresSigtermWithGrandchild(HangsWithGrandchild):
    def build(self, config, weights, seed: int) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the grandchild inherits it
        super().build(config, weights, seed)


class ReportsItsProcess(ZeroFeatures):
    def info(self) -> RunInfo:
        run = super().info()
        run.extra["pid"] = os.getpid()  # lands in the record's env.framework_extra
        return run


ROWS = [Row(name="fake-hangs-family", framework="NumPy", language="python",
            entry_points={"inference": "tests.fake_process_group:HangsWithGrandchild"},
            description="test double: a hanging child with a grandchild"),
        Row(name="fake-hangs-deaf", framework="NumPy", language="python",
            entry_points={"inference": "tests.fake_process_group:IgnoresSigtermWithGrandchild"},
            description="test double: a hanging child with a grandchild, both deaf to SIGTERM"),
        Row(name="fake-pid", framework="NumPy", language="python",
            entry_points={"inference": "tests.fake_process_group:ReportsItsProcess"},
            description="test double: reports its process id")]
