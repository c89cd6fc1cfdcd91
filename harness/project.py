"""Where this checkout of the project lives: the folder that holds harness/, py_impls/,
julia_impls/, constraints/ and, by default, datasets/, envs/ and results/. Child processes
start there and find the implementations through it."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
