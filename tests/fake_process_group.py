"""A fake row whose child starts a grandchild and then hangs (HARNESS_PLUGINS=
tests.fake_process_group): stopping the run must end the child's whole process group, not the
child alone."""

from __future__ import annotations

import subprocess
import time

import numpy as np

from harness.registry import Row
from tests.fake_impls import ZeroFeatures


class HangsWithGrandchild(ZeroFeatures):
    def build(self, config, weights, seed: int) -> None:
        super().build(config, weights, seed)
        self.grandchild = subprocess.Popen(["sleep", "3600"])  # joins the child's group

    def extract(self, start: int, stop: int) -> np.ndarray:
        time.sleep(3600)
        raise AssertionError("unreachable")


ROWS = [Row(name="fake-hangs-family", framework="NumPy", language="python",
            entry_points={"inference": "tests.fake_process_group:HangsWithGrandchild"},
            description="test double: a hanging child with a grandchild")]
