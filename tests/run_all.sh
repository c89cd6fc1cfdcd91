#!/usr/bin/env bash
# Every test, from a fresh clone: install the project with CI's pinned versions, make the isolated
# environments of the retired frameworks, then ruff and the whole pytest suite in CI mode (a skip
# whose reason is not on tests/allowed_skips.txt fails the run). The suite's contract test runs
# `verify --strict` for every ready row and fails on its exit code or on a lost verify hook.
# CI runs exactly this (.ci/run, through the README's ci:test-commands block).
#
#   bash tests/run_all.sh            # into the active virtual environment, else into ./.venv
#   VENV=DIR bash tests/run_all.sh   # a virtual environment of your choice (made if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${VENV:-}" ] || [ -z "${VIRTUAL_ENV:-}" ]; then
    venv="${VENV:-.venv}"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    # shellcheck disable=SC1091
    . "$venv/bin/activate"
    python -m pip install --quiet --upgrade pip
fi
echo "installing into $(command -v python)"

# The versions CI tests; PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu finds the CPU
# torch wheel the constraints pin where it is not in pip's cache.
python -m pip install -c constraints/ci-cpu.txt -e ".[all,mlx,tinygrad,test]"
python -m harness setup mxnet
python -m harness setup chainer
ruff check .
python -m pytest -q -rfEs --durations=15 --fail-on-skip "$@"
