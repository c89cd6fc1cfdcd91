"""Rows for the Slurm tests (HARNESS_PLUGINS=tests.fake_slurm): one ready only inside a Slurm job,
as a framework installed on the compute nodes but not on the login machine would be, and one
whose run takes a few seconds, long enough to stop or kill its submitter while its job runs."""

from __future__ import annotations

import os
import time

from harness.registry import Row
from tests.fake_impls import ZeroFeatures

SLOW_S = 4


def _inside_a_job() -> str | None:
    return None if os.environ.get("SLURM_JOB_ID") else "installed on the compute nodes only"


class SlowToBuild(ZeroFeatures):
    def build(self, config, weights, seed: int) -> None:
        time.sleep(SLOW_S)
        super().build(config, weights, seed)


ROWS = [Row(name="fake-node-only", framework="NumPy", language="python",
            entry_points={"inference": "tests.fake_impls:ZeroFeatures"},
            description="test double: ready on a Slurm node, not on the login machine",
            readiness_check=_inside_a_job),
        Row(name="fake-slow", framework="NumPy", language="python",
            entry_points={"inference": "tests.fake_slurm:SlowToBuild"},
            description=f"test double: its model takes {SLOW_S} s to build")]
