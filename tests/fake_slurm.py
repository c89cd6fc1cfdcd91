"""A row for the Slurm tests (HARNESS_PLUGINS=tests.fake_slurm): ready only inside a Slurm job,
as a framework installed on the compute nodes but not on the login machine would be."""

from __future__ import annotations

import os

from harness.registry import Row


def _inside_a_job() -> str | None:
    return None if os.environ.get("SLURM_JOB_ID") else "installed on the compute nodes only"


ROWS = [Row(name="fake-node-only", framework="NumPy", language="python",
            entry_points={"inference": "tests.fake_impls:ZeroFeatures"},
            description="test double: ready on a Slurm node, not on the login machine",
            readiness_check=_inside_a_job)]
